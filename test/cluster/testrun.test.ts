/**
 * A distributed run can start: on the embedded cluster (real kube-apiserver with Pod Security admission),
 * our TestRun CRD (written from k6-operator v1.6.0's API) is installed, the TestRun the load gate declares
 * is accepted, its NetworkPolicies too, and the runner, starter and initializer pods operator v1.6.0 would
 * make of it pass server-side dry-run in `cartorio` under restricted Pod Security. The same pods made from
 * a TestRun without our pod settings are refused: the test can fail.
 */
import * as path from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadtestSchema } from "../../components/config/schema";
import {
  distributedSettings,
  networkPolicies,
  operatorPods,
  OPERATOR_VERSION,
  TestRunInputs,
  testRunName,
  testRunSpec,
} from "../../components/loadtest/distributed";
import { invocationArgs, scriptDigest, scriptEnv } from "../../components/loadtest/runner";
import { platformLabels } from "../../components/platform/labels";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import { PROJECT_ROOT } from "../helpers/tools";

const CRD = path.join(PROJECT_ROOT, "components/loadtest/crd/k6.io_testruns.yaml");
const SCRIPT = path.join(PROJECT_ROOT, "testes/performance/producao.js");
let cluster: TestCluster;

function inputs(over: Partial<TestRunInputs> = {}): TestRunInputs {
  const l = loadtestSchema.parse({
    target: "https://api.cartorio.example",
    parallelism: 3,
    // Test digests: nothing is pulled (no kubelet), admission judges the specs.
    distributed: {
      runnerImage: "grafana/k6@sha256:" + "1".repeat(64),
      starterImage: "ghcr.io/grafana/k6-operator@sha256:" + "2".repeat(64),
    },
  });
  const spec = { ...l, scriptPath: SCRIPT, target: l.target!, progressFile: "/dev/null" };
  return {
    parallelism: l.parallelism,
    script: { configMap: "cartorio-loadtest-script", file: "producao.js" },
    args: invocationArgs({ ...spec, env: scriptEnv(spec, "/tmp/summary.json") }).slice(1, -1),
    scriptSha256: scriptDigest(SCRIPT),
    trigger: "images registry.cartorio.example/cartorio/cartorio-api@sha256:" + "a".repeat(64),
    settings: distributedSettings(l.distributed),
    labels: platformLabels({ "app.kubernetes.io/name": "cartorio-loadtest" }),
    ...over,
  };
}
const testRun = (i: TestRunInputs, spec = testRunSpec(i)) => ({
  apiVersion: "k6.io/v1alpha1",
  kind: "TestRun",
  metadata: { name: testRunName(i), namespace: "cartorio", labels: i.labels },
  spec,
});
const dryRun = (obj: object) =>
  cluster.kubectl(["create", "--dry-run=server", "-o", "name", "-f", "-"], stringify(obj));

describe(`a distributed run on the embedded cluster (TestRun CRD written from k6-operator ${OPERATOR_VERSION})`, () => {
  beforeAll(async () => {
    cluster = await startTestCluster({ flux: false });
    cluster.kubectlOk(["create", "namespace", "cartorio"]);
    // As the platform declares it (components/scaling): restricted Pod Security, enforced.
    cluster.kubectlOk([
      "label",
      "namespace",
      "cartorio",
      "pod-security.kubernetes.io/enforce=restricted",
      "pod-security.kubernetes.io/enforce-version=latest",
    ]);
    cluster.kubectlOk(["apply", "-f", CRD]);
    cluster.kubectlOk(["wait", "--for=condition=Established", "crd/testruns.k6.io", "--timeout=60s"]);
  }, 180_000);
  afterAll(async () => cluster?.stop());

  it("the TestRun the load gate declares is accepted, with its schema enforced", () => {
    const i = inputs();
    cluster.kubectlOk(["apply", "--server-side", "-f", "-"], stringify(testRun(i)));
    const stored = JSON.parse(cluster.kubectlOk(["get", "testrun", testRunName(i), "-n", "cartorio", "-o", "json"]));
    expect(stored.spec).toMatchObject({ parallelism: 3, runner: { image: i.settings.runnerImage } });
    expect(stored.spec.cleanup).toBeUndefined();
    // The CRD judges what it declares: a parallelism of 0, a cleanup the operator does not know.
    const bad = dryRun(testRun(i, { ...testRunSpec(i), parallelism: 0, cleanup: "pre" }));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/spec\.parallelism: Invalid value: 0/);
    expect(bad.stderr).toMatch(/spec\.cleanup: Unsupported value: "pre"/);
  });

  it("the runner, starter and initializer pods operator v1.6.0 would make pass restricted Pod Security in cartorio", () => {
    const i = inputs();
    const pods = operatorPods(testRun(i));
    expect(pods.map((p) => (p.metadata as { name: string }).name)).toEqual([
      `${testRunName(i)}-initializer`,
      `${testRunName(i)}-1`,
      `${testRunName(i)}-2`,
      `${testRunName(i)}-3`,
      `${testRunName(i)}-starter`,
    ]);
    for (const pod of pods) {
      const res = dryRun(pod);
      expect(res.stderr).toBe("");
      expect(res.status).toBe(0);
      expect(res.stdout.trim()).toBe(`pod/${(pod.metadata as { name: string }).name}`);
    }
  });

  it("the same pods without our pod settings are refused by restricted Pod Security (what the gate used to declare)", () => {
    const i = inputs();
    const bare = { ...testRunSpec(i) } as Record<string, unknown>;
    delete bare.runner;
    delete bare.starter;
    delete bare.initializer;
    for (const pod of operatorPods(testRun(i, bare))) {
      const res = dryRun(pod);
      expect(res.status).not.toBe(0);
      expect(res.stderr).toMatch(/violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
    }
  });

  it("its NetworkPolicies are accepted: runners reach the target's port and DNS and take :6565 from the starter and the operator", () => {
    const policies = networkPolicies({
      namespace: "cartorio",
      target: "https://api.cartorio.example",
      labels: inputs().labels,
      operatorNamespace: "k6-operator-system",
    });
    for (const p of policies) cluster.kubectlOk(["apply", "--server-side", "-f", "-"], stringify(p));
    const runner = JSON.parse(
      cluster.kubectlOk(["get", "networkpolicy", "cartorio-loadtest-runner", "-n", "cartorio", "-o", "json"]),
    );
    expect(runner.spec.egress[1]).toEqual({ ports: [{ port: 443, protocol: "TCP" }] });
    expect(runner.spec.ingress[0].ports).toEqual([{ port: 6565, protocol: "TCP" }]);
    // An IP target is reached at that address only.
    const [byIp] = networkPolicies({
      namespace: "cartorio",
      target: "http://10.0.0.7:8080",
      labels: {},
      operatorNamespace: "k6-operator-system",
    });
    expect((byIp.spec.egress[1] as { to: unknown }).to).toEqual([{ ipBlock: { cidr: "10.0.0.7/32" } }]);
    expect(cluster.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], stringify(byIp)).status).toBe(0);
  });

  it("the TestRun's name comes from all its inputs: any change is a new run", () => {
    const base = testRunName(inputs());
    const changed = [
      inputs({ parallelism: 4 }),
      inputs({ trigger: "images other" }),
      inputs({ scriptSha256: "0".repeat(64) }),
      inputs({ args: [...inputs().args, "-e", "X=1"] }),
      inputs({ settings: { ...inputs().settings, runnerImage: "grafana/k6@sha256:" + "3".repeat(64) } }),
    ].map(testRunName);
    expect(new Set([base, ...changed]).size).toBe(6);
    expect(testRunName(inputs())).toBe(base);
  });
});
