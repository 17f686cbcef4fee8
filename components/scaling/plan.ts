/** The capacity plan's inputs from the stack config and, when there is one, a load-test measurement. */
import type { PlatformConfig } from "../config/schema";
import { CapacityInput, CapacityPlan, planCapacity } from "./capacity";

export interface ThroughputMeasurement {
  /** Requests per second one replica sustained at the CPU target. */
  replicaThroughputRps: number;
  /** Where it comes from, e.g. "load test 2026-11-20T10:00Z". */
  source: string;
}

export function capacityInput(cfg: PlatformConfig, measured?: ThroughputMeasurement): CapacityInput {
  return {
    baselineRps: cfg.loadtest.profile.baselineRps,
    peakRps: cfg.loadtest.profile.peakRps,
    peakDurationSeconds: cfg.loadtest.profile.peakDurationSeconds,
    replicaThroughputRps: measured?.replicaThroughputRps ?? cfg.scaling.replicaThroughputRps,
    throughputSource: measured?.source ?? "config scaling.replicaThroughputRps",
    headroom: cfg.scaling.headroom,
    minReplicas: cfg.scaling.minReplicas,
    maxReplicas: cfg.scaling.maxReplicas,
    scaleUp: cfg.scaling.behavior.scaleUp,
  };
}

export function capacityPlan(cfg: PlatformConfig, measured?: ThroughputMeasurement): CapacityPlan {
  return planCapacity(capacityInput(cfg, measured));
}
