/**
 * The load gate: k6 runs of the corregedoria's profile as part of the
 * deployment. With parallelism 1 the LoadTest resource runs k6 from here; above
 * that, a k6-operator TestRun spreads the same script over N runner pods.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import type { LoadtestConfig } from "../config/schema";
import { LABELS, platformLabels } from "../platform/labels";
import { CapacityMeasurement, steppedEnv } from "./measure";
import { CapacityRun, LoadTest, RolloutWait, TestRunResult } from "./provider";
import { imageTrigger } from "./rollout";
import type { TestRunVerdict } from "./testrun";
import { distributedSettings, networkPolicies, TestRunInputs, testRunName, testRunSpec } from "./distributed";
import { invocationArgs, scriptDigest, scriptEnv } from "./runner";
import type { LoadTestResult } from "./summary";

export interface LoadGateArgs {
  /** cartorio-plataforma:loadtest (target required). */
  loadtest: LoadtestConfig;
  /** Project folder; the script path and progress file resolve against it. */
  projectRoot: string;
  /** Namespace of the distributed runners. */
  namespace: pulumi.Input<string>;
  /**
   * Kubeconfig context to read a distributed run's results from; undefined when
   * objects are only rendered (no cluster to read from).
   */
  clusterContext?: string;
  /** Kubeconfig file for that context; empty for the ambient one. */
  clusterKubeconfig?: string;
  /**
   * The workload under test and the images its manifests declare: the default trigger, and (in
   * cluster mode) the rollout the gate waits for before it measures.
   */
  workload: { namespace: string; deployment: string; images: string[] };
}

export class LoadGate extends pulumi.ComponentResource {
  /** The run's measurements; undefined in distributed mode (read from the runners). */
  public readonly result?: pulumi.Output<LoadTestResult>;
  public readonly finishedAt?: pulumi.Output<string>;
  public readonly testRunName?: pulumi.Output<string>;
  /** A distributed run's outcome, read from its runner pods. */
  public readonly distributedVerdict?: pulumi.Output<TestRunVerdict>;

  constructor(name: string, args: LoadGateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cartorio:loadtest:LoadGate", name, {}, opts);
    const l = args.loadtest;
    const scriptPath = path.resolve(args.projectRoot, l.script);
    const spec = {
      k6Path: l.k6Path,
      scriptPath,
      target: l.target!,
      profile: l.profile,
      thresholds: l.thresholds,
      timeoutSeconds: l.timeoutSeconds,
      progressFile: path.resolve(args.projectRoot, l.progressFile),
    };

    // A new release (its images) runs the gate again unless loadtest.trigger says otherwise; in cluster
    // mode the gate starts once that release's rollout is complete.
    const trigger = l.trigger || imageTrigger(args.workload.images);
    const rollout =
      args.clusterContext !== undefined
        ? new RolloutWait(
            `${name}-rollout`,
            {
              target: {
                kubeconfig: args.clusterKubeconfig ?? "",
                context: args.clusterContext,
                namespace: args.workload.namespace,
                name: args.workload.deployment,
                images: args.workload.images,
                timeoutSeconds: l.timeoutSeconds,
              },
            },
            { parent: this },
          )
        : undefined;
    const afterRollout = rollout ? [rollout] : [];

    if (l.parallelism === 1) {
      const run = new LoadTest(
        `${name}-k6`,
        {
          spec,
          scriptSha256: scriptDigest(scriptPath),
          trigger,
          mode: l.mode,
        },
        { parent: this, dependsOn: afterRollout },
      );
      this.result = run.result;
      this.finishedAt = run.finishedAt;
      if (l.mode === "advisory") {
        run.result.apply((r) => {
          if (r && !r.passed) {
            const failed = r.thresholds.filter((t) => !t.ok).map((t) => `${t.metric}: ${t.expression}`);
            pulumi.log.warn(`load test thresholds failed (advisory mode, not stopping): ${failed.join("; ")}`, run);
          }
        });
      }
    } else {
      const labels = platformLabels({ [LABELS.name]: "cartorio-loadtest" });
      const script = new k8s.core.v1.ConfigMap(
        `${name}-script`,
        {
          metadata: { name: "cartorio-loadtest-script", namespace: args.namespace, labels },
          data: { "producao.js": fs.readFileSync(scriptPath, "utf8") },
        },
        { parent: this },
      );
      // Same -e variables as a local run; the operator adds the script path and its own flags. Runner pods
      // exit 99 when thresholds fail; the TestRun's status does not say so (k6-operator #577).
      const scriptSha256 = scriptDigest(scriptPath);
      const run: TestRunInputs = {
        parallelism: l.parallelism,
        script: { configMap: "cartorio-loadtest-script", file: "producao.js" },
        args: invocationArgs({ ...spec, env: scriptEnv(spec, "/tmp/summary.json") }).slice(1, -1),
        scriptSha256,
        trigger,
        settings: distributedSettings(l.distributed),
        labels,
      };
      // The namespace's default deny stays; these open only what a run needs.
      const policies = pulumi.output(args.namespace).apply((ns) =>
        networkPolicies({
          namespace: ns,
          target: spec.target,
          labels,
          operatorNamespace: run.settings.operatorNamespace,
        }),
      );
      const netpols = ["runner", "starter"].map(
        (role, i) =>
          new k8s.networking.v1.NetworkPolicy(
            `${name}-${role}`,
            {
              metadata: policies.apply((p) => p[i].metadata),
              spec: policies.apply((p) => p[i].spec) as pulumi.Input<k8s.types.input.networking.v1.NetworkPolicySpec>,
            },
            { parent: this },
          ),
      );
      const testRun = new k8s.apiextensions.CustomResource(
        `${name}-testrun`,
        {
          apiVersion: "k6.io/v1alpha1",
          kind: "TestRun",
          metadata: { name: testRunName(run), namespace: args.namespace, labels },
          spec: testRunSpec(run),
        },
        { parent: this, dependsOn: [script, ...netpols, ...afterRollout] },
      );
      this.testRunName = testRun.metadata.name;
      if (args.clusterContext !== undefined) {
        const result = new TestRunResult(
          `${name}-testrun-result`,
          {
            read: pulumi.all([testRun.metadata.name, testRun.metadata.namespace]).apply(([trName, ns]) => ({
              name: trName,
              namespace: ns,
              parallelism: l.parallelism,
              timeoutSeconds: l.timeoutSeconds,
              context: args.clusterContext!,
              kubeconfig: args.clusterKubeconfig ?? "",
            })),
            mode: l.mode,
          },
          { parent: this, dependsOn: [testRun] },
        );
        this.distributedVerdict = result.verdict;
      }
    }
    this.registerOutputs({
      result: this.result,
      testRunName: this.testRunName,
    });
  }
}

export interface CapacityMeasureArgs {
  /** cartorio-plataforma:loadtest (capacity.target, replicas and deployment required). */
  loadtest: LoadtestConfig;
  projectRoot: string;
  /** Images manifests/ declares for the workload: the default trigger. */
  images: string[];
  /** Where to check that the deployment holds its replicas; undefined when objects are only rendered. */
  cluster?: { kubeconfig: string; context: string };
}

/**
 * The capacity the plan uses: a stepped run against a deployment held at a fixed replica count
 * (testes/performance/capacidade.js), the highest step that meets the SLO.
 */
export class CapacityMeasure extends pulumi.ComponentResource {
  public readonly measurement: pulumi.Output<CapacityMeasurement>;

  constructor(name: string, args: CapacityMeasureArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cartorio:loadtest:CapacityMeasure", name, {}, opts);
    const l = args.loadtest;
    const c = l.capacity;
    const scriptPath = path.resolve(args.projectRoot, c.script);
    const profile = {
      startRps: c.startRps,
      stepRps: c.stepRps,
      steps: c.steps,
      stepSeconds: c.stepSeconds,
      maxVUs: c.maxVUs,
    };
    const run = new CapacityRun(
      `${name}-k6`,
      {
        invocation: {
          k6Path: l.k6Path,
          scriptPath,
          target: c.target!,
          env: steppedEnv(c.target!, profile, l.thresholds),
          timeoutSeconds: l.timeoutSeconds,
          progressFile: path.resolve(args.projectRoot, c.progressFile),
        },
        profile,
        replicas: c.replicas!,
        scriptSha256: scriptDigest(scriptPath),
        trigger: c.trigger || imageTrigger(args.images),
        held: args.cluster && {
          ...args.cluster,
          namespace: c.deployment!.namespace,
          deployment: c.deployment!.name,
        },
      },
      { parent: this },
    );
    this.measurement = run.measurement;
    this.registerOutputs({ measurement: this.measurement });
  }
}
