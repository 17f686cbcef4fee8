/**
 * The load gate's rollout wait against a real API server and its deployment and
 * ReplicaSet controllers: no kubelet runs here, so the test plays the kubelet's
 * part and marks the pods Ready; the controllers do the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rolloutState, waitForRollout, workloadImages } from "../../components/loadtest/rollout";
import { loadManifests } from "../../components/platform/manifests";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import * as path from "node:path";
import { PROJECT_ROOT } from "../helpers/tools";

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

const pods = () =>
  JSON.parse(cluster.kubectlOk(["get", "pods", "-n", "cartorio", "-l", "app=cartorio-api", "-o", "json"])).items as {
    metadata: { name: string };
  }[];

async function waitForPods(expected: number) {
  const deadline = Date.now() + 60_000;
  while (pods().length < expected) {
    if (Date.now() > deadline) throw new Error(`fewer than ${expected} pods after 60 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What a kubelet would report: every pod of the Deployment Running and Ready. */
function kubeletSaysReady() {
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
  for (const p of pods())
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
    cluster = await startTestCluster({ flux: false });
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
