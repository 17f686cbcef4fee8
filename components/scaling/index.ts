/**
 * Scaling of cartorio-api: its namespace (Pod Security restricted, closed by a
 * default-deny NetworkPolicy), the HorizontalPodAutoscaler that owns its
 * replica count, and a PodDisruptionBudget consistent with the HPA's minimum.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ScalingConfig, WorkloadConfig } from "../config/schema";
import { LABELS, platformLabels } from "../platform/labels";
import { pdbMaxUnavailable } from "./rules";

export interface ScalingArgs {
  /** Namespace, deployment, owner and data classification of the workload. */
  workload: pulumi.Input<WorkloadConfig>;
  /** HPA bounds, utilisation targets and behavior. */
  scaling: pulumi.Input<ScalingConfig>;
}

export class Scaling extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly hpaName: pulumi.Output<string>;
  public readonly minReplicas: pulumi.Output<number>;
  public readonly maxReplicas: pulumi.Output<number>;

  constructor(name: string, args: ScalingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cartorio:scaling:Scaling", name, {}, opts);
    const w = pulumi.output(args.workload);
    const s = pulumi.output(args.scaling);

    const baseLabels = w.apply((wl) =>
      platformLabels({ [LABELS.owner]: wl.owner, [LABELS.dataClassification]: wl.dataClassification }),
    );

    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: w.namespace,
          labels: pulumi.all([baseLabels, w]).apply(([l, wl]) => ({
            ...l,
            [LABELS.name]: wl.namespace,
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
          })),
        },
      },
      // The namespace holds the citizens' workload: never delete it by accident.
      { parent: this, retainOnDelete: true },
    );

    // Every namespace starts closed (CART-NET-003); manifests/ opens what the workload needs.
    new k8s.networking.v1.NetworkPolicy(
      `${name}-default-deny`,
      {
        metadata: { name: "default-deny", namespace: ns.metadata.name, labels: baseLabels },
        spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
      },
      { parent: this },
    );

    const appLabels = pulumi
      .all([baseLabels, w])
      .apply(([l, wl]) => ({ ...l, [LABELS.name]: wl.deployment, [LABELS.citizenFacing]: "true" }));

    const hpa = new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      `${name}-hpa`,
      {
        metadata: { name: w.deployment, namespace: ns.metadata.name, labels: appLabels },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: w.deployment },
          minReplicas: s.minReplicas,
          maxReplicas: s.maxReplicas,
          metrics: s.apply((sc) => [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: sc.cpuUtilization } },
            },
            {
              type: "Resource",
              resource: { name: "memory", target: { type: "Utilization", averageUtilization: sc.memoryUtilization } },
            },
          ]),
          behavior: s.behavior,
        },
      },
      { parent: this },
    );

    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      {
        metadata: { name: w.deployment, namespace: ns.metadata.name, labels: appLabels },
        spec: {
          maxUnavailable: s.minReplicas.apply(pdbMaxUnavailable),
          selector: { matchLabels: w.apply((wl) => ({ [LABELS.name]: wl.deployment })) },
        },
      },
      { parent: this },
    );

    this.namespace = ns.metadata.name;
    this.hpaName = hpa.metadata.name;
    this.minReplicas = s.minReplicas;
    this.maxReplicas = s.maxReplicas;
    this.registerOutputs({
      namespace: this.namespace,
      hpaName: this.hpaName,
      minReplicas: this.minReplicas,
      maxReplicas: this.maxReplicas,
    });
  }
}
