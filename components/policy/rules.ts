/**
 * Rule logic over plain Kubernetes objects, one function per catalogue rule.
 * No Pulumi import: the CrossGuard pack wraps these, and the parity tests run
 * them over the same documents conftest sees.
 */
import type { Parameters } from "./catalogue";

/** A Kubernetes object as YAML or a Pulumi resource's inputs give it. */
export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

export type RuleCheck = (obj: K8sObject, params: Parameters) => string[];

function who(obj: K8sObject): string {
  const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}/` : "";
  return `${obj.kind} ${ns}${obj.metadata?.name ?? "<unnamed>"}`;
}

export const RULES: Record<string, RuleCheck> = {
  "CART-LGPD-001": (obj, p) => {
    const labels = obj.metadata?.labels ?? {};
    const out = p.requiredLabels
      .filter((l) => !(l in labels))
      .map((l) => `CART-LGPD-001: ${who(obj)} lacks the label ${l}`);
    const cls = labels[p.dataClassificationLabel];
    if (cls !== undefined && !p.dataClassifications.includes(cls)) {
      out.push(
        `CART-LGPD-001: ${who(obj)} has ${p.dataClassificationLabel}=${cls}; expected one of ${p.dataClassifications.join(", ")}`,
      );
    }
    return out;
  },
  "CART-SCL-001": (obj, p) => {
    if (obj.metadata?.labels?.[p.citizenFacingLabel] !== "true") return [];
    const min = (obj.spec?.minReplicas as number | undefined) ?? 1;
    return min < p.minReplicasCitizenFacing
      ? [
          `CART-SCL-001: ${who(obj)} sets minReplicas ${min}; citizen-facing workloads need at least ${p.minReplicasCitizenFacing}`,
        ]
      : [];
  },
};
