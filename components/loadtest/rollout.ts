/**
 * The load gate measures the release that runs: which images the workload declares (manifests/,
 * what Flux applies) and a wait until the Deployment's rollout of exactly those images is complete,
 * judged as `kubectl rollout status` judges it. Plain module (no Pulumi import).
 */
import type { ManifestDoc } from "../platform/manifests";
import { apiReader, ApiTarget } from "../platform/kubeapi";

/** The container images of a Deployment in the workload manifests, sorted; [] when it is not there. */
export function workloadImages(docs: ManifestDoc[], where: { namespace: string; deployment: string }): string[] {
  const dep = docs.find(
    ({ doc: d }) =>
      d.kind === "Deployment" && d.metadata?.name === where.deployment && d.metadata?.namespace === where.namespace,
  )?.doc as { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } } | undefined;
  return (dep?.spec?.template?.spec?.containers ?? [])
    .map((c) => c.image)
    .filter((i): i is string => typeof i === "string" && i !== "")
    .sort();
}

/** What makes a new gate run by default: the images the release runs. */
export function imageTrigger(images: string[]): string {
  return images.length ? `images ${images.join(",")}` : "";
}

interface DeploymentView {
  metadata?: { generation?: number };
  spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string }[] } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; reason?: string; message?: string }[];
  };
}

export interface RolloutState {
  complete: boolean;
  /** Fails at once (e.g. ProgressDeadlineExceeded); waiting longer would not help. */
  failed?: boolean;
  detail: string;
  images: string[];
}

/** One look at a Deployment, judged as `kubectl rollout status` does, plus the images it rolls out. */
export function rolloutState(dep: DeploymentView | string, expected: string[]): RolloutState {
  if (typeof dep === "string") return { complete: false, detail: dep, images: [] };
  const images = (dep.spec?.template?.spec?.containers ?? []).map((c) => c.image ?? "").sort();
  const s = dep.status ?? {};
  const want = dep.spec?.replicas ?? 1;
  if (images.join(",") !== [...expected].sort().join(","))
    return {
      complete: false,
      detail: `runs ${images.join(",") || "no image"}; waiting for ${expected.join(",")}`,
      images,
    };
  if ((s.observedGeneration ?? -1) < (dep.metadata?.generation ?? 0))
    return { complete: false, detail: "waiting for the controller to observe the new template", images };
  const progressing = s.conditions?.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded")
    return {
      complete: false,
      failed: true,
      detail: `exceeded its progress deadline: ${progressing.message ?? ""}`,
      images,
    };
  if ((s.updatedReplicas ?? 0) < want)
    return { complete: false, detail: `${s.updatedReplicas ?? 0} of ${want} replicas updated`, images };
  if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0))
    return {
      complete: false,
      detail: `${(s.replicas ?? 0) - (s.updatedReplicas ?? 0)} old replicas pending termination`,
      images,
    };
  if ((s.availableReplicas ?? 0) < (s.updatedReplicas ?? 0))
    return {
      complete: false,
      detail: `${s.availableReplicas ?? 0} of ${s.updatedReplicas} updated replicas available`,
      images,
    };
  return { complete: true, detail: `${want} replicas of ${images.join(",")} available`, images };
}

export interface RolloutTarget extends ApiTarget {
  namespace: string;
  name: string;
  images: string[];
  timeoutSeconds: number;
}

/** Polls every 2 s until the rollout of `images` is complete; on timeout throws with its last state. */
export async function waitForRollout(
  t: RolloutTarget,
  progress: (line: string) => void = () => undefined,
): Promise<RolloutState & { seconds: number }> {
  const get = apiReader(t);
  const t0 = Date.now();
  let said = "";
  for (;;) {
    const state = rolloutState(
      await get<DeploymentView>(`/apis/apps/v1/namespaces/${t.namespace}/deployments/${t.name}`),
      t.images,
    );
    if (state.complete) return { ...state, seconds: (Date.now() - t0) / 1000 };
    if (state.detail !== said) progress((said = state.detail));
    if (state.failed || Date.now() - t0 > t.timeoutSeconds * 1000) {
      throw new Error(
        `the rollout of Deployment ${t.namespace}/${t.name} to ${t.images.join(",")} was not complete ` +
          `${state.failed ? "" : `within ${t.timeoutSeconds}s `}(loadtest.timeoutSeconds): ${state.detail}; ` +
          "the load gate measures only the release that runs, so it did not start",
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}
