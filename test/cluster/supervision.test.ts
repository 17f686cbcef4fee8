/**
 * A process of the embedded cluster dies (SIGKILL, as the OOM killer or a crash would): what waits on
 * the cluster fails within seconds naming it, `npm run cluster -- up` restarts it and what depends on
 * it, and nothing stored is lost. Each of etcd, kube-apiserver, kube-scheduler and kwok is killed in
 * turn during a Flux wait and during a load run, on one alive cluster (no Flux) for the whole file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { platformSchema } from "../../components/config/schema";
import { waitForSync } from "../../components/gitops/sync";
import {
  ALIVE_TOOLS,
  CONTROL_PLANE,
  FLUX_TOOLS,
  runningPid,
  status,
  type Tool,
  up,
} from "../../scripts/cluster/controlplane";
import { runLoad } from "../../scripts/cluster/load";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import { tempDir } from "../helpers/tools";

let cluster: TestCluster;
/** Kill-to-failure seconds, and how long each heal and its proof pod took: printed at the end, for the record. */
const measured: Record<string, number> = {};
const healing: Record<string, string> = {};
/** Objects made along the way, with the UID each had when made: every heal must keep all of them. */
const stored = new Map<string, string>();

const KILLED = ["etcd", "kube-apiserver", "kube-scheduler", "kwok"] as const satisfies readonly Tool[];
/** What this file's cluster runs (alive, without Flux). */
const RUNNING: Tool[] = [...CONTROL_PLANE, ...ALIVE_TOOLS];
const NS = "supervisao";
const APP = "eco";
/** Never pulled: kwok runs no container. */
const IMAGE = `registry.cartorio.example/eco@sha256:${"a".repeat(64)}`;
/** The most a failure may take after the kill (the rule says seconds; the machine is shared). */
const FAIL_WITHIN_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
    await sleep(100);
  }
}

function uidOf(kind: string, name: string, ns = NS): string {
  return cluster.kubectlOk(["get", kind, name, "-n", ns, "-o", "jsonpath={.metadata.uid}"]).trim();
}

/** Creates a ConfigMap and remembers its UID, to check after every heal that etcd's data survived. */
function store(name: string): void {
  cluster.kubectlOk(["create", "configmap", name, "-n", NS, `--from-literal=made=before-${name}`]);
  const uid = uidOf("configmap", name);
  expect(uid).toMatch(/^[0-9a-f-]{36}$/);
  stored.set(`configmap/${name}`, uid);
}

function expectStoredKept(): void {
  for (const [ref, uid] of stored) {
    const [kind, name] = ref.split("/");
    expect(uidOf(kind, name), ref).toBe(uid);
  }
}

/** SIGKILLs the tool's process and waits until it is gone (not even a zombie); returns when it was killed. */
async function kill(tool: Tool): Promise<{ pid: number; at: number }> {
  const pid = runningPid(cluster.dir, tool);
  expect(pid, `${tool} runs before the kill`).toBeGreaterThan(1);
  process.kill(pid!, "SIGKILL");
  const at = Date.now();
  await until(() => runningPid(cluster.dir, tool) === undefined, `${tool} (pid ${pid}) to die`, 10_000);
  return { pid: pid!, at };
}

/** What became of a promise that must reject: whether it has, with what message, and when. */
interface Outcome {
  done: boolean;
  message?: string;
  at?: number;
}

function watch(p: Promise<unknown>): Outcome {
  const o: Outcome = { done: false };
  p.then(
    () => Object.assign(o, { done: true, message: "(it resolved)", at: Date.now() }),
    (e: unknown) =>
      Object.assign(o, { done: true, message: e instanceof Error ? e.message : String(e), at: Date.now() }),
  );
  return o;
}

/**
 * Waits (a minute at most: the wait and the run would otherwise go on for minutes) for the promise to
 * fail after a kill at `killedAt`; returns its message and the seconds from the kill.
 */
async function failure(o: Outcome, killedAt: number): Promise<{ message: string; seconds: number }> {
  await until(() => o.done, "the failure", 60_000).catch(() => undefined);
  expect(o.done, "it failed within a minute of the kill").toBe(true);
  return { message: o.message!, seconds: (o.at! - killedAt) / 1000 };
}

/** npm run cluster -- up, as after a crash (same options as the file's cluster); returns its log lines. */
async function heal(what?: string): Promise<string[]> {
  const lines: string[] = [];
  const t0 = Date.now();
  await up({
    dir: cluster.dir,
    toolsBin: cluster.toolsBin,
    unsafeNoFsync: true,
    flux: false,
    log: (l) => lines.push(l),
  });
  if (what) healing[what] = `up ${((Date.now() - t0) / 1000).toFixed(1)}`;
  return lines;
}

/** Heals what an earlier failed case left dead, so that one failure does not fail the cases after it. */
async function allRunning(): Promise<void> {
  if (RUNNING.some((t) => runningPid(cluster.dir, t) === undefined)) await heal();
}

/** Every process of the cluster runs and answers its health check; none is reported dead; Flux was never started. */
async function expectHealthy(): Promise<void> {
  const s = await status({ dir: cluster.dir });
  expect(s.ready).toBe(true);
  for (const c of s.components) {
    expect({ tool: c.tool, died: c.died }).toEqual({ tool: c.tool, died: false });
    if ((FLUX_TOOLS as readonly string[]).includes(c.tool)) expect(c.pid, c.tool).toBeUndefined();
    // Whatever else up starts (beyond this file's list) must be healthy too.
    if (RUNNING.includes(c.tool) || c.pid !== undefined) {
      expect({ tool: c.tool, health: c.health }).toEqual({ tool: c.tool, health: "ok" });
      expect(c.pid, c.tool).toBeGreaterThan(1);
    }
  }
  expect(RUNNING.filter((t) => runningPid(cluster.dir, t) === undefined)).toEqual([]);
}

/**
 * The healed cluster does work, not only answer health checks: a new pod is scheduled (kube-scheduler)
 * onto a simulated node and goes Ready (kwok), as it would not with either of them still down.
 */
function expectPodsRun(name: string, what?: string): void {
  const t0 = Date.now();
  cluster.kubectlOk(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: NS },
      spec: { containers: [{ name: "c", image: IMAGE, resources: { requests: { cpu: "10m", memory: "16Mi" } } }] },
    }),
  );
  cluster.kubectlOk(["wait", "-n", NS, "--for=condition=Ready", `pod/${name}`, "--timeout=120s"]);
  cluster.kubectlOk(["delete", "pod", name, "-n", NS, "--wait=false"]);
  if (what) healing[what] += `, pod Ready ${((Date.now() - t0) / 1000).toFixed(1)}`;
}

/** A Deployment with a CPU request and its HPA with a CPU target: what runLoad plays the profile against. */
const WORKLOAD = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: APP, namespace: NS },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: APP } },
      template: {
        metadata: { labels: { app: APP } },
        spec: { containers: [{ name: APP, image: IMAGE, resources: { requests: { cpu: "100m", memory: "64Mi" } } }] },
      },
    },
  },
  {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: APP, namespace: NS },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: APP },
      minReplicas: 2,
      maxReplicas: 6,
      metrics: [
        { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
      ],
      // Stated in full: the API server leaves an absent behavior absent, and the replay's prediction reads it.
      behavior: {
        scaleUp: {
          stabilizationWindowSeconds: 0,
          selectPolicy: "Max",
          policies: [
            { type: "Percent", value: 100, periodSeconds: 15 },
            { type: "Pods", value: 4, periodSeconds: 15 },
          ],
        },
        scaleDown: {
          stabilizationWindowSeconds: 300,
          selectPolicy: "Max",
          policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
        },
      },
    },
  },
];

/** Two minutes of a steady 10 rps: far longer than any case runs, so only the kill can end it early. */
const SCRIPT = `export const options = { scenarios: { c: { executor: "ramping-arrival-rate", startRate: 10, timeUnit: "1s", stages: [{ target: 10, duration: "120s" }] } } };
export default function () {}
`;

describe("a process of the embedded cluster dies", () => {
  beforeAll(async () => {
    cluster = await startTestCluster({ flux: false });
    cluster.kubectlOk(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: WORKLOAD }));
    cluster.kubectlOk(["rollout", "status", `deployment/${APP}`, "-n", NS, "--timeout=180s"]);
    stored.set(`deployment/${APP}`, uidOf("deployment", APP));
    stored.set(`horizontalpodautoscaler/${APP}`, uidOf("horizontalpodautoscaler", APP));
  }, 400_000);
  afterAll(async () => {
    console.log(
      `kill-to-failure seconds: ${Object.entries(measured)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(", ")}\nheal seconds: ${Object.entries(healing)
        .map(([k, v]) => `${k} (${v})`)
        .join(", ")}`,
    );
    await cluster?.stop();
  });

  describe.each(KILLED)("%s, killed during a Flux wait", (tool) => {
    it("ends the wait within seconds, naming it and the command that heals", async () => {
      await allRunning();
      store(`wait-${tool}`);
      // Flux is not installed: the wait can only loop until its 300 s timeout, or fail on the death.
      const wait = waitForSync({
        kubeconfig: cluster.kubeconfig,
        context: "local",
        namespace: "flux-system",
        name: "flux-system",
        timeoutSeconds: 300,
      });
      const outcome = watch(wait);
      // Well into its polling (one 2 s round at least) before the kill.
      await sleep(3_000);
      expect(outcome, "the wait was still going before the kill").toEqual({ done: false });
      const { at } = await kill(tool);
      const { message, seconds } = await failure(outcome, at);
      measured[`wait/${tool}`] = seconds;
      expect(message).toContain(`the embedded cluster's`);
      expect(message).toContain(tool);
      expect(message).toContain(path.join(cluster.dir, "logs", `${tool}.log`));
      expect(message).toContain("npm run cluster -- up");
      expect(seconds).toBeLessThan(FAIL_WITHIN_MS / 1000);

      const s = await status({ dir: cluster.dir });
      const c = s.components.find((x) => x.tool === tool)!;
      expect({ died: c.died, pid: c.pid }).toEqual({ died: true, pid: undefined });
    }, 180_000);

    it("npm run cluster -- up restarts it (and what needs it), and every stored object keeps its UID", async () => {
      const before = Object.fromEntries(RUNNING.map((t) => [t, runningPid(cluster.dir, t)]));
      expect(before[tool]).toBeUndefined();
      const lines = await heal(`wait/${tool}`);
      expect(lines).toContain(`restarting ${tool} ...`);
      expect(runningPid(cluster.dir, tool)).toBeGreaterThan(1);
      if (tool === "etcd") {
        // The API server's etcd client may not recover from a long outage: up restarts it with etcd.
        expect(lines).toContain("restarting kube-apiserver: etcd was restarted");
        expect(runningPid(cluster.dir, "kube-apiserver")).not.toBe(before["kube-apiserver"]);
      }
      await expectHealthy();
      expectStoredKept();
      expectPodsRun(`sonda-wait-${tool}`, `wait/${tool}`);
    }, 240_000);
  });

  describe.each(KILLED)("%s, killed during a load run", (tool) => {
    it("stops the run within seconds, naming it; up heals and keeps every object", async () => {
      await allRunning();
      store(`load-${tool}`);
      const script = path.join(tempDir("supervision-load"), "profile.js");
      fs.writeFileSync(script, SCRIPT);
      const cfg = platformSchema.parse({});
      cfg.workload.namespace = NS;
      cfg.workload.deployment = APP;
      const lines: string[] = [];
      const outcome = watch(runLoad({ dir: cluster.dir, script, speed: 1, cfg, log: (l) => lines.push(l) }));
      // Into the per-second loop: its first row is written, and a few rounds more.
      await until(() => outcome.done || lines.some((l) => /^\s+0s\s/.test(l)), "the load run's first row", 60_000);
      await sleep(3_000);
      expect(outcome, "the load run was still going before the kill").toEqual({ done: false });
      const { at } = await kill(tool);
      const { message, seconds } = await failure(outcome, at);
      measured[`load/${tool}`] = seconds;
      expect(message).toMatch(/^the load run stopped at \d+ s: the embedded cluster's /);
      expect(message).toContain(tool);
      expect(message).toContain("npm run cluster -- up");
      expect(seconds).toBeLessThan(FAIL_WITHIN_MS / 1000);

      const apiserver = runningPid(cluster.dir, "kube-apiserver");
      const healed = await heal(`load/${tool}`);
      expect(healed).toContain(`restarting ${tool} ...`);
      if (tool === "etcd") {
        expect(healed).toContain("restarting kube-apiserver: etcd was restarted");
        expect(runningPid(cluster.dir, "kube-apiserver")).not.toBe(apiserver);
      }
      await expectHealthy();
      expectStoredKept();
      expectPodsRun(`sonda-load-${tool}`, `load/${tool}`);
    }, 300_000);
  });

  it("down then up keeps the data: every object has the UID it had", async () => {
    store("down-up");
    await cluster.stop();
    expect(RUNNING.map((t) => runningPid(cluster.dir, t)).filter((p) => p !== undefined)).toEqual([]);
    // Stopped on purpose: nothing is reported dead.
    expect((await status({ dir: cluster.dir })).components.filter((c) => c.died)).toEqual([]);
    const lines = await heal("down-up");
    expect(lines.filter((l) => l.startsWith("restarting"))).toEqual([]);
    await expectHealthy();
    expectStoredKept();
    expect(stored.size).toBe(2 + 2 * KILLED.length + 1);
    expectPodsRun("sonda-down-up", "down-up");
  }, 300_000);
});
