/**
 * Turning Pulumi resources (as the pack sees them) into the documents the rules
 * read: Kubernetes resources become their objects. (The KMS rules read the
 * stack's inventory file itself.) Plain module.
 */
import type { K8sObject } from "./rules";

/** Kubernetes resource types are kubernetes:<group>/<version>:<Kind>; yaml, helm and kustomize are wrappers, not objects. */
export function k8sDoc(type: string, props: Record<string, unknown>): K8sObject | undefined {
  const m = /^kubernetes:([^:]+):([A-Za-z0-9]+)$/.exec(type);
  if (!m || /^(yaml|helm\.sh|kustomize)(\/|$)/.test(m[1])) return undefined;
  return { ...(props as K8sObject), kind: (props.kind as string | undefined) ?? m[2] };
}
