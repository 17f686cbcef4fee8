/**
 * Waiting for the sync as `flux bootstrap` does: until GitRepository and
 * Kustomization `flux-system` are Ready at the repository's revision, then the
 * controllers' own words when they are not. Plain module (no Pulumi import):
 * the dynamic provider in providers.ts and the tests call it.
 */
import { apiReader } from "../platform/kubeapi";
import { deadProcessProblem, embeddedClusterDir } from "../platform/processes";

export interface SyncTarget {
  kubeconfig: string;
  /** Empty: the kubeconfig's current context. */
  context: string;
  namespace: string;
  name: string;
  /** The commit the sync must reach; undefined accepts any revision once Ready. */
  revision?: string;
  timeoutSeconds: number;
}

export interface SyncStatus {
  /** GitRepository's artifact revision, e.g. main@sha1:<commit>. */
  sourceRevision?: string;
  /** Kustomization's last applied revision. */
  appliedRevision?: string;
  source: Readiness;
  kustomization: Readiness;
}

export interface Readiness {
  ready: boolean;
  /** "Ready=False (reason): message", or why the object could not be read. */
  detail: string;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface FluxObject {
  metadata?: { generation?: number };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    artifact?: { revision?: string };
    lastAppliedRevision?: string;
  };
}

/** Does a Flux revision (branch@sha1:<commit>, or a bare commit) name this commit? */
export function revisionIs(revision: string | undefined, commit: string): boolean {
  if (!revision) return false;
  return revision === commit || revision.endsWith(`:${commit}`);
}

function readiness(obj: FluxObject | string): Readiness {
  if (typeof obj === "string") return { ready: false, detail: obj };
  const c = obj.status?.conditions?.find((x) => x.type === "Ready");
  const current = (obj.status?.observedGeneration ?? -1) >= (obj.metadata?.generation ?? 0);
  if (!c) return { ready: false, detail: "no Ready condition yet (is its controller running?)" };
  const ready = c.status === "True" && current;
  return { ready, detail: `Ready=${c.status}${c.reason ? ` (${c.reason})` : ""}${c.message ? `: ${c.message}` : ""}` };
}

/** One look at the sync objects through the kubeconfig (its exec plugins and certificates included). */
export async function syncStatus(t: SyncTarget): Promise<SyncStatus> {
  const get = apiReader(t);
  const [gr, ks] = await Promise.all([
    get<FluxObject>(`/apis/source.toolkit.fluxcd.io/v1/namespaces/${t.namespace}/gitrepositories/${t.name}`),
    get<FluxObject>(`/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${t.namespace}/kustomizations/${t.name}`),
  ]);
  return {
    sourceRevision: typeof gr === "string" ? undefined : gr.status?.artifact?.revision,
    appliedRevision: typeof ks === "string" ? undefined : ks.status?.lastAppliedRevision,
    source: readiness(gr),
    kustomization: readiness(ks),
  };
}

/** Synced: both Ready, the source at the commit (when one is expected), the Kustomization applied it. */
export function synced(s: SyncStatus, revision?: string): boolean {
  return (
    s.source.ready &&
    s.kustomization.ready &&
    (revision === undefined || revisionIs(s.sourceRevision, revision)) &&
    s.appliedRevision !== undefined &&
    s.appliedRevision === s.sourceRevision
  );
}

/** Polls every 2 s until synced; on timeout throws with what each controller last said. */
export async function waitForSync(
  t: SyncTarget,
  progress: (line: string) => void = () => undefined,
): Promise<SyncStatus & { seconds: number }> {
  const t0 = Date.now();
  let last: SyncStatus | undefined;
  let said = "";
  // On the embedded cluster, a dead process (etcd, the API server, a controller) ends the wait at once, named.
  const clusterDir = embeddedClusterDir(t.kubeconfig);
  for (;;) {
    const dead = deadProcessProblem(clusterDir);
    if (dead) throw new Error(`the Flux sync ${t.namespace}/${t.name} cannot become Ready: ${dead}`);
    last = await syncStatus(t);
    if (synced(last, t.revision)) return { ...last, seconds: (Date.now() - t0) / 1000 };
    const line = `GitRepository ${last.source.detail} at ${last.sourceRevision ?? "-"}; Kustomization ${last.kustomization.detail} at ${last.appliedRevision ?? "-"}`;
    if (line !== said) progress((said = line));
    if (Date.now() - t0 > t.timeoutSeconds * 1000) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(
    `the Flux sync ${t.namespace}/${t.name} was not Ready${t.revision ? ` at ${t.revision}` : ""} within ` +
      `${t.timeoutSeconds}s (gitops.syncTimeout):\n` +
      `  GitRepository: ${last.source.detail} (revision ${last.sourceRevision ?? "none"})\n` +
      `  Kustomization: ${last.kustomization.detail} (applied ${last.appliedRevision ?? "none"})\n` +
      `Are source-controller and kustomize-controller running (local stack: npm run cluster -- status)? ` +
      `Nothing was rolled back: the objects stay as applied; fix the cause and run up again.`,
  );
}

/** Seconds in a Go duration such as 5m, 1h30m or 0s. */
export function durationSeconds(d: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}
