/**
 * One GET against the Kubernetes API through a kubeconfig (its certificates and exec plugins
 * included), for the dynamic providers that watch what others apply (the Flux sync, a rollout).
 * Plain module: @kubernetes/client-node is required at call time, as dynamic providers need.
 */
import * as https from "node:https";

export interface ApiTarget {
  kubeconfig: string;
  /** Empty: the kubeconfig's current context. */
  context: string;
}

/** A reader of API paths: the object as JSON, or a sentence saying why it could not be read. */
export type ApiGet = <T>(path: string) => Promise<T | string>;

export function apiReader(t: ApiTarget): ApiGet {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(t.kubeconfig);
  if (t.context) kc.setCurrentContext(t.context);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`kubeconfig ${t.kubeconfig}: no cluster for context ${t.context || "(current)"}`);
  return async <T>(p: string): Promise<T | string> => {
    const opts: https.RequestOptions = { timeout: 10_000 };
    await kc.applyToHTTPSOptions(opts);
    return new Promise((resolve) => {
      const req = https.get(`${server}${p}`, opts, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => {
          if (res.statusCode === 200) resolve(JSON.parse(body) as T);
          else resolve(`HTTP ${res.statusCode} reading ${p}${res.statusCode === 404 ? " (not created yet)" : ""}`);
        });
      });
      req.on("timeout", () => req.destroy(new Error("no answer in 10 s")));
      req.on("error", (e) => resolve(`${p}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
  };
}
