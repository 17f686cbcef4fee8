/**
 * The rulebook over what a cluster runs, not only over what was proposed (Gatekeeper's audit does the
 * same): the live objects of every kind the rulebook knows are listed through the Kubernetes API, judged by
 * the pack's logic at the catalogue's levels, and reported per namespace. Plain module: `npm run audit`
 * and its tests share it.
 *
 * What is left out, and why: objects a controller owns (ReplicaSets of a Deployment, its Pods, a
 * CronJob's Jobs) — their owner is judged, so each finding is reported once, where it is fixed; and what
 * Kubernetes itself brings (the RBAC defaults labelled kubernetes.io/bootstrapping=rbac-defaults, system:*
 * objects, the Service default/kubernetes, and the namespaces default, kube-public, kube-node-lease and
 * kube-system, unless something runs in them).
 */
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
  { kind: "GitRepository", path: "/apis/source.toolkit.fluxcd.io/v1/gitrepositories", optional: true },
  { kind: "Kustomization", path: "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations", optional: true },
];

const KUBERNETES_NAMESPACES = new Set(["default", "kube-public", "kube-node-lease", "kube-system"]);
const WORKLOAD_KINDS = new Set(["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]);

interface Live extends K8sObject {
  metadata?: K8sObject["metadata"] & {
    ownerReferences?: { controller?: boolean; kind?: string }[];
  };
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

/** The objects the audit judges, from the lists read (kind set from the list: items carry none). */
export function auditedObjects(lists: { kind: string; items: Live[] }[]): K8sObject[] {
  const all = lists.flatMap((l) => l.items.map((o) => declaredReplicas({ ...o, kind: l.kind })));
  // A Kubernetes namespace is judged once something runs in it (its default ServiceAccount does not count).
  const used = new Set(
    all
      .filter((o) => WORKLOAD_KINDS.has(o.kind ?? ""))
      .map((o) => o.metadata?.namespace)
      .filter((n): n is string => !!n),
  );
  return all.filter((o) => {
    const m = o.metadata ?? {};
    if ((m.ownerReferences ?? []).some((r) => r.controller === true)) return false;
    if (m.labels?.["kubernetes.io/bootstrapping"] === "rbac-defaults") return false;
    if (typeof m.name === "string" && m.name.startsWith("system:")) return false;
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
 * what is judged; a string says why the cluster could not be read (nothing is judged then).
 */
export async function readLiveObjects(get: <T>(path: string) => Promise<T | string>): Promise<K8sObject[] | string> {
  const lists = [];
  for (const a of AUDITED) {
    const res = await get<{ items: never[] }>(a.path);
    if (typeof res === "string") {
      if (a.optional && res.startsWith("HTTP 404")) continue;
      return `cannot list ${a.kind} (${res})`;
    }
    lists.push({ kind: a.kind, items: res.items ?? [] });
  }
  return auditedObjects(lists);
}
