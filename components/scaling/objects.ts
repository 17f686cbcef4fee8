/**
 * The Kubernetes objects of the scaling area, built from config by plain
 * functions: the Scaling component applies them, and the model-vs-API test
 * sends the same objects to a real API server (server-side dry-run) to prove
 * that whatever the config model accepts, the API server accepts too.
 */
import type { ScalingConfig, WorkloadConfig } from "../config/schema";
import { LABELS, platformLabels } from "../platform/labels";
import { pdbMaxUnavailable } from "./rules";

/** Labels of everything the area creates. */
export function baseLabels(w: WorkloadConfig): Record<string, string> {
  return platformLabels({ [LABELS.owner]: w.owner, [LABELS.dataClassification]: w.dataClassification });
}

/** The workload's own labels (HPA, PDB). */
export function appLabels(w: WorkloadConfig): Record<string, string> {
  return { ...baseLabels(w), [LABELS.name]: w.deployment, [LABELS.citizenFacing]: "true" };
}

/**
 * The program is the only owner of these objects: a change made by hand (kubectl
 * edit/patch takes the field) is overwritten by the next `pulumi up --refresh`
 * instead of failing it with a server-side apply conflict.
 */
const OWNED = { "pulumi.com/patchForce": "true" };

/** Namespace of the workload: Pod Security "restricted", enforced, audited and warned. */
export function namespaceObject(w: WorkloadConfig) {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: w.namespace,
      labels: {
        ...baseLabels(w),
        [LABELS.name]: w.namespace,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
      },
    },
  };
}

/** Every namespace starts closed (CART-NET-003); manifests/ opens what the workload needs. */
export function defaultDenyObject(w: WorkloadConfig) {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "default-deny", namespace: w.namespace, labels: baseLabels(w), annotations: OWNED },
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  };
}

/** Metadata of the workload's own objects (HPA, PDB): named after the Deployment. */
function appMetadata(w: WorkloadConfig) {
  return { name: w.deployment, namespace: w.namespace, labels: appLabels(w), annotations: OWNED };
}

const utilisation = (name: "cpu" | "memory", averageUtilization: number) => ({
  type: "Resource",
  resource: { name, target: { type: "Utilization", averageUtilization } },
});

export function hpaObject(w: WorkloadConfig, s: ScalingConfig) {
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: appMetadata(w),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: w.deployment },
      minReplicas: s.minReplicas,
      maxReplicas: s.maxReplicas,
      metrics: [utilisation("cpu", s.cpuUtilization), utilisation("memory", s.memoryUtilization)],
      behavior: s.behavior,
    },
  };
}

/**
 * At most half the HPA's minimum may be disrupted at once (never 0: that blocks node drains), and a pod that
 * is not Ready (crash-looping) may always be evicted: it serves nobody, and counting it would block drains.
 */
export function pdbObject(w: WorkloadConfig, s: ScalingConfig) {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: appMetadata(w),
    spec: {
      maxUnavailable: pdbMaxUnavailable(s.minReplicas),
      unhealthyPodEvictionPolicy: "AlwaysAllow",
      selector: { matchLabels: { [LABELS.name]: w.deployment } },
    },
  };
}
