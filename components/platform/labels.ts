/**
 * Label keys the platform stamps on what it creates. The policy catalogue
 * requires the same keys (policies/catalogue.yaml, parameters.requiredLabels).
 */
export const LABELS = {
  name: "app.kubernetes.io/name",
  partOf: "app.kubernetes.io/part-of",
  managedBy: "app.kubernetes.io/managed-by",
  owner: "cartorio.digital/owner",
  /** LGPD data classification (Lei 13.709/2018, art. 46). */
  dataClassification: "cartorio.digital/data-classification",
  /** Citizen-facing workloads must keep at least two replicas. */
  citizenFacing: "cartorio.digital/citizen-facing",
} as const;

export const PART_OF = "cartorio-plataforma";
export const MANAGED_BY = "pulumi";

/** The labels everything this program creates carries, plus any given. */
export function platformLabels(extra: Record<string, string> = {}): Record<string, string> {
  return { [LABELS.partOf]: PART_OF, [LABELS.managedBy]: MANAGED_BY, ...extra };
}
