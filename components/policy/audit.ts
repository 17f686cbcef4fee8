/**
 * The rulebook over what a cluster runs, not only over what was proposed (Gatekeeper's audit does the
 * same): the live objects of every kind the rulebook knows are listed through the Kubernetes API, judged by
 * the pack's logic at the catalogue's levels, and reported per namespace. Plain module: `npm run audit`
 * and its tests share it.
 *
 * What is left out, and why — nothing by its name or labels alone, since anyone who may create an object
 * chooses those:
 * - objects a controller owns (the ReplicaSets of a Deployment, their Pods, a CronJob's Jobs): their owner
 *   is judged, so each finding is reported once, where it is fixed. Only when the owner is really there: the
 *   controller ownerReference names the uid of an object listed here, of the kind the reference says, of a
 *   kind that makes what it owns from a template the rules judge (OWNERS), in the same namespace, and the
 *   chain of owners ends at an object that is judged. A reference to nothing, to an owner not audited (a
 *   Node's mirror pods), or a loop of owners hides nothing.
 * - the RBAC objects Kubernetes itself bootstraps (cluster-admin, system:node, the controllers' roles ...),
 *   when they are exactly those: same kind, name and namespace as an object of the reference, and a role's
 *   every rule covered by a rule of the reference's role, a binding's roleRef the same and its subjects
 *   among the reference's. An aggregated role (admin, edit, view) keeps its aggregationRule, and its rules
 *   are covered by those of the reference's roles its selectors match, or by those of a live role it
 *   gathers that is judged itself (Flux's flux-view, aggregated into view, edit and admin, is reported, or
 *   excepted, there). The reference is Kubernetes' own bootstrap policy, printed by the
 *   toolchain's kube binary from the library the embedded API server is built from (`kube bootstrap-policy`,
 *   scripts/toolchain/controlplane/bootstrap.go), never read from the cluster audited, which may have been
 *   tampered with. A `system:anything` binding to cluster-admin, or a built-in role given one more rule, is
 *   judged like any object. (A cluster of another Kubernetes version may bootstrap a little differently:
 *   what the reference does not know is judged.)
 * - the Service default/kubernetes (the API server's own), and the namespaces default, kube-public,
 *   kube-node-lease and kube-system, unless something runs in them.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { findTool, toolchainBin } from "../platform/tools";
import { evaluateLevels, findingSubject, K8sObject, RuleContext } from "./rules";
import type { Catalogue } from "./catalogue";

/** The kinds listed, with their API path (namespaced ones listed across all namespaces). */
export const AUDITED: { kind: string; path: string; optional?: boolean }[] = [
  { kind: "Namespace", path: "/api/v1/namespaces" },
  { kind: "Pod", path: "/api/v1/pods" },
  { kind: "Service", path: "/api/v1/services" },
  { kind: "ServiceAccount", path: "/api/v1/serviceaccounts" },
  { kind: "Secret", path: "/api/v1/secrets" },
  { kind: "Deployment", path: "/apis/apps/v1/deployments" },
  { kind: "StatefulSet", path: "/apis/apps/v1/statefulsets" },
  { kind: "DaemonSet", path: "/apis/apps/v1/daemonsets" },
  { kind: "ReplicaSet", path: "/apis/apps/v1/replicasets" },
  { kind: "Job", path: "/apis/batch/v1/jobs" },
  { kind: "CronJob", path: "/apis/batch/v1/cronjobs" },
  { kind: "Ingress", path: "/apis/networking.k8s.io/v1/ingresses" },
  { kind: "NetworkPolicy", path: "/apis/networking.k8s.io/v1/networkpolicies" },
  { kind: "PodDisruptionBudget", path: "/apis/policy/v1/poddisruptionbudgets" },
  { kind: "HorizontalPodAutoscaler", path: "/apis/autoscaling/v2/horizontalpodautoscalers" },
  { kind: "Role", path: "/apis/rbac.authorization.k8s.io/v1/roles" },
  { kind: "RoleBinding", path: "/apis/rbac.authorization.k8s.io/v1/rolebindings" },
  { kind: "ClusterRole", path: "/apis/rbac.authorization.k8s.io/v1/clusterroles" },
  { kind: "ClusterRoleBinding", path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" },
  // Flux's kinds, when Flux is installed.
  // Every source kind, not only the institutional GitRepository: a second source is how unreviewed code would come
  // in (CART-GIT-002).
  { kind: "GitRepository", path: "/apis/source.toolkit.fluxcd.io/v1/gitrepositories", optional: true },
  { kind: "OCIRepository", path: "/apis/source.toolkit.fluxcd.io/v1/ocirepositories", optional: true },
  { kind: "HelmRepository", path: "/apis/source.toolkit.fluxcd.io/v1/helmrepositories", optional: true },
  { kind: "Bucket", path: "/apis/source.toolkit.fluxcd.io/v1/buckets", optional: true },
  { kind: "Kustomization", path: "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations", optional: true },
  { kind: "HelmRelease", path: "/apis/helm.toolkit.fluxcd.io/v2/helmreleases", optional: true },
];

const KUBERNETES_NAMESPACES = new Set(["default", "kube-public", "kube-node-lease", "kube-system"]);
const WORKLOAD_KINDS = new Set(["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]);
/**
 * The audited kinds whose controllers make objects from a template the rules judge in the owner, and what
 * they make: an object these own is judged through its owner.
 */
const OWNERS: Record<string, string[]> = {
  Deployment: ["ReplicaSet"],
  ReplicaSet: ["Pod"],
  StatefulSet: ["Pod"],
  DaemonSet: ["Pod"],
  Job: ["Pod"],
  CronJob: ["Job"],
};

interface OwnerReference {
  controller?: boolean;
  kind?: string;
  uid?: string;
}

interface Live extends K8sObject {
  metadata?: K8sObject["metadata"] & { uid?: string; ownerReferences?: OwnerReference[] };
}

// ---------------------------------------------------------------- Kubernetes' bootstrap RBAC policy

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
export interface RbacRole {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  rules?: PolicyRule[] | null;
  aggregationRule?: { clusterRoleSelectors?: LabelSelector[] | null } | null;
}
export interface Subject {
  kind?: string;
  apiGroup?: string;
  name?: string;
  namespace?: string;
}
export interface RbacBinding {
  metadata?: { name?: string; namespace?: string };
  roleRef?: { apiGroup?: string; kind?: string; name?: string };
  subjects?: Subject[] | null;
}

/** What the API server bootstraps (kube bootstrap-policy): the roles and bindings of the kube-* namespaces too. */
export interface BootstrapPolicy {
  clusterRoles: RbacRole[];
  clusterRoleBindings: RbacBinding[];
  roles: RbacRole[];
  roleBindings: RbacBinding[];
}

/** No reference: nothing is exempt as Kubernetes' own. */
export const NO_BOOTSTRAP_POLICY: BootstrapPolicy = {
  clusterRoles: [],
  clusterRoleBindings: [],
  roles: [],
  roleBindings: [],
};

function isBootstrapPolicy(v: unknown): v is BootstrapPolicy {
  const o = v as Record<string, unknown> | null;
  return (
    typeof o === "object" &&
    o !== null &&
    ["clusterRoles", "clusterRoleBindings", "roles", "roleBindings"].every((k) => Array.isArray(o[k]))
  );
}

/** The toolchain's kube binary, where the embedded cluster finds it (toolchainBin), else on PATH. */
export function kubeBinary(env: NodeJS.ProcessEnv = process.env): string {
  const toolsBin = toolchainBin(env);
  const found = findTool(path.join(toolsBin, "kube"), env) ?? findTool("kube", env);
  if (found) return found;
  throw new Error(
    `the toolchain's kube binary is neither in ${toolsBin} nor on PATH: the audit takes what Kubernetes itself ` +
      `bootstraps from it (kube bootstrap-policy). Run scripts/toolchain/build.sh, or set CARTORIO_TOOLS_BIN`,
  );
}

/**
 * Kubernetes' bootstrap RBAC policy, from `kube bootstrap-policy`. Cached in
 * <cacheDir>/bootstrap-policy.json, keyed by the binary's real path, size and mtime (a rebuilt binary is
 * asked again); a cache that doesn't match or doesn't parse is replaced. Throws, saying why, when the
 * binary can't answer.
 */
export function loadBootstrapPolicy(o: { kube?: string; cacheDir?: string } = {}): BootstrapPolicy {
  const kube = fs.realpathSync(o.kube ?? kubeBinary());
  const st = fs.statSync(kube);
  const key = { kube, size: st.size, mtimeMs: st.mtimeMs };
  const cacheDir =
    o.cacheDir ?? path.join(process.env.CARTORIO_PROJECT_ROOT ?? path.resolve(__dirname, "../.."), ".local");
  const cacheFile = path.join(cacheDir, "bootstrap-policy.json");
  try {
    const cached = JSON.parse(fs.readFileSync(cacheFile, "utf8"));
    if (
      cached.kube === key.kube &&
      cached.size === key.size &&
      cached.mtimeMs === key.mtimeMs &&
      isBootstrapPolicy(cached.policy)
    )
      return cached.policy;
  } catch {
    // no cache, or not one to trust: ask the binary
  }
  let out: string;
  try {
    out = execFileSync(kube, ["bootstrap-policy"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 << 20,
    });
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? "").trim();
    throw new Error(
      `${kube} bootstrap-policy failed (${stderr.split("\n")[0] || (e as Error).message}); ` +
        `a kube built before the audit asked it has no such tool: rebuild the toolchain (scripts/toolchain/build.sh)`,
    );
  }
  const policy: unknown = JSON.parse(out);
  if (!isBootstrapPolicy(policy)) throw new Error(`${kube} bootstrap-policy printed something else than the policy`);
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ ...key, policy }));
    fs.renameSync(tmp, cacheFile);
  } catch {
    // a cache we can't write costs a second run of the binary next time, nothing more
  }
  return policy;
}

/** One entry of a rule covers another: `*` every one, `*` + `/sub` that subresource of every resource. */
function entryCovers(b: string, l: string): boolean {
  if (b === "*" || b === l) return true;
  if (b.startsWith("*/")) return l.endsWith(b.slice(1)) && l.includes("/");
  return false;
}
function fieldCovers(b: string[] | undefined, l: string[] | undefined): boolean {
  return (l ?? []).every((x) => (b ?? []).some((y) => entryCovers(y, x)));
}
function urlCovers(b: string[] | undefined, l: string[] | undefined): boolean {
  return (l ?? []).every((x) =>
    (b ?? []).some((y) => y === "*" || y === x || (y.endsWith("*") && x.startsWith(y.slice(0, -1)))),
  );
}

/** Everything the live rule grants, the built-in rule grants. */
export function ruleCovers(b: PolicyRule, l: PolicyRule): boolean {
  return (
    fieldCovers(b.verbs, l.verbs) &&
    fieldCovers(b.apiGroups, l.apiGroups) &&
    fieldCovers(b.resources, l.resources) &&
    // No resourceNames means every name.
    ((b.resourceNames ?? []).length === 0 ||
      ((l.resourceNames ?? []).length > 0 && fieldCovers(b.resourceNames, l.resourceNames))) &&
    urlCovers(b.nonResourceURLs, l.nonResourceURLs)
  );
}

function selectorMatches(s: LabelSelector, labels: Record<string, string> = {}): boolean {
  const ml = Object.entries(s.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const me = (s.matchExpressions ?? []).every((e) => {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(labels[e.key]);
      case "NotIn":
        return !has || !(e.values ?? []).includes(labels[e.key]);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
  return ml && me && (Object.keys(s.matchLabels ?? {}).length > 0 || (s.matchExpressions ?? []).length > 0);
}
const selectorsMatch = (r: RbacRole, labels?: Record<string, string>) =>
  (r.aggregationRule?.clusterRoleSelectors ?? []).some((s) => selectorMatches(s, labels));

/** JSON with sorted keys, empty arrays and objects dropped: two equal selectors print the same. */
function canonical(v: unknown): string {
  const norm = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.length ? x.map(norm) : undefined;
    if (x && typeof x === "object") {
      const entries = Object.keys(x)
        .sort()
        .map((k) => [k, norm((x as Record<string, unknown>)[k])] as const)
        .filter(([, w]) => w !== undefined);
      return entries.length ? Object.fromEntries(entries) : undefined;
    }
    return x ?? undefined;
  };
  return JSON.stringify(norm(v) ?? null);
}

function sameSubject(a: Subject, b: Subject): boolean {
  const group = (s: Subject) => s.apiGroup ?? (s.kind === "ServiceAccount" ? "" : "rbac.authorization.k8s.io");
  return (
    a.kind === b.kind &&
    group(a) === group(b) &&
    a.name === b.name &&
    (a.kind === "ServiceAccount" ? (a.namespace ?? "") === (b.namespace ?? "") : true)
  );
}

const RBAC_KINDS = new Set(["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]);
const idOf = (kind: string | undefined, m: { name?: string; namespace?: string } | undefined) =>
  `${kind}/${m?.namespace ?? ""}/${m?.name ?? ""}`;

/**
 * Which live RBAC objects are Kubernetes' bootstrap policy, exactly: a predicate over the live objects
 * (`all`, every object read, for the roles an aggregated role gathers from).
 */
function bootstrapExemption(reference: BootstrapPolicy, all: K8sObject[]): (o: K8sObject) => boolean {
  const builtin = new Map<string, RbacRole | RbacBinding>();
  for (const r of reference.clusterRoles) builtin.set(idOf("ClusterRole", { name: r.metadata?.name }), r);
  for (const b of reference.clusterRoleBindings) builtin.set(idOf("ClusterRoleBinding", { name: b.metadata?.name }), b);
  for (const r of reference.roles) builtin.set(idOf("Role", r.metadata), r);
  for (const b of reference.roleBindings) builtin.set(idOf("RoleBinding", b.metadata), b);
  const liveClusterRoles = all.filter((o) => o.kind === "ClusterRole") as (K8sObject & RbacRole)[];

  // The rules an aggregated built-in gathers from the built-ins its selectors match (admin: edit, itself
  // view and more).
  const expected = new Map<string, PolicyRule[]>();
  const builtinRules = (r: RbacRole, seen: Set<RbacRole> = new Set()): PolicyRule[] => {
    const name = r.metadata?.name ?? "";
    if (!r.aggregationRule) return r.rules ?? [];
    if (expected.has(name)) return expected.get(name)!;
    if (seen.has(r)) return [];
    seen.add(r);
    const rules = reference.clusterRoles
      .filter((m) => m !== r && selectorsMatch(r, m.metadata?.labels))
      .flatMap((m) => builtinRules(m, seen));
    expected.set(name, rules);
    return rules;
  };

  const memo = new Map<K8sObject, boolean>();
  const inProgress = new Set<K8sObject>();
  const exempt = (o: K8sObject): boolean => {
    if (!RBAC_KINDS.has(o.kind ?? "")) return false;
    if (memo.has(o)) return memo.get(o)!;
    inProgress.add(o);
    const result = judge(o);
    inProgress.delete(o);
    memo.set(o, result);
    return result;
  };
  const judge = (o: K8sObject): boolean => {
    const b = builtin.get(idOf(o.kind, o.metadata));
    if (!b) return false;
    if (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") {
      const live = o as RbacBinding;
      const ref = (b as RbacBinding).roleRef ?? {};
      const liveRef = live.roleRef ?? {};
      return (
        liveRef.apiGroup === ref.apiGroup &&
        liveRef.kind === ref.kind &&
        liveRef.name === ref.name &&
        (live.subjects ?? []).every((s) => ((b as RbacBinding).subjects ?? []).some((t) => sameSubject(s, t)))
      );
    }
    const role = b as RbacRole;
    const live = o as RbacRole;
    if (canonical(live.aggregationRule) !== canonical(role.aggregationRule)) return false;
    let allowed = builtinRules(role);
    if (role.aggregationRule) {
      // What the aggregation controller copied from live roles that are judged themselves (Flux's
      // flux-view into view, edit and admin) is judged there, where it is fixed: accepted here. An
      // aggregated built-in it gathers from brings what that one may hold.
      const gathered = liveClusterRoles
        .filter((m) => m !== o && !inProgress.has(m) && selectorsMatch(role, m.metadata?.labels))
        .flatMap((m) => {
          if (!exempt(m)) return m.rules ?? [];
          const mb = builtin.get(idOf("ClusterRole", m.metadata)) as RbacRole;
          return mb.aggregationRule ? (m.rules ?? []) : [];
        });
      allowed = [...allowed, ...gathered];
    }
    return (live.rules ?? []).every((l) => allowed.some((r) => ruleCovers(r, l)));
  };
  return exempt;
}

type ManagedFields = { subresource?: string; fieldsV1?: { "f:spec"?: { "f:replicas"?: unknown } } }[];

/**
 * A live Deployment or StatefulSet always has spec.replicas: the API server defaults it and the HPA writes
 * it through the scale subresource. It is what was declared (CART-SCL-002) only when a manager set it on
 * the object itself, which its managedFields record; otherwise it is dropped before judging.
 */
function declaredReplicas(o: Live): Live {
  const managed = (o.metadata as { managedFields?: ManagedFields } | undefined)?.managedFields;
  if (!managed || !["Deployment", "StatefulSet"].includes(o.kind ?? "") || o.spec?.replicas === undefined) return o;
  if (managed.some((m) => !m.subresource && m.fieldsV1?.["f:spec"]?.["f:replicas"] !== undefined)) return o;
  const spec = { ...(o.spec as Record<string, unknown>) };
  delete spec.replicas;
  return { ...o, spec };
}

/**
 * Whether an object is judged through its controller owner: the owner is there (an object read, of the
 * kind and uid the reference names, in its namespace) and makes such objects from a template (OWNERS), and
 * the chain of owners ends at an object that is judged, not in a loop.
 */
function ownedPredicate(all: Live[]): (o: Live) => boolean {
  const byUid = new Map<string, Live>();
  for (const o of all) if (o.metadata?.uid) byUid.set(o.metadata.uid, o);
  const ownerOf = (o: Live): Live | undefined => {
    const ref = (o.metadata?.ownerReferences ?? []).find((r) => r.controller === true);
    const owner = ref?.uid ? byUid.get(ref.uid) : undefined;
    if (!ref || !owner || owner.kind !== ref.kind) return undefined;
    if (!(OWNERS[owner.kind ?? ""] ?? []).includes(o.kind ?? "")) return undefined;
    if ((owner.metadata?.namespace ?? "") !== (o.metadata?.namespace ?? "")) return undefined;
    return owner;
  };
  // OWNERS admits no loop (a Deployment's own controller reference is ignored); the walk guards against one.
  return (o) => {
    const seen = new Set<Live>([o]);
    for (let cur = ownerOf(o); cur; cur = ownerOf(cur)) {
      // A loop through this object: nothing in it is judged through another, so it is judged.
      if (cur === o) return false;
      // A loop further up: its members are judged, and this object through them.
      if (seen.has(cur)) return true;
      seen.add(cur);
    }
    return seen.size > 1;
  };
}

/**
 * The objects the audit judges, from the lists read (kind set from the list: items carry none), given
 * Kubernetes' bootstrap policy (loadBootstrapPolicy); without one, no RBAC object is exempt as Kubernetes'
 * own.
 */
export function auditedObjects(
  lists: { kind: string; apiVersion?: string; items: Live[] }[],
  reference: BootstrapPolicy = NO_BOOTSTRAP_POLICY,
): K8sObject[] {
  const all: Live[] = lists.flatMap((l) =>
    l.items.map((o) => declaredReplicas({ ...o, kind: l.kind, ...(l.apiVersion ? { apiVersion: l.apiVersion } : {}) })),
  );
  // A Kubernetes namespace is judged once something runs in it (its default ServiceAccount does not count).
  const used = new Set(
    all
      .filter((o) => WORKLOAD_KINDS.has(o.kind ?? ""))
      .map((o) => o.metadata?.namespace)
      .filter((n): n is string => !!n),
  );
  const owned = ownedPredicate(all);
  const bootstrapped = bootstrapExemption(reference, all);
  return all.filter((o) => {
    const m = o.metadata ?? {};
    if (owned(o)) return false;
    if (bootstrapped(o)) return false;
    if (o.kind === "Namespace" && KUBERNETES_NAMESPACES.has(m.name ?? "") && !used.has(m.name ?? "")) return false;
    // The API server's own Service.
    if (o.kind === "Service" && m.namespace === "default" && m.name === "kubernetes") return false;
    return true;
  });
}

export interface AuditReport {
  objects: number;
  /** namespace ("" for cluster-scoped findings) -> findings. */
  byNamespace: Record<string, { level: "deny" | "warn"; message: string }[]>;
  deny: number;
  warn: number;
}

/** Judges the objects with every rule, together (set rules see the whole cluster). */
export function audit(objects: K8sObject[], catalogue: Catalogue, ctx: RuleContext): AuditReport {
  const v = evaluateLevels(objects, catalogue, "set", ctx);
  const byNamespace: AuditReport["byNamespace"] = {};
  const add = (level: "deny" | "warn", message: string) => {
    const s = findingSubject(message);
    // A namespace finding (CART-NET-003) names the namespace itself.
    const ns = s?.kind === "Namespace" && !s.namespace ? s.name : (s?.namespace ?? "");
    (byNamespace[ns] ??= []).push({ level, message });
  };
  for (const m of v.deny) add("deny", m);
  for (const m of v.warn) add("warn", m);
  return { objects: objects.length, byNamespace, deny: v.deny.length, warn: v.warn.length };
}

/** The report as `npm run audit` prints it. */
export function formatAudit(r: AuditReport, where: string): string {
  const lines = [`audit of ${where}: ${r.objects} objects judged`];
  const namespaces = Object.keys(r.byNamespace).sort();
  for (const ns of namespaces) {
    lines.push(ns ? `namespace ${ns}:` : "cluster-scoped:");
    for (const f of r.byNamespace[ns].sort((a, b) => (a.message < b.message ? -1 : 1)))
      lines.push(`  ${f.level === "deny" ? "DENY" : "WARN"} ${f.message}`);
  }
  lines.push(
    `audit: ${r.deny} mandatory finding(s), ${r.warn} advisory; ${r.deny ? "NOT compliant" : "compliant with every mandatory rule"}`,
  );
  return lines.join("\n");
}

/**
 * Lists every kind the rulebook audits through `get` (components/platform/kubeapi.ts apiReader) and keeps
 * what is judged, Kubernetes' bootstrap policy (by default loadBootstrapPolicy()'s) telling its own RBAC
 * objects; a string says why the cluster could not be read or the policy not had (nothing is judged then).
 */
export async function readLiveObjects(
  get: <T>(path: string) => Promise<T | string>,
  reference: () => BootstrapPolicy = () => loadBootstrapPolicy(),
): Promise<K8sObject[] | string> {
  let policy: BootstrapPolicy;
  try {
    policy = reference();
  } catch (e) {
    return `cannot have Kubernetes' bootstrap RBAC policy, what the audit exempts as Kubernetes' own (${(e as Error).message})`;
  }
  const lists = [];
  for (const a of AUDITED) {
    // 429 is the API server asking to be asked again (a kind whose CRD was just established answers so briefly).
    let res = await get<{ items: never[] }>(a.path);
    for (let tries = 1; typeof res === "string" && res.startsWith("HTTP 429") && tries < 10; tries++) {
      await new Promise((r) => setTimeout(r, 500 * tries));
      res = await get<{ items: never[] }>(a.path);
    }
    if (typeof res === "string") {
      if (a.optional && res.startsWith("HTTP 404")) continue;
      return `cannot list ${a.kind} (${res})`;
    }
    // A list's items carry neither kind nor apiVersion: both from where they were listed (the Flux rules read the group).
    const apiVersion = a.path.startsWith("/api/v1/") ? "v1" : a.path.split("/").slice(2, 4).join("/");
    lists.push({ kind: a.kind, apiVersion, items: res.items ?? [] });
  }
  return auditedObjects(lists, policy);
}
