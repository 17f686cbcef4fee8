/**
 * The embedded cluster's API as its admin (the folder's admin certificate): GET and merge-PATCH,
 * for the commands that drive the simulated cluster (load, settle). Plain Node.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";

export interface AdminApi {
  get<T>(p: string): Promise<T>;
  /** GET that answers undefined on 404. */
  find<T>(p: string): Promise<T | undefined>;
  patch(p: string, body: unknown, type?: "merge" | "strategic"): Promise<void>;
  post(p: string, body: unknown): Promise<{ status: number; body: string }>;
}

export function adminApi(dir: string): AdminApi {
  const ports = JSON.parse(fs.readFileSync(path.join(dir, "ports.json"), "utf8")) as { apiserver: number };
  const pki = path.join(dir, "pki");
  const tls = {
    ca: fs.readFileSync(path.join(pki, "ca.crt")),
    cert: fs.readFileSync(path.join(pki, "admin.crt")),
    key: fs.readFileSync(path.join(pki, "admin.key")),
  };
  const call = (method: string, p: string, body?: unknown, type = "application/json") =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        `https://127.0.0.1:${ports.apiserver}${p}`,
        { method, ...tls, timeout: 10_000, headers: body === undefined ? {} : { "content-type": type } },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer in 10 s to ${method} ${p}`)));
      req.on("error", (e) => reject(new Error(`${method} ${p}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const ok = (r: { status: number; body: string }, what: string) => {
    if (r.status < 200 || r.status > 299) throw new Error(`${what}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    return r;
  };
  return {
    async get<T>(p: string) {
      return JSON.parse(ok(await call("GET", p), `GET ${p}`).body) as T;
    },
    async find<T>(p: string) {
      const r = await call("GET", p);
      return r.status === 404 ? undefined : (JSON.parse(ok(r, `GET ${p}`).body) as T);
    },
    async patch(p, body, type = "merge") {
      ok(
        await call(
          "PATCH",
          p,
          body,
          type === "merge" ? "application/merge-patch+json" : "application/strategic-merge-patch+json",
        ),
        `PATCH ${p}`,
      );
    },
    post: (p, body) => call("POST", p, body),
  };
}

export interface PodLite {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: { nodeName?: string };
  status: { phase?: string; conditions?: { type: string; status: string }[] };
}

export const podReady = (p: PodLite) =>
  !p.metadata.deletionTimestamp &&
  p.status.phase === "Running" &&
  (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
