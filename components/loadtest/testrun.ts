/**
 * Results of a distributed run (k6-operator TestRun). The TestRun's status says
 * only how far it got (initialization … finished | error), not whether
 * thresholds passed (k6-operator #577): that is each runner pod's exit code,
 * 99 when thresholds failed. Plain judging plus a reader over the Kubernetes API.
 */
import { classifyExit } from "./summary";

export interface RunnerState {
  pod: string;
  /** Exit code of the k6 container, when it terminated. */
  exitCode?: number;
}

export interface TestRunVerdict {
  finished: boolean;
  passed: boolean;
  stage: string;
  runners: RunnerState[];
  detail: string;
}

/** Judges a TestRun from its stage and its runners' exit codes. */
export function judgeTestRun(stage: string | undefined, runners: RunnerState[], parallelism: number): TestRunVerdict {
  const s = stage ?? "initialization";
  if (s === "error")
    return {
      finished: true,
      passed: false,
      stage: s,
      runners,
      detail: "the TestRun reached stage error: the operator could not run it",
    };
  if (s !== "finished") return { finished: false, passed: false, stage: s, runners, detail: `still at stage ${s}` };
  const done = runners.filter((r) => r.exitCode !== undefined);
  if (done.length < parallelism) {
    return {
      finished: true,
      passed: false,
      stage: s,
      runners,
      detail: `only ${done.length} of ${parallelism} runners reported an exit code`,
    };
  }
  const failed = done.filter((r) => r.exitCode !== 0);
  if (failed.length === 0)
    return { finished: true, passed: true, stage: s, runners, detail: `all ${parallelism} runners passed` };
  const reasons = failed.map((r) => {
    const o = classifyExit(r.exitCode!, null);
    return `${r.pod}: ${o.kind === "passed" ? "ok" : o.detail}`;
  });
  return { finished: true, passed: false, stage: s, runners, detail: reasons.join("; ") };
}

export interface ReadTestRunSpec {
  namespace: string;
  name: string;
  parallelism: number;
  timeoutSeconds: number;
  /** kubeconfig context; empty for the current one. */
  context: string;
  /** kubeconfig file; empty for the ambient one (KUBECONFIG, ~/.kube/config). */
  kubeconfig?: string;
  pollSeconds?: number;
}

/** Waits for the TestRun to finish and reads its runners' exit codes. */
export async function readTestRun(spec: ReadTestRunSpec): Promise<TestRunVerdict> {
  // Required here: the dynamic provider that calls this is serialized into state.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  if (spec.kubeconfig) kc.loadFromFile(spec.kubeconfig);
  else kc.loadFromDefault();
  if (spec.context) kc.setCurrentContext(spec.context);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const deadline = Date.now() + spec.timeoutSeconds * 1000;
  for (;;) {
    const tr = (await custom.getNamespacedCustomObject({
      group: "k6.io",
      version: "v1alpha1",
      namespace: spec.namespace,
      plural: "testruns",
      name: spec.name,
    })) as {
      status?: { stage?: string };
    };
    const pods = await core.listNamespacedPod({
      namespace: spec.namespace,
      labelSelector: `k6_cr=${spec.name},runner=true`,
    });
    const runners = pods.items.map((p) => ({
      pod: p.metadata?.name ?? "?",
      exitCode: p.status?.containerStatuses?.find((c) => c.state?.terminated)?.state?.terminated?.exitCode,
    }));
    const verdict = judgeTestRun(tr.status?.stage, runners, spec.parallelism);
    if (verdict.finished) return verdict;
    if (Date.now() > deadline) {
      return {
        ...verdict,
        finished: true,
        passed: false,
        detail: `the TestRun did not finish in ${spec.timeoutSeconds} s (${verdict.detail})`,
      };
    }
    await new Promise((r) => setTimeout(r, (spec.pollSeconds ?? 10) * 1000));
  }
}
