/**
 * Turning Pulumi resources (as the pack sees them) into the documents the rules
 * read: Kubernetes resources become their objects, HSM key resources together
 * become a KmsInventory. Plain module.
 */
import type { K8sObject } from "./rules";

/** Kubernetes resource types are kubernetes:<group>/<version>:<Kind>; yaml, helm and kustomize are wrappers, not objects. */
export function k8sDoc(type: string, props: Record<string, unknown>): K8sObject | undefined {
  const m = /^kubernetes:([^:]+):([A-Za-z0-9]+)$/.exec(type);
  if (!m || /^(yaml|helm\.sh|kustomize)(\/|$)/.test(m[1])) return undefined;
  return { ...(props as K8sObject), kind: (props.kind as string | undefined) ?? m[2] };
}

export const HSM_KEY_TYPE = "pulumi-nodejs:dynamic/cartorio:HsmKey";

interface HsmKeyProps {
  token?: { name?: string; label?: string };
  key?: { id?: string; version?: number; algorithm?: string; curve?: string; size?: number; purpose?: string };
  lifecycle?: { cryptoperiodDays?: number; activatedOn?: string; state?: string };
}

/** The stack's HSM keys as one KmsInventory document (undefined when the stack has none). */
export function inventoryFromResources(
  resources: { type: string; props: Record<string, unknown> }[],
  name: string,
): K8sObject | undefined {
  const keys = resources.filter((r) => r.type === HSM_KEY_TYPE).map((r) => r.props as HsmKeyProps);
  if (keys.length === 0) return undefined;
  const tokens = [...new Set(keys.map((k) => k.token?.name).filter((n): n is string => !!n))].sort();
  return {
    apiVersion: "cartorio.digital/v1",
    kind: "KmsInventory",
    metadata: { name },
    tokens: tokens.map((t) => ({ name: t })),
    keys: keys.map((k) => ({ ...k.key, token: k.token?.name, ...k.lifecycle })),
  };
}
