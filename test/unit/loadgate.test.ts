/** The load gate under mocks: a local k6 run, or a k6-operator TestRun for distributed load. */
import { beforeAll, describe, expect, it } from "vitest";
import { loadtestSchema } from "../../components/config/schema";
import { recordResources, Registered, settle } from "../helpers/mocks";
import { PROJECT_ROOT } from "../helpers/tools";

let registered: Registered[] = [];
const IMAGE = "registry.cartorio.example/cartorio/cartorio-api@sha256:" + "ab".repeat(32);
// Test digests, not real images.
const DISTRIBUTED = {
  runnerImage: "grafana/k6@sha256:" + "1".repeat(64),
  starterImage: "ghcr.io/grafana/k6-operator@sha256:" + "2".repeat(64),
};

describe("LoadGate under mocks", () => {
  beforeAll(async () => {
    registered = await recordResources("producao");
    const { LoadGate } = await import("../../components/loadtest");
    const base = { target: "https://api.cartorio.example", trigger: "sha256:cafe" };
    const workload = { namespace: "cartorio", deployment: "cartorio-api", images: [IMAGE] };
    new LoadGate("local-run", {
      loadtest: loadtestSchema.parse(base),
      projectRoot: PROJECT_ROOT,
      namespace: "cartorio",
      workload,
    });
    new LoadGate("distributed", {
      loadtest: loadtestSchema.parse({ ...base, parallelism: 4, distributed: DISTRIBUTED }),
      projectRoot: PROJECT_ROOT,
      namespace: "cartorio",
      clusterContext: "producao",
      workload,
    });
    new LoadGate("release", {
      loadtest: loadtestSchema.parse({ target: base.target }),
      projectRoot: PROJECT_ROOT,
      namespace: "cartorio",
      clusterContext: "producao",
      clusterKubeconfig: "/etc/kubeconfig",
      workload,
    });
    await settle();
  });

  it("parallelism 1 runs k6 here, with the script's digest, the trigger and the profile as inputs", () => {
    const run = registered.find((r) => r.type === "pulumi-nodejs:dynamic/cartorio:LoadTest")!;
    expect(run.name).toBe("local-run-k6");
    expect(run.inputs).toMatchObject({
      trigger: "sha256:cafe",
      mode: "gate",
      scriptSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(run.inputs.spec).toMatchObject({
      k6Path: "k6",
      target: "https://api.cartorio.example",
      timeoutSeconds: 900,
    });
  });

  it("parallelism 4 declares a k6-operator TestRun over the script in a ConfigMap", () => {
    const cm = registered.find((r) => r.type === "kubernetes:core/v1:ConfigMap")!;
    expect(cm.inputs.metadata).toMatchObject({ name: "cartorio-loadtest-script", namespace: "cartorio" });
    expect(cm.inputs.data["producao.js"]).toContain("handleSummary");
    const tr = registered.find((r) => r.type === "kubernetes:k6.io/v1alpha1:TestRun")!;
    expect(tr.inputs.spec).toMatchObject({
      parallelism: 4,
      script: { configMap: { name: "cartorio-loadtest-script", file: "producao.js" } },
      runner: { image: DISTRIBUTED.runnerImage, automountServiceAccountToken: "false" },
      starter: { image: DISTRIBUTED.starterImage },
    });
    // Results are read from the runner pods before anything removes them: no cleanup: post.
    expect(tr.inputs.spec.cleanup).toBeUndefined();
    expect(tr.inputs.spec.args).toContain("TARGET_URL=https://api.cartorio.example");
    expect(tr.inputs.metadata.name).toMatch(/^cartorio-loadtest-[0-9a-f]{12}$/);
    const policies = registered.filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy");
    expect(policies.map((p) => p.inputs.metadata.name).sort()).toEqual([
      "cartorio-loadtest-runner",
      "cartorio-loadtest-starter",
    ]);
    expect(registered.some((r) => r.name === "distributed-k6")).toBe(false);
    // With a cluster to read from, the runners' outcome is read back (and gates the update).
    const result = registered.find((r) => r.type === "pulumi-nodejs:dynamic/cartorio:TestRunResult")!;
    expect(result.inputs).toMatchObject({
      mode: "gate",
      read: { namespace: "cartorio", parallelism: 4, context: "producao" },
    });
  });

  it("without loadtest.trigger, a new release (the images the manifests declare) runs the gate, after its rollout", () => {
    const run = registered.find((r) => r.name === "release-k6")!;
    expect(run.inputs.trigger).toBe(`images ${IMAGE}`);
    const wait = registered.find((r) => r.name === "release-rollout")!;
    expect(wait.type).toBe("pulumi-nodejs:dynamic/cartorio:RolloutWait");
    expect(wait.inputs.target).toMatchObject({
      kubeconfig: "/etc/kubeconfig",
      context: "producao",
      namespace: "cartorio",
      name: "cartorio-api",
      images: [IMAGE],
    });
    // Rendered only (no cluster context): nothing to wait for.
    expect(registered.some((r) => r.name === "local-run-rollout")).toBe(false);
  });
});
