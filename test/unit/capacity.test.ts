/** The capacity plan against hand-computed cases (see the comments for the arithmetic). */
import { describe, expect, it } from "vitest";
import { CapacityInput, formatPlan, planCapacity, simulateScaleUp } from "../../components/scaling/capacity";

const defaults: CapacityInput = {
  baselineRps: 40,
  peakRps: 200,
  peakDurationSeconds: 600,
  replicaThroughputRps: 50,
  throughputSource: "config",
  headroom: 0.2,
  minReplicas: 3,
  maxReplicas: 20,
  // Kubernetes' default scale-up: no window, max(100 %, 4 pods) per 15 s.
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: "Max",
    policies: [
      { type: "Percent", value: 100, periodSeconds: 15 },
      { type: "Pods", value: 4, periodSeconds: 15 },
    ],
  },
};

// 1000 rps from 2 replicas with a slow scale-up policy: 2 pods per 60 s.
const slow: CapacityInput = {
  ...defaults,
  peakRps: 1000,
  minReplicas: 2,
  maxReplicas: 30,
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: "Max",
    policies: [{ type: "Pods", value: 2, periodSeconds: 60 }],
  },
};

describe("capacity plan", () => {
  it("default profile: needs 2 at baseline and 6 at peak, reached in one sync", () => {
    // baseline: ceil(40 × 1.2 / 50) = 1, +1 spare = 2; peak: ceil(200 × 1.2 / 50) = 5, +1 = 6.
    // HPA: from 3, ratio 200 / 150 = 1.33 > 1.1 → ceil(3 × 1.33) = 4 at t = 15 s.
    const p = planCapacity(defaults);
    expect(p).toMatchObject({
      hpaTargetAtBaseline: 1,
      hpaTargetAtPeak: 4,
      neededAtBaseline: 2,
      neededAtPeak: 6,
      minCoversBaseline: true,
      maxCoversPeak: true,
      secondsToScale: 15,
      ok: true,
    });
    expect(p.timeline).toEqual([
      { t: 0, replicas: 3 },
      { t: 15, replicas: 4 },
    ]);
  });

  it("a slow scale-up policy: 2 pods per 60 s from 2 to 20 takes 495 s", () => {
    // target ceil(1000 / 50) = 20; +2 at 15 s, then +2 each time the 60 s period clears: 75, 135, … 495.
    const sim = simulateScaleUp(slow);
    expect(sim.seconds).toBe(495);
    expect(sim.timeline.map((s) => s.t)).toEqual([0, 15, 75, 135, 195, 255, 315, 375, 435, 495]);
    expect(sim.timeline.map((s) => s.replicas)).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    expect(planCapacity(slow).ok).toBe(true);
  });

  it("a peak shorter than the time to scale fails, saying so", () => {
    const p = planCapacity({ ...slow, peakDurationSeconds: 300 });
    expect(p.ok).toBe(false);
    expect(p.reasons).toEqual(["the HPA needs 495 s to grow from 2 to 20 replicas, longer than the 300 s peak"]);
  });

  it("zero measured throughput is a failure, not a division by zero", () => {
    const p = planCapacity({ ...defaults, replicaThroughputRps: 0, throughputSource: "load test 2026-11-20" });
    expect(p.ok).toBe(false);
    expect(p.reasons[0]).toMatch(/throughput per replica is 0 rps \(load test 2026-11-20\)/);
    expect(p.secondsToScale).toBeNull();
  });

  it("no headroom: only the N+1 spare is added", () => {
    // ceil(40 / 50) = 1 + 1 = 2; ceil(200 / 50) = 4 + 1 = 5.
    const p = planCapacity({ ...defaults, headroom: 0 });
    expect([p.neededAtBaseline, p.neededAtPeak]).toEqual([2, 5]);
  });

  it("maxReplicas below the peak need fails, naming both numbers", () => {
    const p = planCapacity({ ...defaults, maxReplicas: 4 });
    expect(p.maxCoversPeak).toBe(false);
    expect(p.reasons).toContain(
      "maxReplicas 4 is below the 6 replicas the peak of 200 rps needs (with headroom and N+1)",
    );
  });

  it("minReplicas below the baseline need fails", () => {
    // ceil(300 × 1.2 / 50) = 8, +1 = 9 > 3.
    const p = planCapacity({ ...defaults, baselineRps: 300, peakRps: 400 });
    expect(p.minCoversBaseline).toBe(false);
    expect(p.reasons[0]).toBe(
      "minReplicas 3 is below the 9 replicas the baseline of 300 rps needs (with headroom and N+1)",
    );
  });

  it("inside the 0.1 tolerance the HPA does not scale", () => {
    // 160 / (3 × 50) = 1.067 ≤ 1.1: steady at 3.
    const sim = simulateScaleUp({ ...defaults, peakRps: 160 });
    expect(sim).toEqual({ seconds: 0, timeline: [{ t: 0, replicas: 3 }] });
  });

  it("a scale-up stabilisation window delays the first step by the window", () => {
    // 60 s window: the lowest recommendation in [t-60, t] stays 3 until t = 75.
    const sim = simulateScaleUp({ ...defaults, scaleUp: { ...defaults.scaleUp, stabilizationWindowSeconds: 60 } });
    expect(sim.seconds).toBe(75);
  });

  it("disabled scale-up never serves the peak", () => {
    const p = planCapacity({ ...defaults, scaleUp: { ...defaults.scaleUp, selectPolicy: "Disabled" } });
    expect(p.ok).toBe(false);
    expect(p.secondsToScale).toBeNull();
  });

  it("a new measurement changes the plan", () => {
    const before = planCapacity(defaults);
    const after = planCapacity({ ...defaults, replicaThroughputRps: 20, throughputSource: "load test" });
    // ceil(200 × 1.2 / 20) = 12, +1 = 13.
    expect(after.neededAtPeak).toBe(13);
    expect(after.neededAtPeak).not.toBe(before.neededAtPeak);
  });

  it("prints what kubectl describe hpa shows, then the verdict", () => {
    const text = formatPlan(planCapacity({ ...defaults, maxReplicas: 4 }), {
      name: "cartorio-api",
      namespace: "cartorio",
      cpu: 70,
      memory: 80,
      scaleDown: {
        stabilizationWindowSeconds: 300,
        selectPolicy: "Max",
        policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
      },
    });
    expect(text).toMatch(/^Name:\s+cartorio-api$/m);
    expect(text).toMatch(/resource cpu on pods {2}\(as a percentage of request\):\s+<unknown> \/ 70%/);
    expect(text).toMatch(/Min replicas:\s+3/);
    expect(text).toMatch(/Stabilization Window: 300 seconds/);
    expect(text).toMatch(/Verdict: NOT OK\n {2}- maxReplicas 4 is below/);
  });
});
