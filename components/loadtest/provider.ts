/**
 * The load test as a dynamic resource: it runs k6 when what it measures
 * changes (script content, target, profile, thresholds, k6 binary or the
 * trigger, such as the deployed image digest), and never otherwise.
 */
import * as pulumi from "@pulumi/pulumi";
import { canonical } from "../platform/canonical";
import { RolloutTarget, waitForRollout } from "./rollout";
import { CapacityMeasurement, judgeSteps, replicasHeldProblem, SteppedProfile } from "./measure";
import { K6Invocation, RunSpec, invokeK6, runK6 } from "./runner";
import { apiReader, ApiTarget } from "../platform/kubeapi";
import { readTestRun, ReadTestRunSpec, TestRunVerdict } from "./testrun";
import type { LoadTestResult } from "./summary";

export interface LoadTestInputs {
  spec: RunSpec;
  /** SHA-256 of the script's content. */
  scriptSha256: string;
  trigger: string;
  mode: "gate" | "advisory";
}

export interface LoadTestOutputs extends LoadTestInputs {
  result: LoadTestResult;
  exitCode: number;
  finishedAt: string;
}

/** What makes a new run; other input changes (timeout, progress file, mode) only update the record. */
export function rerunKey(i: LoadTestInputs): string {
  return canonical([i.scriptSha256, i.spec.target, i.spec.profile, i.spec.thresholds, i.spec.k6Path, i.trigger]);
}

async function run(inputs: LoadTestInputs): Promise<LoadTestOutputs> {
  const { result, exitCode } = await runK6(inputs.spec);
  if (!result.passed && inputs.mode === "gate") {
    const failed = result.thresholds.filter((t) => !t.ok).map((t) => `${t.metric}: ${t.expression}`);
    const why = result.abortedEarly
      ? `aborted early after ${result.abortedEarly.afterSeconds} s, when ${result.abortedEarly.thresholds.join("; ")} tripped`
      : result.failure
        ? `failed: ${result.failure}`
        : `failed its thresholds: ${failed.join("; ")}`;
    throw new Error(
      `the load test ${why} (k6 exit ${exitCode}), so the update stops (loadtest.mode gate); ` +
        `p95 ${result.p95Ms ?? "-"} ms, p99 ${result.p99Ms ?? "-"} ms, error rate ${result.errorRate ?? "-"}, dropped iterations ${result.droppedIterations}`,
    );
  }
  return {
    ...inputs,
    result,
    exitCode,
    finishedAt: new Date().toISOString(),
  };
}

export const loadTestProvider: pulumi.dynamic.ResourceProvider = {
  // Any input change is a change; update decides through rerunKey whether it needs a new run.
  async diff(_id: string, olds: LoadTestOutputs, news: LoadTestInputs) {
    const inputsOf = (x: LoadTestInputs) =>
      canonical({
        spec: x.spec,
        scriptSha256: x.scriptSha256,
        trigger: x.trigger,
        mode: x.mode,
      });
    return { changes: inputsOf(olds) !== inputsOf(news) };
  },
  async create(inputs: LoadTestInputs) {
    const outs = await run(inputs);
    return { id: `k6-${inputs.scriptSha256.slice(0, 12)}`, outs };
  },
  async update(_id: string, olds: LoadTestOutputs, news: LoadTestInputs) {
    if (rerunKey(olds) === rerunKey(news)) return { outs: { ...olds, ...news } };
    return { outs: await run(news) };
  },
};

export class LoadTest extends pulumi.dynamic.Resource {
  declare public readonly result: pulumi.Output<LoadTestResult>;
  declare public readonly exitCode: pulumi.Output<number>;
  declare public readonly finishedAt: pulumi.Output<string>;
  constructor(
    name: string,
    args: { [K in keyof LoadTestInputs]: pulumi.Input<LoadTestInputs[K]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      loadTestProvider,
      name,
      { ...args, result: undefined, exitCode: undefined, finishedAt: undefined },
      opts,
      "cartorio",
      "LoadTest",
    );
  }
}

export interface TestRunResultInputs {
  read: ReadTestRunSpec;
  mode: "gate" | "advisory";
}

/** Reads a distributed run's outcome once the TestRun exists; in gate mode a failed run fails the update. */
export const testRunResultProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: TestRunResultInputs) {
    const verdict = await readTestRun(inputs.read);
    if (!verdict.passed && inputs.mode === "gate") {
      throw new Error(`the distributed load test did not pass (loadtest.mode gate): ${verdict.detail}`);
    }
    return { id: `${inputs.read.namespace}/${inputs.read.name}`, outs: { ...inputs, verdict } };
  },
  async diff(_id: string, olds: TestRunResultInputs, news: TestRunResultInputs) {
    // A new TestRun (new script digest, new name) is a new run to read.
    const replaces = canonical(olds.read) !== canonical(news.read) ? ["read"] : [];
    return { changes: replaces.length > 0 || olds.mode !== news.mode, replaces };
  },
  async update(_id: string, olds: TestRunResultInputs & { verdict: unknown }, news: TestRunResultInputs) {
    return { outs: { ...news, verdict: olds.verdict } };
  },
};

export class TestRunResult extends pulumi.dynamic.Resource {
  declare public readonly verdict: pulumi.Output<TestRunVerdict>;
  constructor(
    name: string,
    args: { [K in keyof TestRunResultInputs]: pulumi.Input<TestRunResultInputs[K]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(testRunResultProvider, name, { ...args, verdict: undefined }, opts, "cartorio", "TestRunResult");
  }
}

export interface RolloutWaitInputs {
  target: RolloutTarget;
}

/**
 * Waits until the workload's rollout of the declared images is complete (Flux applies the
 * Deployment; this program does not), so the gate after it measures the release that runs.
 * A new image list waits again; anything else is recorded.
 */
export const rolloutWaitProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: RolloutWaitInputs, news: RolloutWaitInputs) {
    return { changes: canonical(olds.target) !== canonical(news.target) };
  },
  async create(inputs: RolloutWaitInputs) {
    const state = await waitForRollout(inputs.target, (line) => pulumi.log.info(`rollout: ${line}`));
    return { id: `${inputs.target.namespace}/${inputs.target.name}`, outs: { ...inputs, rolledOut: state.detail } };
  },
  async update(_id: string, olds: RolloutWaitInputs, news: RolloutWaitInputs) {
    if (canonical(olds.target.images) === canonical(news.target.images)) return { outs: { ...olds, ...news } };
    const state = await waitForRollout(news.target, (line) => pulumi.log.info(`rollout: ${line}`));
    return { outs: { ...news, rolledOut: state.detail } };
  },
};

export class RolloutWait extends pulumi.dynamic.Resource {
  declare public readonly rolledOut: pulumi.Output<string>;
  constructor(name: string, args: { target: pulumi.Input<RolloutTarget> }, opts?: pulumi.CustomResourceOptions) {
    super(rolloutWaitProvider, name, { ...args, rolledOut: undefined }, opts, "cartorio", "RolloutWait");
  }
}

export interface CapacityRunInputs {
  /** The k6 run of testes/performance/capacidade.js (its -e variables from steppedEnv). */
  invocation: K6Invocation;
  profile: SteppedProfile;
  replicas: number;
  scriptSha256: string;
  trigger: string;
  /** In cluster mode: the Deployment checked to hold `replicas` before the run starts. */
  held?: ApiTarget & { namespace: string; deployment: string };
}

export interface CapacityRunOutputs extends CapacityRunInputs {
  measurement: CapacityMeasurement;
}

/** What makes a new capacity run; a new timeout or progress file only updates the record. */
export function capacityRerunKey(i: CapacityRunInputs): string {
  return canonical([
    i.scriptSha256,
    i.invocation.target,
    i.invocation.env,
    i.invocation.k6Path,
    i.profile,
    i.replicas,
    i.trigger,
  ]);
}

async function measure(inputs: CapacityRunInputs): Promise<CapacityRunOutputs> {
  if (inputs.held) {
    const get = apiReader(inputs.held);
    const where = { namespace: inputs.held.namespace, deployment: inputs.held.deployment };
    const problem = replicasHeldProblem(
      where,
      inputs.replicas,
      await get(`/apis/apps/v1/namespaces/${where.namespace}/deployments/${where.deployment}`),
      await get(`/apis/autoscaling/v2/namespaces/${where.namespace}/horizontalpodautoscalers`),
    );
    if (problem)
      throw new Error(`the capacity run did not start: ${problem} (loadtest.capacity); nothing was measured`);
  }
  // Exit 99 is expected: the step past the knee crosses its thresholds. Anything but a verdict throws.
  const { summary } = await invokeK6(inputs.invocation);
  return {
    ...inputs,
    measurement: judgeSteps(summary, inputs.profile, inputs.replicas, new Date().toISOString()),
  };
}

export const capacityRunProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: CapacityRunOutputs, news: CapacityRunInputs) {
    const { measurement: _m, ...before } = olds;
    return { changes: canonical(before) !== canonical(news) };
  },
  async create(inputs: CapacityRunInputs) {
    return { id: `capacidade-${inputs.scriptSha256.slice(0, 12)}`, outs: await measure(inputs) };
  },
  async update(_id: string, olds: CapacityRunOutputs, news: CapacityRunInputs) {
    if (capacityRerunKey(olds) === capacityRerunKey(news)) return { outs: { ...olds, ...news } };
    return { outs: await measure(news) };
  },
};

/** A capacity measurement at a fixed replica count; it runs again only when what it measures changes. */
export class CapacityRun extends pulumi.dynamic.Resource {
  declare public readonly measurement: pulumi.Output<CapacityMeasurement>;
  constructor(
    name: string,
    args: { [K in keyof CapacityRunInputs]: pulumi.Input<CapacityRunInputs[K]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(capacityRunProvider, name, { ...args, measurement: undefined }, opts, "cartorio", "CapacityRun");
  }
}
