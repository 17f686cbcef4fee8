/**
 * The load gate's rollout wait, and the capacity run's check that its replicas are held, against a
 * real API server and its deployment and ReplicaSet controllers: no kubelet runs here, so the test
 * plays the kubelet's part and marks the pods Ready; the controllers do the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { steppedEnv } from "../../components/loadtest/measure";
import { CapacityRunInputs, capacityRunProvider, CapacityRunOutputs } from "../../components/loadtest/provider";
import { rolloutState, waitForRollout, workloadImages } from "../../components/loadtest/rollout";
import { scriptDigest } from "../../components/loadtest/runner";
import { knownCapacityServer } from "../../scripts/ensaio/known-capacity";
import { STANDIN } from "../helpers/k6";
import { loadManifests } from "../../components/platform/manifests";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT, tempDir } from "../helpers/tools";

let cluster: TestCluster;
const IMAGE = "registry.cartorio.example/cartorio/cartorio-api@sha256:" + "1".repeat(64);
const NEXT = "registry.cartorio.example/cartorio/cartorio-api@sha256:" + "2".repeat(64);
const target = (images: string[], timeoutSeconds: number) => ({
  kubeconfig: cluster.kubeconfig,
  context: cluster.context,
  namespace: "cartorio",
  name: "cartorio-api",
  images,
  timeoutSeconds,
});

const pods = (app = "cartorio-api") =>
  JSON.parse(cluster.kubectlOk(["get", "pods", "-n", "cartorio", "-l", `app=${app}`, "-o", "json"])).items as {
    metadata: { name: string };
  }[];

async function waitForPods(expected: number, app = "cartorio-api") {
  const deadline = Date.now() + 60_000;
  while (pods(app).length < expected) {
    if (Date.now() > deadline) throw new Error(`fewer than ${expected} pods after 60 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What a kubelet would report: every pod of the Deployment Running and Ready. */
function kubeletSaysReady(app = "cartorio-api") {
  const since = new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, "Z");
  const ready = JSON.stringify({
    status: {
      phase: "Running",
      conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({
        type,
        status: "True",
        lastTransitionTime: since,
      })),
    },
  });
  for (const p of pods(app))
    cluster.kubectlOk([
      "patch",
      "pod",
      p.metadata.name,
      "-n",
      "cartorio",
      "--subresource=status",
      "--type=merge",
      "-p",
      ready,
    ]);
}

describe("the rollout the load gate waits for", () => {
  beforeAll(async () => {
    // No simulated nodes: this file plays the kubelet itself, to decide when pods are Ready.
    cluster = await startTestCluster({ flux: false, alive: false });
    cluster.kubectlOk(["create", "namespace", "cartorio"]);
  }, 180_000);
  afterAll(async () => cluster?.stop());

  it("the images come from the workload's manifests (what Flux applies)", () => {
    const docs = loadManifests(path.join(PROJECT_ROOT, "manifests"));
    const images = workloadImages(docs, { namespace: "cartorio", deployment: "cartorio-api" });
    expect(images).toHaveLength(1);
    expect(images[0]).toMatch(/^registry\.cartorio\.example\/cartorio\/cartorio-api@sha256:[0-9a-f]{64}$/);
  });

  it("waits until the Deployment runs exactly the declared images with every replica available, as kubectl rollout status judges", async () => {
    cluster.kubectlOk(["create", "deployment", "cartorio-api", "-n", "cartorio", `--image=${IMAGE}`, "--replicas=2"]);
    // The controllers made the pods; none is Ready (no kubelet), so the rollout is not complete.
    await waitForPods(2);
    const before = rolloutState(
      JSON.parse(cluster.kubectlOk(["get", "deployment", "cartorio-api", "-n", "cartorio", "-o", "json"])),
      [IMAGE],
    );
    expect(before.complete).toBe(false);
    await expect(waitForRollout(target([IMAGE], 3))).rejects.toThrow(/was not complete within 3s/);
    kubeletSaysReady();
    const done = await waitForRollout(target([IMAGE], 90));
    expect(done).toMatchObject({ complete: true, detail: `2 replicas of ${IMAGE} available` });
  }, 120_000);

  it("a release that is not the one running is waited for, and the wait fails naming both when it never comes", async () => {
    await expect(waitForRollout(target([NEXT], 3))).rejects.toThrow(
      new RegExp(
        `runs ${IMAGE.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}; waiting for ${NEXT.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`,
      ),
    );
  }, 60_000);

  it("the capacity run starts only while its Deployment holds the replicas it counts: no HPA may move them, all ready", async () => {
    const app = "cartorio-api-capacidade";
    cluster.kubectlOk(["create", "deployment", app, "-n", "cartorio", `--image=${IMAGE}`, "--replicas=2"]);
    cluster.kubectlOk(["autoscale", "deployment", app, "-n", "cartorio", "--min=2", "--max=10", "--cpu=70%"]);
    const server = await knownCapacityServer(2, 20);
    const script = path.join(PROJECT_ROOT, "testes/performance/capacidade.js");
    const profile = { startRps: 20, stepRps: 20, steps: 2, stepSeconds: 2, maxVUs: 50 };
    const inputs: CapacityRunInputs = {
      invocation: {
        k6Path: STANDIN,
        scriptPath: script,
        target: server.url,
        env: steppedEnv(server.url, profile, { p95Ms: 150, p99Ms: 400, errorRate: 0.01, minSamples: 1 }),
        timeoutSeconds: 60,
        progressFile: path.join(tempDir("capacidade"), "progress.log"),
      },
      profile,
      replicas: 2,
      scriptSha256: scriptDigest(script),
      trigger: "",
      held: { kubeconfig: cluster.kubeconfig, context: cluster.context, namespace: "cartorio", deployment: app },
    };
    const run = () => capacityRunProvider.create!(inputs) as Promise<{ outs: CapacityRunOutputs }>;
    try {
      await expect(run()).rejects.toThrow(
        /the capacity run did not start: Deployment cartorio\/cartorio-api-capacidade is scaled by HorizontalPodAutoscaler cartorio-api-capacidade \(min 2, max 10\).*nothing was measured/,
      );
      // k6 never started: it would have written its progress file first.
      expect(fs.existsSync(inputs.invocation.progressFile)).toBe(false);
      cluster.kubectlOk(["patch", "hpa", app, "-n", "cartorio", "--type=merge", "-p", '{"spec":{"maxReplicas":2}}']);
      await waitForPods(2, app);
      await expect(run()).rejects.toThrow(/has 0 of 2 replicas ready; the run would measure fewer than it counts/);
      kubeletSaysReady(app);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const dep = JSON.parse(cluster.kubectlOk(["get", "deployment", app, "-n", "cartorio", "-o", "json"]));
        if (dep.status?.readyReplicas === 2) break;
        if (Date.now() > deadline) throw new Error("the controllers never counted 2 ready replicas");
        await new Promise((r) => setTimeout(r, 500));
      }
      const { outs } = await run();
      expect(outs.measurement).toMatchObject({ replicas: 2, capacityRps: 40, lowerBound: true });
    } finally {
      await server.close();
    }
  }, 180_000);
});

describe("rolloutState, as kubectl rollout status", () => {
  const dep = (status: Record<string, unknown>, generation = 2) => ({
    metadata: { generation },
    spec: { replicas: 3, template: { spec: { containers: [{ image: IMAGE }] } } },
    status: { observedGeneration: 2, ...status },
  });
  it("judges each stage", () => {
    expect(rolloutState(dep({}, 3), [IMAGE]).detail).toMatch(/observe the new template/);
    expect(rolloutState(dep({ updatedReplicas: 1, replicas: 3 }), [IMAGE]).detail).toBe("1 of 3 replicas updated");
    expect(rolloutState(dep({ updatedReplicas: 3, replicas: 4 }), [IMAGE]).detail).toBe(
      "1 old replicas pending termination",
    );
    expect(rolloutState(dep({ updatedReplicas: 3, replicas: 3, availableReplicas: 2 }), [IMAGE]).detail).toBe(
      "2 of 3 updated replicas available",
    );
    expect(rolloutState(dep({ updatedReplicas: 3, replicas: 3, availableReplicas: 3 }), [IMAGE]).complete).toBe(true);
    expect(rolloutState(dep({ updatedReplicas: 3, replicas: 3, availableReplicas: 3 }), [NEXT]).complete).toBe(false);
    const stuck = rolloutState(
      dep({ conditions: [{ type: "Progressing", reason: "ProgressDeadlineExceeded", message: "too slow" }] }),
      [IMAGE],
    );
    expect(stuck).toMatchObject({ complete: false, failed: true });
  });
});
