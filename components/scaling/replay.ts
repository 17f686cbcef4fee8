/**
 * Replaying the corregedoria's load profile on the simulated cluster (npm run cluster -- load):
 * the profile read from the k6 script itself, the CPU each simulated pod reports under it, and
 * the capacity plan's predicted replica timeline for the same (possibly time-compressed) profile,
 * to compare with what the real HPA controller did. Plain module, no Pulumi import.
 *
 * What is simulated: the load (no request is made; the CPU a pod reports is computed from the
 * request rate, the Ready pods and the measured cost of one request) and the nodes. What is real:
 * metrics-server's rates over kwok's cumulative CPU counters, the HPA controller's decisions, the
 * ReplicaSet controller, the scheduler.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { HPA_SYNC_SECONDS, HPA_TOLERANCE, ScalingRules } from "./capacity";

export interface Profile {
  /** Seconds from the first stage to the end of the last. */
  length: number;
  /** Requests per second at a time (seconds from the start). */
  rateAt(t: number): number;
  /** The stages as declared (after compression), for the report. */
  stages: { target: number; seconds: number }[];
  startRate: number;
}

function durationSeconds(d: unknown, where: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(d));
  if (!m) throw new Error(`${where}: ${JSON.stringify(d)} is not a k6 duration (e.g. 60s, 10m)`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as "ms" | "s" | "m" | "h"];
}

/**
 * The arrival-rate profile a k6 script declares (its ramping-arrival-rate scenario), read by
 * importing the script with k6's modules replaced by empty ones and __ENV set as the load-test
 * provider sets it. Other executors are refused: the replay plays arrival rates only.
 */
export async function readProfile(scriptPath: string, env: Record<string, string>): Promise<Profile> {
  const text = fs.readFileSync(scriptPath, "utf8");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartorio-profile-"));
  try {
    fs.writeFileSync(path.join(dir, "http.mjs"), "export default {};\n");
    fs.writeFileSync(path.join(dir, "k6.mjs"), "export const check = () => true; export const sleep = () => {};\n");
    const url = (f: string) => JSON.stringify(pathToFileURL(path.join(dir, f)).href);
    fs.writeFileSync(
      path.join(dir, "script.mjs"),
      text
        .replace(/from\s+["']k6\/http["']/g, `from ${url("http.mjs")}`)
        .replace(/from\s+["']k6["']/g, `from ${url("k6.mjs")}`),
    );
    (globalThis as { __ENV?: Record<string, string> }).__ENV = env;
    const mod = (await import(pathToFileURL(path.join(dir, "script.mjs")).href)) as {
      options?: { scenarios?: Record<string, Record<string, unknown>> };
    };
    const scenarios = Object.entries(mod.options?.scenarios ?? {});
    const ramping = scenarios.filter(([, s]) => s.executor === "ramping-arrival-rate");
    if (ramping.length !== 1) {
      throw new Error(
        `${scriptPath}: expected one ramping-arrival-rate scenario (the corregedoria's profile), found ${ramping.length} ` +
          `among ${scenarios.map(([n, s]) => `${n} (${String(s.executor)})`).join(", ") || "none"}`,
      );
    }
    const [name, sc] = ramping[0];
    const perSecond = 1 / durationSeconds(sc.timeUnit ?? "1s", `${scriptPath} scenario ${name} timeUnit`);
    const stages = ((sc.stages as { target: unknown; duration: unknown }[]) ?? []).map((st, i) => ({
      target: Number(st.target) * perSecond,
      seconds: durationSeconds(st.duration, `${scriptPath} scenario ${name} stage ${i}`),
    }));
    return profileOf(Number(sc.startRate ?? 0) * perSecond, stages);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A profile from its start rate and stages (linear between stages, as k6 ramps). */
export function profileOf(startRate: number, stages: { target: number; seconds: number }[]): Profile {
  return {
    startRate,
    stages,
    length: stages.reduce((a, s) => a + s.seconds, 0),
    rateAt(t: number) {
      let from = startRate;
      for (const st of stages) {
        if (t < st.seconds) return from + ((st.target - from) * t) / st.seconds;
        t -= st.seconds;
        from = st.target;
      }
      return from;
    },
  };
}

/**
 * The profile played N times faster: every stage's duration divided by N, rates unchanged. What
 * it keeps: the rates, so the replica counts the HPA should reach. What it does not: the HPA's
 * clocks (15 s syncs, stabilisation windows, policy periods) and metrics-server's 15 s resolution
 * run in real time, so a compressed hold gives the HPA fewer syncs to reach the peak.
 */
export function compress(p: Profile, speed: number): Profile {
  if (!(speed >= 1)) throw new Error(`--speed ${speed}: expected a number ≥ 1`);
  return profileOf(
    p.startRate,
    p.stages.map((s) => ({ target: s.target, seconds: s.seconds / speed })),
  );
}

/** CPU (millicores) one request costs: at the throughput one replica sustains, it sits at the HPA's target. */
export function costPerRequestMilli(
  cpuRequestMilli: number,
  cpuUtilizationPct: number,
  replicaThroughputRps: number,
): number {
  if (replicaThroughputRps <= 0)
    throw new Error(`the throughput per replica is ${replicaThroughputRps} rps: no cost per request`);
  return (cpuRequestMilli * cpuUtilizationPct) / 100 / replicaThroughputRps;
}

/** What each Ready pod reports at `rps`: the load split evenly, never below a small floor (a zero is dropped). */
export function perPodUsage(
  rps: number,
  readyPods: number,
  cost: { cpuMilliPerRequest: number; memoryBaseMi: number; memoryMiPerRps: number },
): { cpuMilli: number; memoryMi: number } {
  const share = readyPods > 0 ? rps / readyPods : 0;
  return {
    cpuMilli: Math.max(1, Math.round(share * cost.cpuMilliPerRequest)),
    memoryMi: Math.max(1, Math.round(cost.memoryBaseMi + share * cost.memoryMiPerRps)),
  };
}

export interface HpaModel {
  minReplicas: number;
  maxReplicas: number;
  /** Requests per second one replica serves at the CPU target (the plan's throughput). */
  replicaThroughputRps: number;
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
  /** Seconds between the load and the metric the HPA sees (metrics-server's window; 0 = none). */
  metricLagSeconds: number;
}

function policyLimit(
  rules: ScalingRules,
  current: number,
  t: number,
  events: { t: number; delta: number }[],
  up: boolean,
): number {
  if (rules.selectPolicy === "Disabled") return current;
  const limits = rules.policies.map((p) => {
    const moved = events
      .filter((e) => e.t > t - p.periodSeconds && (up ? e.delta > 0 : e.delta < 0))
      .reduce((s, e) => s + Math.abs(e.delta), 0);
    const start = up ? current - moved : current + moved;
    const step = p.type === "Pods" ? p.value : Math.ceil((start * p.value) / 100);
    return up ? start + step : start - step;
  });
  const pick = (rules.selectPolicy === "Min") === up ? Math.min : Math.max;
  return pick(...limits);
}

/**
 * The plan's predicted replica timeline over a whole profile: every 15 s the HPA's arithmetic
 * (desired = ceil(current × utilisation / target), tolerance 0.1) on the load of `metricLagSeconds`
 * earlier, limited by the scale-up and scale-down policies and stabilised over their windows
 * (highest recommendation of the scale-down window, lowest of the scale-up one).
 */
export function predictTimeline(p: Profile, m: HpaModel, from: number): { t: number; replicas: number }[] {
  let current = Math.min(m.maxReplicas, Math.max(m.minReplicas, from));
  const timeline = [{ t: 0, replicas: current }];
  const recs: { t: number; value: number }[] = [{ t: 0, value: current }];
  const events: { t: number; delta: number }[] = [];
  for (let t = HPA_SYNC_SECONDS; t <= p.length + HPA_SYNC_SECONDS; t += HPA_SYNC_SECONDS) {
    const rps = p.rateAt(Math.max(0, Math.min(p.length, t - m.metricLagSeconds)));
    const ratio = rps / (current * m.replicaThroughputRps);
    const raw = Math.abs(ratio - 1) > HPA_TOLERANCE ? Math.ceil(current * ratio - 1e-9) : current;
    const desired = Math.min(m.maxReplicas, Math.max(m.minReplicas, raw));
    recs.push({ t, value: desired });
    const inWindow = (w: number) => recs.filter((r) => r.t >= t - w).map((r) => r.value);
    const upStable = Math.min(...inWindow(m.scaleUp.stabilizationWindowSeconds));
    const downStable = Math.max(...inWindow(m.scaleDown.stabilizationWindowSeconds));
    let next = current;
    if (upStable > current) next = Math.min(upStable, policyLimit(m.scaleUp, current, t, events, true));
    else if (downStable < current) next = Math.max(downStable, policyLimit(m.scaleDown, current, t, events, false));
    next = Math.min(m.maxReplicas, Math.max(m.minReplicas, next));
    if (next !== current) {
      events.push({ t, delta: next - current });
      current = next;
      timeline.push({ t, replicas: current });
    }
  }
  return timeline;
}

/** Replicas of a timeline at time t (the last step at or before it). */
export function replicasAt(timeline: { t: number; replicas: number }[], t: number): number {
  let r = timeline[0]?.replicas ?? 0;
  for (const s of timeline) if (s.t <= t) r = s.replicas;
  return r;
}

export interface Comparison {
  rows: { t: number; predicted: number; observed: number }[];
  predictedPeak: number;
  observedPeak: number;
  /** The largest |predicted − observed| at any sampled time. */
  largestDifference: number;
  /** Seconds from the start when the HPA first reached the predicted peak; null if never. */
  reachedPeakAt: number | null;
  ok: boolean;
  reasons: string[];
}

/** Predicted against observed, sampled every `step` seconds; fails past a difference of one replica at the peak. */
export function compare(
  predicted: { t: number; replicas: number }[],
  observed: { t: number; replicas: number }[],
  length: number,
  step = HPA_SYNC_SECONDS,
): Comparison {
  const rows: Comparison["rows"] = [];
  for (let t = 0; t <= length + 1e-9; t += step)
    rows.push({ t, predicted: replicasAt(predicted, t), observed: replicasAt(observed, t) });
  const inProfile = observed.filter((o) => o.t <= length);
  const predictedPeak = Math.max(...predicted.filter((o) => o.t <= length).map((s) => s.replicas));
  const observedPeak = Math.max(...inProfile.map((s) => s.replicas));
  const reached = inProfile.find((o) => o.replicas >= predictedPeak);
  const reasons: string[] = [];
  if (Math.abs(observedPeak - predictedPeak) > 1) {
    reasons.push(
      `the HPA's peak was ${observedPeak} replicas, the plan predicted ${predictedPeak} (more than one apart)`,
    );
  }
  if (!reached)
    reasons.push(
      `the HPA never reached the plan's peak of ${predictedPeak} replicas within the profile's ${Math.round(length)} s`,
    );
  return {
    rows,
    predictedPeak,
    observedPeak,
    largestDifference: Math.max(...rows.map((r) => Math.abs(r.predicted - r.observed))),
    reachedPeakAt: reached ? reached.t : null,
    ok: reasons.length === 0,
    reasons,
  };
}
