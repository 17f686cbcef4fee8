/** Plain scaling rules shared by the component, the capacity plan and the tests. */

/**
 * PodDisruptionBudget.maxUnavailable for a workload that never runs below
 * `minReplicas`: allow evictions (never 0, which blocks node drains) while
 * keeping at least half of the minimum serving.
 */
export function pdbMaxUnavailable(minReplicas: number): number {
  return Math.max(1, Math.floor(minReplicas / 2));
}
