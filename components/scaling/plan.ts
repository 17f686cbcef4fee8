/** The capacity plan's inputs from the stack config and, when there is one, a capacity measurement. */
import type { PlatformConfig } from "../config/schema";
import { CapacityInput, CapacityPlan, planCapacity } from "./capacity";

import type { CapacityMeasurement } from "../loadtest/measure";

/** What the plan says of a measured throughput: how, at how many replicas, when. */
export function measuredBy(m: CapacityMeasurement): NonNullable<CapacityInput["measuredBy"]> {
  return {
    method: m.method,
    replicas: m.replicas,
    measuredAt: m.measuredAt,
    capacityRps: m.capacityRps,
    lowerBound: m.lowerBound,
    ...(m.limitedBy ? { limitedBy: m.limitedBy } : {}),
  };
}

export function capacityInput(cfg: PlatformConfig, measured?: CapacityMeasurement): CapacityInput {
  return {
    baselineRps: cfg.loadtest.profile.baselineRps,
    peakRps: cfg.loadtest.profile.peakRps,
    peakDurationSeconds: cfg.loadtest.profile.peakDurationSeconds,
    replicaThroughputRps: measured?.perReplicaRps ?? cfg.scaling.replicaThroughputRps,
    throughputSource: measured
      ? `capacity run ${measured.measuredAt}, ${measured.replicas} fixed replicas`
      : "config scaling.replicaThroughputRps (not measured)",
    ...(measured ? { measuredBy: measuredBy(measured) } : {}),
    headroom: cfg.scaling.headroom,
    minReplicas: cfg.scaling.minReplicas,
    maxReplicas: cfg.scaling.maxReplicas,
    scaleUp: cfg.scaling.behavior.scaleUp,
  };
}

export function capacityPlan(cfg: PlatformConfig, measured?: CapacityMeasurement): CapacityPlan {
  return planCapacity(capacityInput(cfg, measured));
}
