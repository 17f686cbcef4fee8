/**
 * The capacity plan: from the corregedoria's load profile, the throughput one
 * replica sustains at the HPA's CPU target, headroom and an N+1 spare, how many
 * replicas baseline and peak need, whether the HPA bounds cover them, and how
 * long the HPA takes to grow from minReplicas to the peak under its behavior.
 * Plain module: the stack output, `npm run capacity` and the tests share it.
 *
 * HPA arithmetic (Kubernetes autoscaling/v2): every 15 s,
 * desired = ceil(current × currentMetric / target), skipped while
 * |currentMetric/target − 1| ≤ 0.1; scale-up is limited by the policies over
 * their periods (selectPolicy picks the largest, smallest, or none) and
 * stabilised by taking the lowest recommendation of the window.
 */

export interface ScalingPolicy {
  type: "Pods" | "Percent";
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: "Max" | "Min" | "Disabled";
  policies: ScalingPolicy[];
}

export interface CapacityInput {
  baselineRps: number;
  peakRps: number;
  peakDurationSeconds: number;
  /** Requests per second one replica sustains at the CPU utilisation target. */
  replicaThroughputRps: number;
  /** Where the throughput comes from (a capacity run, or the config default). */
  throughputSource: string;
  /** Set when the throughput was measured: the method, the fixed replica count, the date. */
  measuredBy?: {
    method: string;
    replicas: number;
    measuredAt: string;
    /** The whole service's capacity at those replicas. */
    capacityRps: number;
    /** Every step met the SLO: the service can do at least this much. */
    lowerBound: boolean;
    limitedBy?: string;
  };
  /** Spare capacity over the need, as a fraction (0.2 = 20 %). */
  headroom: number;
  minReplicas: number;
  maxReplicas: number;
  scaleUp: ScalingRules;
}

export interface CapacityPlan {
  input: CapacityInput;
  /** Replicas the HPA converges to (ceil(load / throughput)). */
  hpaTargetAtBaseline: number;
  hpaTargetAtPeak: number;
  /** Planned replicas: with headroom and one spare (N+1). */
  neededAtBaseline: number;
  neededAtPeak: number;
  minCoversBaseline: boolean;
  maxCoversPeak: boolean;
  /** Seconds from minReplicas to the HPA's peak target; null when it never gets there. */
  secondsToScale: number | null;
  /** Replica count after each 15 s sync during the peak, until stable. */
  timeline: { t: number; replicas: number }[];
  ok: boolean;
  reasons: string[];
}

export const HPA_SYNC_SECONDS = 15;
export const HPA_TOLERANCE = 0.1;

function replicasFor(rps: number, throughput: number, headroom = 0, spare = 0): number {
  if (rps <= 0) return 1 + spare;
  return Math.max(1, Math.ceil((rps * (1 + headroom)) / throughput - 1e-9)) + spare;
}

/** The most replicas the scale-up policies allow at time `t`, given past scale events. */
function scaleUpLimit(rules: ScalingRules, current: number, t: number, events: { t: number; added: number }[]): number {
  if (rules.selectPolicy === "Disabled") return current;
  const limits = rules.policies.map((p) => {
    const addedInPeriod = events.filter((e) => e.t > t - p.periodSeconds).reduce((s, e) => s + e.added, 0);
    const periodStart = current - addedInPeriod;
    return p.type === "Pods" ? periodStart + p.value : Math.ceil(periodStart * (1 + p.value / 100));
  });
  return rules.selectPolicy === "Min" ? Math.min(...limits) : Math.max(...limits);
}

/**
 * Simulates the HPA under a step from the baseline to the peak load, starting at
 * max(minReplicas, the baseline target), until it is steady: its raw
 * recommendation no longer exceeds the current count (reached, or within the
 * 0.1 tolerance, or capped by maxReplicas). `seconds` is the time of the last
 * scale-up; null when scale-up is disabled while more replicas are wanted. New
 * pods count from the next sync (pod start-up time is not modelled).
 */
export function simulateScaleUp(input: CapacityInput): {
  seconds: number | null;
  timeline: { t: number; replicas: number }[];
} {
  const { peakRps, replicaThroughputRps: tp, maxReplicas, scaleUp } = input;
  let current = Math.max(input.minReplicas, Math.min(maxReplicas, replicasFor(input.baselineRps, tp)));
  const timeline = [{ t: 0, replicas: current }];
  const events: { t: number; added: number }[] = [];
  // Before the peak the HPA recommended the starting count at every sync.
  const recommendations: { t: number; value: number }[] = [];
  for (let t = -scaleUp.stabilizationWindowSeconds; t <= 0; t += HPA_SYNC_SECONDS)
    recommendations.push({ t, value: current });
  const limit = input.peakDurationSeconds + 3600;
  for (let t = HPA_SYNC_SECONDS; t <= limit; t += HPA_SYNC_SECONDS) {
    const ratio = peakRps / (current * tp);
    const raw = Math.abs(ratio - 1) > HPA_TOLERANCE ? Math.ceil(current * ratio - 1e-9) : current;
    const desired = Math.min(raw, maxReplicas);
    if (desired <= current) return { seconds: timeline[timeline.length - 1].t, timeline };
    if (scaleUp.selectPolicy === "Disabled") return { seconds: null, timeline };
    recommendations.push({ t, value: desired });
    // Scale-up stabilisation: the lowest recommendation within the window.
    const stabilised = Math.min(
      ...recommendations.filter((r) => r.t >= t - scaleUp.stabilizationWindowSeconds).map((r) => r.value),
    );
    const next = Math.max(current, Math.min(stabilised, scaleUpLimit(scaleUp, current, t, events)));
    if (next > current) {
      events.push({ t, added: next - current });
      current = next;
      timeline.push({ t, replicas: current });
    }
  }
  return { seconds: null, timeline };
}

export function planCapacity(input: CapacityInput): CapacityPlan {
  const reasons: string[] = [];
  if (input.replicaThroughputRps <= 0) {
    return {
      input,
      hpaTargetAtBaseline: Number.POSITIVE_INFINITY,
      hpaTargetAtPeak: Number.POSITIVE_INFINITY,
      neededAtBaseline: Number.POSITIVE_INFINITY,
      neededAtPeak: Number.POSITIVE_INFINITY,
      minCoversBaseline: false,
      maxCoversPeak: false,
      secondsToScale: null,
      timeline: [],
      ok: false,
      reasons: [
        `the throughput per replica is ${input.replicaThroughputRps} rps (${input.throughputSource}): no replica count serves the load; measure it with the load test or set scaling.replicaThroughputRps`,
      ],
    };
  }
  const tp = input.replicaThroughputRps;
  const hpaTargetAtBaseline = replicasFor(input.baselineRps, tp);
  const hpaTargetAtPeak = replicasFor(input.peakRps, tp);
  const neededAtBaseline = replicasFor(input.baselineRps, tp, input.headroom, 1);
  const neededAtPeak = replicasFor(input.peakRps, tp, input.headroom, 1);
  const minCoversBaseline = input.minReplicas >= neededAtBaseline;
  const maxCoversPeak = input.maxReplicas >= neededAtPeak;
  if (!minCoversBaseline) {
    reasons.push(
      `minReplicas ${input.minReplicas} is below the ${neededAtBaseline} replicas the baseline of ${input.baselineRps} rps needs (with headroom and N+1)`,
    );
  }
  if (!maxCoversPeak) {
    reasons.push(
      `maxReplicas ${input.maxReplicas} is below the ${neededAtPeak} replicas the peak of ${input.peakRps} rps needs (with headroom and N+1)`,
    );
  }
  const sim = simulateScaleUp(input);
  if (sim.seconds === null) {
    reasons.push(`the HPA never grows to serve the peak: scale-up is disabled (behavior.scaleUp.selectPolicy)`);
  } else if (sim.seconds > input.peakDurationSeconds) {
    reasons.push(
      `the HPA needs ${sim.seconds} s to grow from ${sim.timeline[0].replicas} to ${sim.timeline[sim.timeline.length - 1].replicas} replicas, longer than the ${input.peakDurationSeconds} s peak`,
    );
  }
  return {
    input,
    hpaTargetAtBaseline,
    hpaTargetAtPeak,
    neededAtBaseline,
    neededAtPeak,
    minCoversBaseline,
    maxCoversPeak,
    secondsToScale: sim.seconds,
    timeline: sim.timeline,
    ok: reasons.length === 0,
    reasons,
  };
}

/** What `kubectl describe hpa` shows of the rules, followed by the plan and its verdict. */
export function formatPlan(
  plan: CapacityPlan,
  hpa: { name: string; namespace: string; cpu: number; memory: number; scaleDown: ScalingRules },
): string {
  const i = plan.input;
  const rules = (r: ScalingRules) => [
    `    Stabilization Window: ${r.stabilizationWindowSeconds} seconds`,
    `    Select Policy: ${r.selectPolicy}`,
    `    Policies:`,
    ...r.policies.map(
      (p) => `      - Type: ${p.type.padEnd(7)} Value: ${String(p.value).padEnd(4)} Period: ${p.periodSeconds} seconds`,
    ),
  ];
  const lines = [
    `Name:                                                  ${hpa.name}`,
    `Namespace:                                             ${hpa.namespace}`,
    `Reference:                                             Deployment/${hpa.name}`,
    `Metrics:                                               ( current / target )`,
    `  resource cpu on pods  (as a percentage of request):  <unknown> / ${hpa.cpu}%`,
    `  resource memory on pods  (as a percentage of request):  <unknown> / ${hpa.memory}%`,
    `Min replicas:                                          ${i.minReplicas}`,
    `Max replicas:                                          ${i.maxReplicas}`,
    `Behavior:`,
    `  Scale Up:`,
    ...rules(i.scaleUp),
    `  Scale Down:`,
    ...rules(hpa.scaleDown),
    ``,
    `Capacity plan (corregedoria profile)`,
    `  Throughput per replica at ${hpa.cpu}% CPU:  ${i.replicaThroughputRps} rps (${i.throughputSource})`,
    ...(i.measuredBy
      ? [
          `  Measured:                           ${i.measuredBy.capacityRps} rps${i.measuredBy.lowerBound ? " or more" : ""} at ${i.measuredBy.replicas} fixed replicas, ${i.measuredBy.measuredAt}`,
          `  Method:                             ${i.measuredBy.method}`,
          ...(i.measuredBy.limitedBy ? [`  Knee:                               ${i.measuredBy.limitedBy}`] : []),
        ]
      : []),
    `  Headroom / spare:                   ${Math.round(i.headroom * 100)} % / N+1`,
    `  Baseline ${String(i.baselineRps).padStart(6)} rps:  HPA target ${plan.hpaTargetAtBaseline}, planned ${plan.neededAtBaseline} replicas  (min ${i.minReplicas}: ${plan.minCoversBaseline ? "covers" : "SHORT"})`,
    `  Peak     ${String(i.peakRps).padStart(6)} rps:  HPA target ${plan.hpaTargetAtPeak}, planned ${plan.neededAtPeak} replicas  (max ${i.maxReplicas}: ${plan.maxCoversPeak ? "covers" : "SHORT"})`,
    `  Scale-up from ${plan.timeline[0]?.replicas ?? "-"}:  ${plan.secondsToScale === null ? "never reaches the peak target" : `${plan.secondsToScale} s`} (peak lasts ${i.peakDurationSeconds} s)` +
      (plan.timeline.length > 1 ? `  [${plan.timeline.map((s) => `${s.t}s:${s.replicas}`).join(" → ")}]` : ""),
    ``,
    plan.ok
      ? `Verdict: OK — the rules serve the corregedoria's peak`
      : `Verdict: NOT OK\n${plan.reasons.map((r) => `  - ${r}`).join("\n")}`,
  ];
  return lines.join("\n");
}
