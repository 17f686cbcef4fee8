/**
 * `npm run cluster -- load [SCRIPT] [--speed N] [--stack S]`: plays the corregedoria's load profile
 * (the k6 script's ramping-arrival-rate stages, with the stack's loadtest.profile as its __ENV)
 * against the simulated cartorio-api pods, and compares the real HPA controller's decisions with the
 * capacity plan's predicted replica timeline.
 *
 * No request is made and no k6 runs: every second the driver computes the load each Ready pod
 * carries (requests per second ÷ Ready pods × the CPU one request costs, from the plan's throughput
 * per replica at the HPA's CPU target) and writes it on the pod as kwok's usage annotation; kwok's
 * simulated kubelet reports it as cumulative CPU, metrics-server turns that into a rate, and the HPA
 * controller decides on it every 15 s. `--speed N` divides the profile's durations by N; the HPA's
 * clocks are not compressed (see components/scaling/replay.ts).
 *
 * Exit 0 when the observed peak is within one replica of the plan's and was reached within the
 * profile; 1 otherwise; 2 on bad arguments.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { HPA_SYNC_SECONDS, ScalingRules } from "../../components/scaling/capacity";
import { capacityPlan } from "../../components/scaling/plan";
import {
  compare,
  compress,
  costPerRequestMilli,
  perPodUsage,
  predictTimeline,
  readProfile,
} from "../../components/scaling/replay";
import { PlatformConfig, scalingSchema } from "../../components/config/schema";
import { deadProcessProblem } from "../../components/platform/processes";
import { USAGE_CPU, USAGE_MEMORY } from "./alive";
import { adminApi, PodLite, podReady } from "./kube";

interface Hpa {
  metadata: { uid: string };
  spec: {
    minReplicas?: number;
    maxReplicas: number;
    metrics?: { type: string; resource?: { name: string; target: { averageUtilization?: number } } }[];
    behavior?: { scaleUp?: ScalingRules; scaleDown?: ScalingRules };
  };
  status: {
    currentReplicas?: number;
    desiredReplicas?: number;
    currentMetrics?: { resource?: { name: string; current: { averageUtilization?: number } } }[];
  };
}

/** What a load run on the simulated cluster leaves behind (.local/carga/<UTC>.json). */
export interface SimulatedLoadRun {
  simulated: true;
  method: string;
  note: string;
  script: string;
  speed: number;
  startedAt: string;
  replicaThroughputRps: number;
  cpuMilliPerRequest: number;
  peakRps: number;
  predicted: { t: number; replicas: number }[];
  observed: { t: number; replicas: number }[];
  comparison: ReturnType<typeof compare>;
  /** Peak rate ÷ the replicas the HPA reached: what the simulated run gives per replica. */
  perReplicaRps: number;
}

export interface LoadOptions {
  dir: string;
  /** Where the run's record is written (default: carga/ in the cluster folder). */
  outDir?: string;
  script: string;
  speed: number;
  cfg: PlatformConfig;
  log: (line: string) => void;
  /** Seconds to keep watching after the profile ends (default: one HPA sync plus the metric window). */
  tailSeconds?: number;
}

const K8S_BEHAVIOR = scalingSchema.parse({}).behavior;

const milli = (q: string | undefined): number => {
  if (!q) return 0;
  if (q.endsWith("m")) return Number(q.slice(0, -1));
  return Number(q) * 1000;
};

const pad = (v: unknown, n: number) => String(v).padStart(n);

/** Removes the simulated load from every pod (they report kwok's idle floor again). */
async function clearLoad(api: ReturnType<typeof adminApi>, ns: string, selector: string): Promise<void> {
  const pods = await api.get<{ items: PodLite[] }>(
    `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`,
  );
  await Promise.all(
    pods.items
      .filter((p) => p.metadata.annotations?.[USAGE_CPU] !== undefined)
      .map((p) =>
        api
          .patch(`/api/v1/namespaces/${ns}/pods/${p.metadata.name}`, {
            metadata: { annotations: { [USAGE_CPU]: null, [USAGE_MEMORY]: null } },
          })
          .catch(() => undefined),
      ),
  );
}

export async function runLoad(o: LoadOptions): Promise<number> {
  const { cfg, log } = o;
  const ns = cfg.workload.namespace;
  const name = cfg.workload.deployment;
  const api = adminApi(o.dir);
  const p = cfg.loadtest.profile;
  const env: Record<string, string> = {
    BASELINE_RPS: String(p.baselineRps),
    PEAK_RPS: String(p.peakRps),
    RAMP_SECONDS: String(p.rampSeconds),
    PEAK_DURATION_SECONDS: String(p.peakDurationSeconds),
  };
  const profile = compress(await readProfile(o.script, env), o.speed);

  const deploy = await api.find<{
    spec: {
      selector: { matchLabels: Record<string, string> };
      template: { spec: { containers: { resources?: { requests?: Record<string, string> } }[] } };
    };
  }>(`/apis/apps/v1/namespaces/${ns}/deployments/${name}`);
  if (!deploy)
    throw new Error(
      `Deployment ${ns}/${name} does not exist on the embedded cluster: run npm run local first (Flux applies it)`,
    );
  const hpa = await api.find<Hpa>(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/${name}`);
  if (!hpa)
    throw new Error(
      `HorizontalPodAutoscaler ${ns}/${name} does not exist on the embedded cluster: run npm run local first`,
    );
  const cpuRequest = deploy.spec.template.spec.containers.reduce((s, c) => s + milli(c.resources?.requests?.cpu), 0);
  const cpuTarget = hpa.spec.metrics?.find((m) => m.resource?.name === "cpu")?.resource?.target.averageUtilization;
  if (!cpuRequest || !cpuTarget) {
    throw new Error(
      `${ns}/${name}: the replay needs a CPU request on the Deployment and a CPU utilisation target on the HPA`,
    );
  }
  const plan = capacityPlan(cfg);
  const tp = plan.input.replicaThroughputRps;
  const cost = {
    cpuMilliPerRequest: costPerRequestMilli(cpuRequest, cpuTarget, tp),
    // Memory grows slowly with load and stays under its target: CPU is what scales this service.
    memoryBaseMi: 200,
    memoryMiPerRps: 0.5,
  };
  const selector = Object.entries(deploy.spec.selector.matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const start = hpa.status.currentReplicas ?? hpa.spec.minReplicas ?? 1;
  const predicted = predictTimeline(
    profile,
    {
      minReplicas: hpa.spec.minReplicas ?? 1,
      maxReplicas: hpa.spec.maxReplicas,
      replicaThroughputRps: tp,
      // An HPA without behavior gets Kubernetes' defaults, which are also the config's (scalingSchema).
      scaleUp: hpa.spec.behavior?.scaleUp ?? K8S_BEHAVIOR.scaleUp,
      scaleDown: hpa.spec.behavior?.scaleDown ?? K8S_BEHAVIOR.scaleDown,
      metricLagSeconds: 15,
    },
    start,
  );

  log(
    `playing ${o.script} at speed ${o.speed}: ${profile.stages.map((s) => `${Math.round(s.target)} rps over ${s.seconds.toFixed(0)} s`).join(", then ")} ` +
      `(from ${profile.startRate} rps; ${Math.round(profile.length)} s in all)`,
  );
  log(
    `cost of one request: ${cost.cpuMilliPerRequest.toFixed(2)}m CPU (${cpuRequest}m request × ${cpuTarget}% target ÷ ${tp} rps per replica, ` +
      `${plan.input.throughputSource}); simulated: no request is made, no k6 runs`,
  );
  if (o.speed > 1) {
    log(
      `time compressed ${o.speed}×: the profile's stages only; the HPA's 15 s syncs, its stabilisation windows and metrics-server's 15 s resolution run in real time`,
    );
  }

  const observed: { t: number; replicas: number }[] = [{ t: 0, replicas: start }];
  const t0 = Date.now();
  const tail = o.tailSeconds ?? HPA_SYNC_SECONDS + 15;
  let lastLine = -Infinity;
  let stop = false;
  const onSignal = () => (stop = true);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  log(
    `${"elapsed".padStart(7)} ${"target rps".padStart(10)} ${"ready".padStart(5)} ${"cpu/pod".padStart(8)} ${"HPA cpu".padStart(7)} ${"desired".padStart(7)}`,
  );
  try {
    for (;;) {
      const t = (Date.now() - t0) / 1000;
      if (t > profile.length + tail || stop) break;
      const dead = deadProcessProblem(o.dir);
      if (dead) throw new Error(`the load run stopped at ${t.toFixed(0)} s: ${dead}`);
      const rps = t <= profile.length ? profile.rateAt(t) : profile.rateAt(profile.length);
      const pods = (
        await api.get<{ items: PodLite[] }>(
          `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`,
        )
      ).items;
      const ready = pods.filter(podReady);
      const use = perPodUsage(rps, ready.length, cost);
      const cpu = `${use.cpuMilli}m`;
      const mem = `${use.memoryMi}Mi`;
      await Promise.all(
        ready
          .filter(
            (pod) => pod.metadata.annotations?.[USAGE_CPU] !== cpu || pod.metadata.annotations?.[USAGE_MEMORY] !== mem,
          )
          .map((pod) =>
            api.patch(`/api/v1/namespaces/${ns}/pods/${pod.metadata.name}`, {
              metadata: { annotations: { [USAGE_CPU]: cpu, [USAGE_MEMORY]: mem } },
            }),
          ),
      );
      const h = await api.get<Hpa>(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/${name}`);
      const desired = h.status.desiredReplicas ?? h.status.currentReplicas ?? start;
      if (desired !== observed[observed.length - 1].replicas) observed.push({ t: Math.round(t), replicas: desired });
      if (t - lastLine >= 5) {
        lastLine = t;
        const hpaCpu = h.status.currentMetrics?.find((m) => m.resource?.name === "cpu")?.resource?.current
          .averageUtilization;
        log(
          `${pad(`${t.toFixed(0)}s`, 7)} ${pad(rps.toFixed(0), 10)} ${pad(ready.length, 5)} ${pad(`${cpu} (${Math.round((use.cpuMilli / cpuRequest) * 100)}%)`, 8)} ` +
            `${pad(hpaCpu === undefined ? "-" : `${hpaCpu}%`, 7)} ${pad(desired, 7)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (e) {
    // A call that failed because a process of the cluster died names the process, not the call.
    const dead = deadProcessProblem(o.dir);
    const at = ((Date.now() - t0) / 1000).toFixed(0);
    if (dead && !(e as Error).message.includes(dead)) throw new Error(`the load run stopped at ${at} s: ${dead}`);
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // Only with every process up: a call to a dead API would only add its timeout to the failure.
    if (!deadProcessProblem(o.dir)) await clearLoad(api, ns, selector).catch(() => undefined);
  }

  const cmp = compare(predicted, observed, profile.length + tail);
  console.log(
    `\npredicted (capacity plan, ${tp} rps per replica) and observed (the HPA controller's desiredReplicas), every ${HPA_SYNC_SECONDS} s:`,
  );
  console.log(
    `${"t (s)".padStart(6)} ${"rps".padStart(6)} ${"predicted".padStart(9)} ${"observed".padStart(8)} ${"diff".padStart(4)}`,
  );
  for (const r of cmp.rows) {
    const rps = profile.rateAt(Math.min(r.t, profile.length));
    console.log(
      `${pad(r.t, 6)} ${pad(rps.toFixed(0), 6)} ${pad(r.predicted, 9)} ${pad(r.observed, 8)} ${pad(r.observed - r.predicted, 4)}`,
    );
  }
  console.log(
    `peak: predicted ${cmp.predictedPeak}, observed ${cmp.observedPeak}; largest difference ${cmp.largestDifference} replica(s); ` +
      `plan's peak reached ${cmp.reachedPeakAt === null ? "never" : `at ${cmp.reachedPeakAt} s`}`,
  );
  const events = await api.get<{
    items: {
      reason: string;
      message: string;
      lastTimestamp?: string;
      eventTime?: string;
      count?: number;
      metadata: { creationTimestamp: string };
    }[];
  }>(
    `/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent(`involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=${name},involvedObject.uid=${hpa.metadata.uid}`)}`,
  );
  const since = new Date(t0 - 1000).toISOString();
  const rescales = events.items.filter(
    (e) =>
      e.reason === "SuccessfulRescale" && (e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp) >= since,
  );
  console.log(`\nSuccessfulRescale events of HorizontalPodAutoscaler ${ns}/${name} during the run:`);
  for (const e of rescales)
    console.log(
      `  ${e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp}  ${e.message}${(e.count ?? 1) > 1 ? ` (x${e.count})` : ""}`,
    );
  if (rescales.length === 0) console.log("  (none)");
  for (const r of cmp.reasons) console.log(`FAIL: ${r}`);
  // The run as data, labelled simulated: npm run capacity -- --from-load FILE --simulated plans with it, and only so.
  const stamp = new Date(t0)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const outDir = o.outDir ?? path.join(o.dir, "carga");
  const file = path.join(outDir, `${stamp}.json`);
  fs.mkdirSync(outDir, { recursive: true });
  const peakRps = Math.max(...profile.stages.map((st) => st.target), profile.startRate);
  const record: SimulatedLoadRun = {
    simulated: true,
    method: "replay on the embedded cluster's simulated (kwok) nodes: npm run cluster -- load",
    note: "no request was made: each pod's CPU was computed from the plan's own throughput per replica, so this checks the HPA's behaviour against the plan, never the service's capacity",
    script: path.relative(process.cwd(), o.script),
    speed: o.speed,
    startedAt: new Date(t0).toISOString(),
    replicaThroughputRps: tp,
    cpuMilliPerRequest: cost.cpuMilliPerRequest,
    peakRps,
    predicted,
    observed,
    comparison: cmp,
    perReplicaRps: cmp.observedPeak > 0 ? peakRps / cmp.observedPeak : 0,
  };
  fs.writeFileSync(file, JSON.stringify(record, null, 2) + "\n");
  console.log(`\nrun recorded in ${path.relative(process.cwd(), file)} (simulated)`);
  return cmp.ok ? 0 : 1;
}
