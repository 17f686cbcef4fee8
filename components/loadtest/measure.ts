/**
 * Capacity measured honestly: at a fixed replica count, a stepped open model
 * (testes/performance/capacidade.js) holds each arrival rate for a while and
 * judges each step on its own samples; the capacity is the highest rate of the
 * unbroken run of steps that met the SLO. Only this feeds the capacity plan —
 * not the achieved rate of the corregedoria's profile, which is the profile's
 * average whatever the service can do, measured while the HPA scales.
 * Plain module (no Pulumi import): the provider, operator commands and tests share it.
 */
import type { LoadThresholds } from "./runner";
import { SummaryError } from "./summary";

export interface SteppedProfile {
  /** Arrival rate of the first step, requests per second. */
  startRps: number;
  /** Added at each step. */
  stepRps: number;
  steps: number;
  stepSeconds: number;
  maxVUs: number;
}

export interface StepResult {
  step: string;
  targetRps: number;
  /** Requests the step made, divided by its length. */
  achievedRps: number;
  p95Ms: number | null;
  p99Ms: number | null;
  errorRate: number | null;
  dropped: number;
  /** false when the run stopped before the step (a lower step missed the SLO). */
  reached: boolean;
  ok: boolean;
  /** The step's thresholds that failed. */
  failed: string[];
}

export interface CapacityMeasurement {
  method: string;
  /** The fixed replica count the service ran at. */
  replicas: number;
  /** Highest arrival rate that met the SLO, for the whole service; 0 when the first step missed it. */
  capacityRps: number;
  perReplicaRps: number;
  /** Every step passed: the capacity is at least capacityRps (more steps would find the knee). */
  lowerBound: boolean;
  /** The step that ended the measurement and why; absent when every step passed. */
  limitedBy?: string;
  steps: StepResult[];
  measuredAt: string;
}

export function stepName(i: number): string {
  return `passo_${String(i + 1).padStart(2, "0")}`;
}

export function stepRates(p: SteppedProfile): number[] {
  return Array.from({ length: p.steps }, (_, i) => p.startRps + i * p.stepRps);
}

/** The -e variables testes/performance/capacidade.js reads. */
export function steppedEnv(target: string, p: SteppedProfile, t: LoadThresholds): Record<string, string> {
  return {
    TARGET_URL: target,
    START_RPS: String(p.startRps),
    STEP_RPS: String(p.stepRps),
    STEPS: String(p.steps),
    STEP_SECONDS: String(p.stepSeconds),
    MAX_VUS: String(p.maxVUs),
    P95_MS: String(t.p95Ms),
    P99_MS: String(t.p99Ms),
    ERROR_RATE: String(t.errorRate),
  };
}

interface Metric {
  values?: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

/** Judges each step from the k6 summary (sub-metrics tagged scenario:passo_NN) and finds the knee. */
export function judgeSteps(
  summaryText: string,
  p: SteppedProfile,
  replicas: number,
  measuredAt: string,
): CapacityMeasurement {
  let metrics: Record<string, Metric>;
  try {
    metrics = (JSON.parse(summaryText) as { metrics?: Record<string, Metric> }).metrics ?? {};
  } catch (e) {
    throw new SummaryError(`the k6 summary is not JSON: ${(e as Error).message}`);
  }
  const rates = stepRates(p);
  let stopped = false;
  let capacityRps = 0;
  let limitedBy: string | undefined;
  const steps = rates.map((targetRps, i): StepResult => {
    const s = stepName(i);
    const m = (base: string): Metric | undefined => metrics[`${base}{scenario:${s}}`];
    const reqs = m("http_reqs");
    if (!reqs)
      throw new SummaryError(
        `the k6 summary has no http_reqs{scenario:${s}}: the script must declare the step scenarios and their thresholds (testes/performance/capacidade.js)`,
      );
    const v = (mm: Metric | undefined, k: string) =>
      mm?.values && typeof mm.values[k] === "number" ? mm.values[k] : null;
    const count = v(reqs, "count") ?? 0;
    const failed = ["http_req_duration", "http_req_failed", "dropped_iterations"].flatMap((base) =>
      Object.entries(m(base)?.thresholds ?? {})
        .filter(([, t]) => t.ok !== true)
        .map(([expr]) => `${base} ${expr}`),
    );
    // A step the run never got to (stopped after a lower one failed) has (almost) no samples.
    const reached = !stopped && count >= targetRps * p.stepSeconds * 0.5;
    const ok = reached && failed.length === 0;
    const result: StepResult = {
      step: s,
      targetRps,
      achievedRps: Math.round((count / p.stepSeconds) * 100) / 100,
      p95Ms: v(m("http_req_duration"), "p(95)"),
      p99Ms: v(m("http_req_duration"), "p(99)"),
      errorRate: v(m("http_req_failed"), "rate"),
      dropped: v(m("dropped_iterations"), "count") ?? 0,
      reached,
      ok,
      failed,
    };
    if (!stopped) {
      if (ok) capacityRps = targetRps;
      else {
        stopped = true;
        limitedBy = reached
          ? `${s} (${targetRps} rps) missed the SLO: ${failed.join("; ")}`
          : `${s} (${targetRps} rps) delivered only ${count} of ${targetRps * p.stepSeconds} requests`;
      }
    }
    return result;
  });
  return {
    method: `stepped constant arrival rate, ${p.startRps}+${p.stepRps}×i rps for ${p.stepSeconds} s per step (${p.steps} steps), SLO judged per step`,
    replicas,
    capacityRps,
    perReplicaRps: Math.round((capacityRps / replicas) * 100) / 100,
    lowerBound: !stopped,
    ...(limitedBy ? { limitedBy } : {}),
    steps,
    measuredAt,
  };
}

/** The whole run's length if no step fails. */
export function steppedSeconds(p: SteppedProfile): number {
  return p.steps * p.stepSeconds;
}

interface ScaledDeployment {
  spec?: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number };
}
interface HpaView {
  metadata?: { name?: string };
  spec?: { scaleTargetRef?: { kind?: string; name?: string }; minReplicas?: number; maxReplicas?: number };
}

/**
 * Whether the Deployment under a capacity run holds `replicas` for the whole run: its spec says so, that many
 * are ready, and no HPA can move it (none targets it, or min = max = replicas). Every reason why not, else undefined.
 */
export function replicasHeldProblem(
  where: { namespace: string; deployment: string },
  replicas: number,
  dep: ScaledDeployment | string,
  hpas: { items?: HpaView[] } | string,
): string | undefined {
  const name = `Deployment ${where.namespace}/${where.deployment}`;
  if (typeof dep === "string") return `${name} could not be read: ${dep}`;
  if (typeof hpas === "string") return `the HorizontalPodAutoscalers of ${where.namespace} could not be read: ${hpas}`;
  const problems: string[] = [];
  const want = dep.spec?.replicas ?? 1;
  if (want !== replicas)
    problems.push(`${name} asks for ${want} replicas, not loadtest.capacity.replicas (${replicas})`);
  const moving = (hpas.items ?? []).filter(
    (h) =>
      h.spec?.scaleTargetRef?.kind === "Deployment" &&
      h.spec.scaleTargetRef.name === where.deployment &&
      !(h.spec.minReplicas === replicas && h.spec.maxReplicas === replicas),
  );
  if (moving.length > 0)
    problems.push(
      `${name} is scaled by HorizontalPodAutoscaler ${moving.map((h) => `${h.metadata?.name} (min ${h.spec?.minReplicas ?? 1}, max ${h.spec?.maxReplicas})`).join(", ")}: hold it at min = max = ${replicas} for the run or point loadtest.capacity at a deployment without one`,
    );
  // Fewer ready replicas than counted would measure a smaller service and call it this one.
  if ((dep.status?.readyReplicas ?? 0) !== replicas)
    problems.push(
      `${name} has ${dep.status?.readyReplicas ?? 0} of ${replicas} replicas ready; the run would measure fewer than it counts`,
    );
  return problems.length ? problems.join("; ") : undefined;
}
