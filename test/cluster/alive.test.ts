/**
 * The alive embedded cluster (scripts/cluster/alive.ts): the real scheduler and controllers acting on
 * kwok's simulated node pool, with metrics-server's numbers. What is checked is the behaviour of the
 * real components (placement, HPA decisions, disruption budgets, replacement, node-lifecycle eviction,
 * Jobs); only nodes and resource usage are simulated.
 *
 * One cluster (no Flux) for the whole file. The tests that only wait on the cluster's clocks run side by
 * side (it.concurrent, each in a namespace of its own); the node outage runs last, beside the HPA's step
 * down only, because it takes a node away from everything else.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { scalingSchema, workloadSchema, type ScalingConfig } from "../../components/config/schema";
import { LABELS } from "../../components/platform/labels";
import { HPA_SYNC_SECONDS } from "../../components/scaling/capacity";
import { hpaObject, namespaceObject, pdbObject } from "../../components/scaling/objects";
import { KWOK_NODE_ANNOTATION, nodeName, SIMULATED_LABEL, USAGE_CPU, USAGE_MEMORY } from "../../scripts/cluster/alive";
import { DEFAULT_NODE_POOL } from "../../scripts/cluster/controlplane";
import { adminApi, type AdminApi, type PodLite, podReady } from "../../scripts/cluster/kube";
import { startTestCluster, type TestCluster } from "../helpers/cluster";

let cluster: TestCluster;
let api: AdminApi;

const POOL = DEFAULT_NODE_POOL;
const NODES = Array.from({ length: POOL.nodes }, (_, i) => nodeName(i));
/** The node the outage test takes down; the HPA's pods stay off it (see hpaDeployment). */
const VICTIM = NODES[NODES.length - 1];
/** Never pulled: no container runtime runs here. */
const IMAGE = `registry.cartorio.example/cartorio/eco@sha256:${"0".repeat(64)}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- kubectl and the API, without blocking

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** kubectl as a child process that does not block the event loop: the tests below run side by side. */
function kubectl(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(path.join(cluster.toolsBin, "kubectl"), [
      `--kubeconfig=${cluster.kubeconfig}`,
      `--context=${cluster.context}`,
      ...args,
    ]);
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ status: null, stdout, stderr: stderr + String(e) });
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Creates the objects (one kubectl call, as a List). */
async function create(...objects: object[]): Promise<void> {
  await kubectlOk(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
}

/**
 * Polls `probe` until it returns something, or fails after `seconds` saying what it waited for and what it
 * last saw (`seen`). Errors from the probe count as "not yet" (the API may be busy on two shared cores).
 */
async function until<T>(
  what: string,
  seconds: number,
  probe: () => Promise<T | undefined>,
  seen?: () => string,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let error: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      error = undefined;
    } catch (e) {
      error = e;
    }
    if (Date.now() > deadline) {
      const last = [seen?.(), error === undefined ? undefined : `last error: ${String(error)}`]
        .filter(Boolean)
        .join("; ");
      throw new Error(`timed out after ${seconds} s waiting for ${what}${last ? ` (${last})` : ""}`);
    }
    await sleep(500);
  }
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
}
interface Pod extends PodLite {
  metadata: PodLite["metadata"] & { ownerReferences?: { kind: string; name: string; uid: string }[] };
  status: PodLite["status"] & { conditions?: Condition[] };
}
interface Node {
  metadata: { name: string; labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { taints?: { key: string; effect: string }[] };
  status: { conditions?: Condition[]; allocatable: Record<string, string> };
}
interface Event {
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string; uid?: string };
  firstTimestamp?: string;
  eventTime?: string;
  metadata: { creationTimestamp: string };
  reportingComponent?: string;
  source?: { component?: string };
}
interface Hpa {
  status: { currentReplicas?: number; desiredReplicas?: number };
}

async function pods(ns: string, selector: string): Promise<Pod[]> {
  return (
    await api.get<{ items: Pod[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`)
  ).items;
}

async function events(ns: string, kind: string, name: string): Promise<Event[]> {
  const sel = encodeURIComponent(`involvedObject.kind=${kind},involvedObject.name=${name}`);
  const items = (await api.get<{ items: Event[] }>(`/api/v1/namespaces/${ns}/events?fieldSelector=${sel}`)).items;
  const at = (e: Event) => e.firstTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp;
  return items.sort((a, b) => at(a).localeCompare(at(b)));
}

const ready = (ps: Pod[]) => ps.filter(podReady);
const nodeReady = (n: Node) => n.status.conditions?.find((c) => c.type === "Ready")?.status;
const summary = (ps: Pod[]) =>
  ps
    .map(
      (p) =>
        `${p.metadata.name}@${p.spec.nodeName ?? "-"}:${p.status.phase}${p.metadata.deletionTimestamp ? "(deleting)" : ""}`,
    )
    .join(" ");

// ---------------------------------------------------------------- objects

/** A namespace as the program makes the workload's: Pod Security "restricted", enforced. */
async function restrictedNamespace(name: string): Promise<void> {
  await create(namespaceObject(workloadSchema.parse({ namespace: name })));
  // Pods are refused until the serviceaccount controller has made the namespace's default account.
  await until(`the default ServiceAccount of ${name}`, 60, () =>
    api.find(`/api/v1/namespaces/${name}/serviceaccounts/default`),
  );
}

/** A pod spec admitted under Pod Security "restricted". */
function podSpec(o: { cpu: string; memory?: string }, extra: Record<string, unknown> = {}) {
  return {
    automountServiceAccountToken: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    },
    containers: [
      {
        name: "app",
        image: IMAGE,
        resources: { requests: { cpu: o.cpu, memory: o.memory ?? "64Mi" } },
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        },
      },
    ],
    ...extra,
  };
}

function deployment(ns: string, name: string, replicas: number, spec: ReturnType<typeof podSpec>) {
  const labels = { [LABELS.name]: name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, labels },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec } },
  };
}

const selectorOf = (name: string) => `${LABELS.name}=${name}`;

/** Waits for exactly `n` Ready pods of a Deployment (none being deleted) and returns them. */
async function readyPods(ns: string, name: string, n: number, seconds = 90): Promise<Pod[]> {
  let last: Pod[] = [];
  return until(
    `${n} Ready pods of ${ns}/${name}`,
    seconds,
    async () => {
      last = await pods(ns, selectorOf(name));
      const r = ready(last);
      return r.length === n && last.length === n ? r : undefined;
    },
    () => summary(last),
  );
}

// ---------------------------------------------------------------- the HPA's workload and its load

/** The HPA's objects: the program's own builders, with production's defaults except the compressed window. */
const PRODUCTION = scalingSchema.parse({});
/**
 * Production waits 300 s (scalingSchema's default) before scaling down; the test compresses it to 90 s. Not
 * shorter: metrics lag the load by up to 45 s (two metrics-server scrapes, then an HPA sync), so a window much
 * shorter than that could not be told apart from no window at all.
 */
const STEP_DOWN_WINDOW = 90;
/**
 * The window runs from the HPA's last high recommendation, which may be the sync just before the load
 * dropped: the scale down can come up to one sync early as seen from the drop. Hence the margin.
 */
const HOLD_UNTIL = STEP_DOWN_WINDOW - HPA_SYNC_SECONDS - 5;
/** The latest it may come: the window, plus two scrapes and a sync of lag, plus slack for two busy cores. */
const STEP_DOWN_BY = STEP_DOWN_WINDOW + 60;
const HPA_W = workloadSchema.parse({ namespace: "alive-hpa", deployment: "cartorio-api" });
const HPA_S: ScalingConfig = {
  ...PRODUCTION,
  behavior: {
    ...PRODUCTION.behavior,
    scaleDown: { ...PRODUCTION.behavior.scaleDown, stabilizationWindowSeconds: STEP_DOWN_WINDOW },
  },
};
/** As manifests/cartorio-api/deployment.yaml requests. */
const CPU_REQUEST_MILLI = 500;
const MEMORY_REQUEST = "512Mi";
/** Memory stays low and flat (12.5 % of the request, target 80 %): CPU is what scales this service. */
const MEMORY_USAGE = "64Mi";
/** The simulated total load, in millicores, split over the Ready pods: per-pod load falls as pods are added. */
const LOAD_HIGH_MILLI = 3000;
const LOAD_LOW_MILLI = 300;
/** The HPA controller's default tolerance (--horizontal-pod-autoscaler-tolerance): within 10 % of the target it does nothing. */
const TOLERANCE = 0.1;

function hpaDeployment() {
  return deployment(
    HPA_W.namespace,
    HPA_W.deployment,
    HPA_S.minReplicas,
    podSpec(
      { cpu: `${CPU_REQUEST_MILLI}m`, memory: MEMORY_REQUEST },
      {
        // Off the node the outage test stops: the HPA counts a pod without metrics as at 100 % of its request
        // when scaling down, so pods stranded there would hold the step down back.
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: [VICTIM] }] },
              ],
            },
          },
        },
      },
    ),
  );
}

/**
 * What the load driver (scripts/cluster/load.ts) does, reduced to a fixed total: every second, the total
 * millicores split over the Ready pods are written on each as kwok's usage annotations, new pods included.
 */
const load = {
  totalMilli: 0,
  running: false,
  loop: undefined as Promise<void> | undefined,
  perPod(n: number): number {
    return Math.round(this.totalMilli / n);
  },
  start(totalMilli: number) {
    this.totalMilli = totalMilli;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          const r = ready(await pods(HPA_W.namespace, selectorOf(HPA_W.deployment)));
          const cpu = `${this.perPod(r.length)}m`;
          await Promise.all(
            r
              .filter(
                (p) =>
                  p.metadata.annotations?.[USAGE_CPU] !== cpu ||
                  p.metadata.annotations?.[USAGE_MEMORY] !== MEMORY_USAGE,
              )
              .map((p) =>
                api.patch(`/api/v1/namespaces/${HPA_W.namespace}/pods/${p.metadata.name}`, {
                  metadata: { annotations: { [USAGE_CPU]: cpu, [USAGE_MEMORY]: MEMORY_USAGE } },
                }),
              ),
          );
        } catch {
          // A pod deleted between the list and the patch: the next round sees the new set.
        }
        await sleep(1000);
      }
    })();
  },
  async stop() {
    this.running = false;
    await this.loop;
  },
};

/** The most the scale-up behaviour allows from `from` replicas in one period (selectPolicy Max). */
function scaleUpLimit(from: number): number {
  const { policies } = HPA_S.behavior.scaleUp;
  return Math.max(
    ...policies.map((p) => (p.type === "Percent" ? Math.ceil(from * (1 + p.value / 100)) : from + p.value)),
  );
}

const hpaPath = `/apis/autoscaling/v2/namespaces/${HPA_W.namespace}/horizontalpodautoscalers/${HPA_W.deployment}`;
const deployPath = `/apis/apps/v1/namespaces/${HPA_W.namespace}/deployments/${HPA_W.deployment}`;

/** Where the step up settled; the step down starts from it. */
let settled: number | undefined;

const milli = (q: string) => (q.endsWith("m") ? Number(q.slice(0, -1)) : Number(q) * 1000);

// ---------------------------------------------------------------- the tests

describe("the alive embedded cluster", () => {
  beforeAll(async () => {
    cluster = await startTestCluster({ flux: false });
    api = adminApi(cluster.dir);
  }, 180_000);
  afterAll(async () => {
    await load.stop();
    await cluster?.stop();
  });

  it.concurrent(
    "HPA step up: under load the HPA scales the Deployment up within its scale-up policies, and kubectl top pods shows the load",
    async ({ expect }) => {
      const { namespace: ns, deployment: name } = HPA_W;
      await restrictedNamespace(ns);
      await create(hpaDeployment(), hpaObject(HPA_W, HPA_S));
      await readyPods(ns, name, HPA_S.minReplicas);
      load.start(LOAD_HIGH_MILLI);

      // Two scrapes before a pod has metrics (30 s), then an HPA sync (15 s): well within two minutes.
      let hpa: Hpa = { status: {} };
      await until(
        "the HPA to scale up",
        150,
        async () => {
          hpa = await api.get<Hpa>(hpaPath);
          return (hpa.status.desiredReplicas ?? 0) > HPA_S.minReplicas ? true : undefined;
        },
        () => JSON.stringify(hpa.status),
      );

      // Where it must settle: the replica counts at which utilisation is within the controller's tolerance.
      const perReplicaAtTarget = (CPU_REQUEST_MILLI * HPA_S.cpuUtilization) / 100;
      const low = Math.ceil(LOAD_HIGH_MILLI / (perReplicaAtTarget * (1 + TOLERANCE)));
      const high = Math.floor(LOAD_HIGH_MILLI / (perReplicaAtTarget * (1 - TOLERANCE)));
      expect(low).toBeGreaterThan(scaleUpLimit(HPA_S.minReplicas)); // more than one step's worth of load
      expect(high).toBeLessThanOrEqual(HPA_S.maxReplicas);

      // Settled: the HPA's desired count reached, every pod Ready, and each pod's metrics showing the load it carries.
      let top = "";
      let podsNow: Pod[] = [];
      const final = await until(
        `the HPA to settle between ${low} and ${high} replicas with kubectl top pods showing each pod's load`,
        180,
        async () => {
          hpa = await api.get<Hpa>(hpaPath);
          const desired = hpa.status.desiredReplicas ?? 0;
          if (desired < low || desired > high || hpa.status.currentReplicas !== desired) return undefined;
          podsNow = await pods(ns, selectorOf(name));
          const r = ready(podsNow);
          if (r.length !== desired || podsNow.length !== desired) return undefined;
          const res = await kubectl(["top", "pods", "-n", ns, "--no-headers"]);
          top = res.stdout + res.stderr;
          if (res.status !== 0) return undefined;
          const rows = new Map(
            res.stdout
              .trim()
              .split("\n")
              .map((l) => l.trim().split(/\s+/))
              .map(([pod, cpu, mem]) => [pod, { cpu, mem }]),
          );
          const expected = `${load.perPod(desired)}m`;
          const matches = r.every((p) => {
            const row = rows.get(p.metadata.name);
            const cpu = p.metadata.annotations?.[USAGE_CPU];
            // metrics-server reports a rate from two scrapes: a few millicores either way.
            return (
              row !== undefined &&
              cpu === expected &&
              Math.abs(milli(row.cpu) - milli(cpu)) <= Math.max(5, milli(cpu) * 0.05) &&
              row.mem === MEMORY_USAGE
            );
          });
          return matches ? desired : undefined;
        },
        () => `HPA ${JSON.stringify(hpa.status)}; pods ${summary(podsNow)}; top: ${top.trim()}`,
      );
      settled = final;

      // Every rescale stayed within the scale-up behaviour: at most +100 % or +4 pods per 15 s period.
      const rescales = (await events(ns, "HorizontalPodAutoscaler", name)).filter(
        (e) => e.reason === "SuccessfulRescale",
      );
      const sizes = rescales.map((e) => Number(/New size: (\d+)/.exec(e.message)?.[1]));
      expect(sizes.length).toBeGreaterThanOrEqual(1);
      expect(sizes[sizes.length - 1]).toBe(final);
      let from = HPA_S.minReplicas;
      for (const size of sizes) {
        expect(
          size,
          `a rescale from ${from} to ${size} (limit ${scaleUpLimit(from)}); all: ${sizes.join(" → ")}`,
        ).toBeLessThanOrEqual(scaleUpLimit(from));
        expect(size).toBeGreaterThan(from);
        from = size;
      }
    },
    450_000,
  );

  it.concurrent(
    "shows the simulated node pool Ready in kubectl get nodes, and kubectl top nodes has their metrics",
    async ({ expect }) => {
      let seen = "";
      const nodes = await until(
        `${POOL.nodes} simulated nodes Ready`,
        60,
        async () => {
          const list = JSON.parse(await kubectlOk(["get", "nodes", "-l", `${SIMULATED_LABEL}=true`, "-o", "json"])) as {
            items: Node[];
          };
          seen = list.items.map((n) => `${n.metadata.name}:${nodeReady(n)}`).join(" ");
          return list.items.length === POOL.nodes && list.items.every((n) => nodeReady(n) === "True")
            ? list.items
            : undefined;
        },
        () => seen,
      );
      expect(nodes.map((n) => n.metadata.name).sort()).toEqual(NODES);
      for (const [i, n] of nodes.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).entries()) {
        expect(n.metadata.labels["topology.kubernetes.io/zone"]).toBe(POOL.zones[i % POOL.zones.length]);
        expect(n.status.allocatable.cpu).toBe(String(POOL.cpu));
        expect(n.metadata.annotations?.[KWOK_NODE_ANNOTATION]).toBe("fake");
      }
      // What a person sees: the table's STATUS column.
      const table = await kubectlOk(["get", "nodes", "--no-headers"]);
      for (const name of NODES) expect(table).toMatch(new RegExp(`^${name}\\s+Ready\\s`, "m"));

      // metrics-server needs two scrapes (15 s apart) of kwok's kubelet endpoints before it answers.
      let top = "";
      const rows = await until(
        "kubectl top nodes to list every simulated node",
        90,
        async () => {
          const r = await kubectl(["top", "nodes", "--no-headers"]);
          top = r.stdout + r.stderr;
          if (r.status !== 0) return undefined;
          const rows = r.stdout
            .trim()
            .split("\n")
            .map((l) => l.trim().split(/\s+/));
          return NODES.every((n) => rows.some((row) => row[0] === n && /^\d+m?$/.test(row[1]))) ? rows : undefined;
        },
        () => top.trim(),
      );
      for (const name of NODES) {
        const [, cpu, cpuPct, mem, memPct] = rows.find((r) => r[0] === name)!;
        expect(cpu).toMatch(/^\d+m?$/);
        expect(cpuPct).toMatch(/^\d+%$/);
        expect(mem).toMatch(/^\d+(Ki|Mi|Gi)$/);
        expect(memPct).toMatch(/^\d+%$/);
      }
    },
    120_000,
  );

  it.concurrent(
    "the scheduler places pods: a zone spread constraint puts 3 replicas in 3 zones, and a pod larger than any node stays Pending (Insufficient cpu)",
    async ({ expect }) => {
      const ns = "alive-scheduling";
      await restrictedNamespace(ns);
      const name = "spread";
      const replicas = POOL.zones.length;
      await create(
        deployment(
          ns,
          name,
          replicas,
          podSpec(
            { cpu: "250m" },
            {
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: "topology.kubernetes.io/zone",
                  whenUnsatisfiable: "DoNotSchedule",
                  labelSelector: { matchLabels: { [LABELS.name]: name } },
                },
              ],
            },
          ),
        ),
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "grande", namespace: ns },
          // More than any node's allocatable CPU.
          spec: podSpec({ cpu: String(POOL.cpu + 1) }),
        },
      );
      const placed = await readyPods(ns, name, replicas);
      const zoneOf = Object.fromEntries(NODES.map((n, i) => [n, POOL.zones[i % POOL.zones.length]]));
      const zones = placed.map((p) => zoneOf[p.spec.nodeName ?? ""]);
      expect(new Set(zones).size, summary(placed)).toBe(replicas);
      // Bound by kube-scheduler, not by kwok: each pod has the scheduler's Scheduled event.
      for (const p of placed) {
        const scheduled = await until(`the Scheduled event of ${p.metadata.name}`, 30, async () =>
          (await events(ns, "Pod", p.metadata.name)).find((e) => e.reason === "Scheduled"),
        );
        expect(scheduled.reportingComponent || scheduled.source?.component).toBe("default-scheduler");
        expect(scheduled.message).toContain(p.spec.nodeName);
      }

      const failed = await until("a FailedScheduling event for grande", 60, async () =>
        (await events(ns, "Pod", "grande")).find((e) => e.reason === "FailedScheduling"),
      );
      expect(failed.message).toContain(`0/${POOL.nodes} nodes are available`);
      expect(failed.message).toContain("Insufficient cpu");
      const grande = await api.get<Pod>(`/api/v1/namespaces/${ns}/pods/grande`);
      expect(grande.status.phase).toBe("Pending");
      expect(grande.spec.nodeName).toBeUndefined();
      expect(grande.status.conditions?.find((c) => c.type === "PodScheduled")).toMatchObject({
        status: "False",
        reason: "Unschedulable",
      });
    },
    120_000,
  );

  it.concurrent(
    "a PodDisruptionBudget (the program's) allows one eviction and refuses the next that would break it (429)",
    async ({ expect }) => {
      const w = workloadSchema.parse({ namespace: "alive-pdb", deployment: "cartorio-api" });
      const s = scalingSchema.parse({});
      const pdb = pdbObject(w, s);
      const ns = w.namespace;
      const name = w.deployment;
      const replicas = s.minReplicas;
      const allowed = pdb.spec.maxUnavailable;
      expect(allowed).toBe(1);
      // kwok makes a replacement Ready within milliseconds, which restores the budget before a second eviction
      // could be tried; in production a pod takes seconds to start. So the pods run only on nodes carrying this
      // label, and the label is taken off once they run: a replacement then stays Pending.
      const hold = "cartorio.digital/alive-test-pdb";
      await kubectlOk(["label", "--overwrite", "nodes", "-l", `${SIMULATED_LABEL}=true`, `${hold}=true`]);
      try {
        await restrictedNamespace(ns);
        await create(
          deployment(ns, name, replicas, podSpec({ cpu: "100m" }, { nodeSelector: { [hold]: "true" } })),
          pdb,
        );
        const running = await readyPods(ns, name, replicas);
        type Pdb = { status?: { disruptionsAllowed?: number; currentHealthy?: number; expectedPods?: number } };
        const budget = async () =>
          (await api.get<Pdb>(`/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}`)).status;
        let status: Pdb["status"];
        await until(
          "the disruption controller to allow one disruption",
          60,
          async () => {
            status = await budget();
            return status?.disruptionsAllowed === allowed &&
              status.currentHealthy === replicas &&
              status.expectedPods === replicas
              ? true
              : undefined;
          },
          () => JSON.stringify(status),
        );
        await kubectlOk(["label", "nodes", "-l", `${SIMULATED_LABEL}=true`, `${hold}-`]);

        const evict = (pod: string) =>
          kubectl(
            ["create", "--raw", `/api/v1/namespaces/${ns}/pods/${pod}/eviction`, "-f", "-"],
            JSON.stringify({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name: pod, namespace: ns } }),
          );
        const [first, second] = running.map((p) => p.metadata.name);
        const ok = await evict(first);
        expect(ok.status, ok.stderr).toBe(0);
        const refused = await evict(second);
        expect(refused.status).not.toBe(0);
        expect(refused.stderr).toMatch(/TooManyRequests|429/);
        expect(refused.stderr).toContain("Cannot evict pod as it would violate the pod's disruption budget");
        expect((await budget())?.disruptionsAllowed).toBe(0);

        // The refused pod is untouched; the evicted one is gone and its replacement waits, unscheduled.
        const kept = await api.get<Pod>(`/api/v1/namespaces/${ns}/pods/${second}`);
        expect(kept.metadata.deletionTimestamp).toBeUndefined();
        expect(podReady(kept)).toBe(true);
        let now: Pod[] = [];
        await until(
          `${first} to be evicted and its replacement to wait Pending`,
          60,
          async () => {
            now = await pods(ns, selectorOf(name));
            const gone = !now.some((p) => p.metadata.name === first);
            const waiting = now.filter((p) => !running.some((r) => r.metadata.uid === p.metadata.uid));
            return gone && waiting.length === 1 && waiting[0].status.phase === "Pending" && !waiting[0].spec.nodeName
              ? true
              : undefined;
          },
          () => summary(now),
        );

        // Once the replacement can run and is Ready, the budget allows one disruption again.
        await kubectlOk(["label", "--overwrite", "nodes", "-l", `${SIMULATED_LABEL}=true`, `${hold}=true`]);
        await readyPods(ns, name, replicas);
        await until(
          "the budget to allow one disruption again",
          60,
          async () => {
            status = await budget();
            return status?.disruptionsAllowed === allowed ? true : undefined;
          },
          () => JSON.stringify(status),
        );
      } finally {
        await kubectl(["label", "nodes", "-l", `${SIMULATED_LABEL}=true`, `${hold}-`]);
      }
    },
    180_000,
  );

  it.concurrent(
    "a pod deleted by hand is replaced by a new pod (another UID) that is scheduled and Ready",
    async ({ expect }) => {
      const ns = "alive-replace";
      const name = "eco";
      await restrictedNamespace(ns);
      await create(deployment(ns, name, 2, podSpec({ cpu: "100m" })));
      const before = await readyPods(ns, name, 2);
      const victim = before[0];
      await kubectlOk(["delete", "pod", "-n", ns, victim.metadata.name, "--wait=false"]);
      let now: Pod[] = [];
      const after = await until(
        "a replacement pod",
        60,
        async () => {
          now = await pods(ns, selectorOf(name));
          const r = ready(now);
          return r.length === 2 && now.length === 2 && !now.some((p) => p.metadata.uid === victim.metadata.uid)
            ? r
            : undefined;
        },
        () => summary(now),
      );
      const replacement = after.find((p) => !before.some((b) => b.metadata.uid === p.metadata.uid));
      expect(replacement).toBeDefined();
      expect(replacement!.metadata.uid).not.toBe(victim.metadata.uid);
      expect(NODES).toContain(replacement!.spec.nodeName);
      expect(replacement!.status.conditions?.find((c) => c.type === "PodScheduled")?.status).toBe("True");
      // Made by the same ReplicaSet.
      expect(replacement!.metadata.ownerReferences?.[0].uid).toBe(victim.metadata.ownerReferences?.[0].uid);
    },
    120_000,
  );

  it.concurrent(
    "a Job in a restricted namespace is admitted, scheduled and completes, and its TTL removes it and its pod",
    async ({ expect }) => {
      const ns = "alive-job";
      const name = "selo";
      await restrictedNamespace(ns);
      await create({
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name, namespace: ns },
        spec: {
          backoffLimit: 0,
          // Long enough to see it Complete, short enough to see it go.
          ttlSecondsAfterFinished: 10,
          template: { spec: podSpec({ cpu: "100m" }, { restartPolicy: "Never" }) },
        },
      });
      type Job = { metadata: { uid: string }; status: { succeeded?: number; conditions?: Condition[] } };
      let job: Job | undefined;
      let jobPods: Pod[] = [];
      await until(
        "the Job to complete with a Succeeded pod",
        60,
        async () => {
          job = await api.get<Job>(`/apis/batch/v1/namespaces/${ns}/jobs/${name}`);
          jobPods = await pods(ns, `batch.kubernetes.io/job-name=${name}`);
          const complete = job.status.conditions?.some((c) => c.type === "Complete" && c.status === "True");
          return complete && jobPods.some((p) => p.status.phase === "Succeeded") ? true : undefined;
        },
        () => `${JSON.stringify(job?.status)}; pods ${summary(jobPods)}`,
      );
      expect(job!.status.succeeded).toBe(1);
      const done = jobPods.find((p) => p.status.phase === "Succeeded")!;
      expect(NODES).toContain(done.spec.nodeName);
      await until(
        "the TTL controller to delete the Job and its pod",
        60,
        async () => {
          const gone = (await api.find(`/apis/batch/v1/namespaces/${ns}/jobs/${name}`)) === undefined;
          jobPods = await pods(ns, `batch.kubernetes.io/job-name=${name}`);
          return gone && jobPods.length === 0 ? true : undefined;
        },
        () => `pods ${summary(jobPods)}`,
      );
    },
    120_000,
  );

  describe("then, with a node taken away", () => {
    it.concurrent(
      `HPA step down: once the load drops, it holds the replicas for the stabilisation window (compressed to ${STEP_DOWN_WINDOW} s; production's is ${PRODUCTION.behavior.scaleDown.stabilizationWindowSeconds} s), then scales down`,
      async ({ expect }) => {
        if (settled === undefined) throw new Error("the step up did not settle: nothing to step down from");
        const before = settled;
        load.totalMilli = LOAD_LOW_MILLI;
        const dropped = Date.now();
        const elapsed = () => (Date.now() - dropped) / 1000;

        // Nothing changes before the window has run (less one HPA sync, see HOLD_UNTIL).
        while (elapsed() < HOLD_UNTIL) {
          const hpa = await api.get<Hpa>(hpaPath);
          const deploy = await api.get<{ spec: { replicas: number } }>(deployPath);
          expect(hpa.status.desiredReplicas, `desired replicas at ${elapsed().toFixed(0)} s after the drop`).toBe(
            before,
          );
          expect(deploy.spec.replicas, `Deployment replicas at ${elapsed().toFixed(0)} s after the drop`).toBe(before);
          await sleep(1000);
        }

        // Then it scales down, within the window plus the metrics' lag.
        let hpa: Hpa = { status: {} };
        await until(
          "the HPA to scale down",
          Math.max(0, STEP_DOWN_BY - elapsed()),
          async () => {
            hpa = await api.get<Hpa>(hpaPath);
            return (hpa.status.desiredReplicas ?? before) < before ? true : undefined;
          },
          () => JSON.stringify(hpa.status),
        );
        expect(elapsed()).toBeGreaterThanOrEqual(HOLD_UNTIL);
        // The low load needs no more than the minimum, and the policy (-100 % per 15 s) lets it get there.
        await until(
          `the Deployment at ${HPA_S.minReplicas} Ready pods`,
          60,
          async () => {
            hpa = await api.get<Hpa>(hpaPath);
            const now = await pods(HPA_W.namespace, selectorOf(HPA_W.deployment));
            return hpa.status.desiredReplicas === HPA_S.minReplicas && ready(now).length === HPA_S.minReplicas
              ? true
              : undefined;
          },
          () => JSON.stringify(hpa.status),
        );
        await load.stop();
      },
      300_000,
    );

    it.concurrent(
      "a node that stops heartbeating goes NotReady, its pods are evicted and rescheduled on other nodes, and it recovers",
      async ({ expect }) => {
        const ns = "alive-node";
        const name = "vigia";
        await restrictedNamespace(ns);
        const tolerate = (key: string) => ({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 5 });
        await create(
          deployment(
            ns,
            name,
            POOL.nodes,
            podSpec(
              { cpu: "100m" },
              {
                // Production pods get 300 s (the DefaultTolerationSeconds admission plugin); 5 s keeps the test short.
                tolerations: [tolerate("node.kubernetes.io/not-ready"), tolerate("node.kubernetes.io/unreachable")],
                // One pod per node, so one is on the victim; a tainted node is no domain of the spread (Honor), so
                // the replacement may join a node that has one already.
                topologySpreadConstraints: [
                  {
                    maxSkew: 1,
                    topologyKey: "kubernetes.io/hostname",
                    whenUnsatisfiable: "DoNotSchedule",
                    nodeTaintsPolicy: "Honor",
                    labelSelector: { matchLabels: { [LABELS.name]: name } },
                  },
                ],
              },
            ),
          ),
        );
        const before = await readyPods(ns, name, POOL.nodes);
        const stranded = before.find((p) => p.spec.nodeName === VICTIM);
        expect(stranded, summary(before)).toBeDefined();

        const node = () => api.get<Node>(`/api/v1/nodes/${VICTIM}`);
        let seen: Node | undefined;
        const describeNode = () =>
          seen ? `Ready=${nodeReady(seen)} taints=${JSON.stringify(seen.spec.taints ?? [])}` : "(not read)";
        // How a kubelet's death shows: its Lease is no longer renewed. Removing the node's kwok.x-k8s.io/node
        // annotation does not do it: kwok v0.8.0 filters the node's later updates out of its informer instead of
        // treating the node as unmanaged, and keeps renewing the Lease. So the Lease is taken by another holder,
        // as a second kwok would take it: kwok stops renewing it and leaves the node and its pods alone until it
        // expires (then it takes it back, as a kubelet that comes back would). The taker writes a renewTime, as
        // a holder does: kube-controller-manager 1.37's lease circuit breaker otherwise takes the changed Lease
        // for a stale cache and never marks the node down.
        const lease = (spec: Record<string, unknown>) =>
          kubectlOk([
            "patch",
            "lease",
            "-n",
            "kube-node-lease",
            VICTIM,
            "--type=merge",
            "-p",
            JSON.stringify({ spec }),
          ]);
        // A MicroTime: six digits of fraction.
        const renewTime = () => new Date().toISOString().replace(/Z$/, "000Z");
        const stopped = Date.now();
        await lease({ holderIdentity: "alive-test-outage", leaseDurationSeconds: 3600, renewTime: renewTime() });
        try {
          await until(
            `${VICTIM} to go NotReady and be tainted unreachable`,
            90,
            async () => {
              seen = await node();
              return nodeReady(seen) !== "True" &&
                (seen.spec.taints ?? []).some(
                  (t) => t.key === "node.kubernetes.io/unreachable" && t.effect === "NoExecute",
                )
                ? true
                : undefined;
            },
            describeNode,
          );
          const notReadyAfter = (Date.now() - stopped) / 1000;
          // Not before the grace period (20 s) has run from the taker's renewTime.
          expect(notReadyAfter).toBeGreaterThanOrEqual(20);

          let now: Pod[] = [];
          const replaced = await until(
            `the pod on ${VICTIM} to be evicted and replaced on another node`,
            60,
            async () => {
              now = await pods(ns, selectorOf(name));
              const old = now.find((p) => p.metadata.uid === stranded!.metadata.uid);
              // Deleted: kwok v0.8.0 still removes a deleted pod from a node whose Lease it does not hold, where a
              // dead kubelet would leave it Terminating. Either way it no longer counts.
              const evicted = old === undefined || old.metadata.deletionTimestamp !== undefined;
              const r = ready(now);
              return evicted && r.length === POOL.nodes && r.every((p) => p.spec.nodeName !== VICTIM) ? r : undefined;
            },
            () => summary(now),
          );
          const fresh = replaced.filter((p) => !before.some((b) => b.metadata.uid === p.metadata.uid));
          expect(fresh.length).toBe(1);
          expect(fresh[0].spec.nodeName).not.toBe(VICTIM);
          const evictions = (await events(ns, "Pod", stranded!.metadata.name)).filter(
            (e) => e.reason === "TaintManagerEviction",
          );
          expect(evictions.length, "the taint eviction controller's event").toBeGreaterThanOrEqual(1);
        } finally {
          // Expired a second from now: kwok takes the Lease back at its next try (every 10 s).
          await lease({ leaseDurationSeconds: 1, renewTime: renewTime() });
        }

        // kwok manages it again: Ready, the taints lifted, and the evicted pod's object gone.
        await until(
          `${VICTIM} to be Ready again`,
          90,
          async () => {
            seen = await node();
            return nodeReady(seen) === "True" &&
              !(seen.spec.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/"))
              ? true
              : undefined;
          },
          describeNode,
        );
        type Lease = { spec: { holderIdentity?: string; renewTime?: string } };
        const back = await api.get<Lease>(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${VICTIM}`);
        expect(back.spec.holderIdentity).not.toBe("alive-test-outage");
        await until(`the evicted pod's object to be gone`, 60, async () =>
          (await pods(ns, selectorOf(name))).some((p) => p.metadata.uid === stranded!.metadata.uid) ? undefined : true,
        );
      },
      400_000,
    );
  });
});
