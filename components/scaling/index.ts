/**
 * Scaling of cartorio-api: its namespace (Pod Security restricted, closed by a
 * default-deny NetworkPolicy), the HorizontalPodAutoscaler that owns its
 * replica count, and a PodDisruptionBudget consistent with the HPA's minimum.
 * The objects themselves are built by plain functions (./objects).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ScalingConfig, WorkloadConfig } from "../config/schema";
import { defaultDenyObject, hpaObject, namespaceObject, pdbObject } from "./objects";

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
    const both = pulumi.all([w, s]);

    const nsObj = w.apply(namespaceObject);
    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: nsObj.metadata },
      // The namespace holds the citizens' workload: never delete it by accident.
      { parent: this, retainOnDelete: true },
    );
    // Children name the namespace through the resource, so they wait for it.
    const inNamespace = <T extends { metadata: object }>(o: pulumi.Output<T>) =>
      pulumi.all([o, ns.metadata.name]).apply(([obj, n]) => ({ ...obj.metadata, namespace: n }));

    const deny = w.apply(defaultDenyObject);
    // The guard rails stay on destroy (and are adopted by the next up): the workload they guard is Flux's and
    // keeps running, so removing them would leave it unprotected, unscaled and without a disruption budget.
    new k8s.networking.v1.NetworkPolicy(
      `${name}-default-deny`,
      { metadata: inNamespace(deny), spec: deny.spec },
      { parent: this, retainOnDelete: true },
    );

    const hpaObj = both.apply(([wl, sc]) => hpaObject(wl, sc));
    const hpa = new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      `${name}-hpa`,
      { metadata: inNamespace(hpaObj), spec: hpaObj.spec },
      { parent: this, retainOnDelete: true },
    );

    const pdbObj = both.apply(([wl, sc]) => pdbObject(wl, sc));
    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      { metadata: inNamespace(pdbObj), spec: pdbObj.spec },
      { parent: this, retainOnDelete: true },
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
