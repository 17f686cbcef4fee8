/**
 * Rule logic of the rulebook over plain documents (Kubernetes objects and the
 * KMS inventory), one function per catalogue rule. No Pulumi import: the
 * CrossGuard pack wraps these, and the parity tests run them over the same
 * documents conftest evaluates with policies/*.rego. Messages are identical on
 * both sides, word for word.
 */
import { cryptoperiodEnd } from "../keys/expiry";
import { shapeProblems, show, typeName, wellFormed } from "./shapes";
import type { Parameters, PolicyException } from "./catalogue";

/** A document as YAML or a Pulumi resource's inputs give it. */
export interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

/**
 * What a rule may know besides the documents: the time it judges at, and the
 * catalogue's exceptions. The pack passes the wall clock; tests pass a fixed
 * date, as they pass `--data clock.yaml` (data.clock.now) to conftest, so no
 * verdict depends on the day the tests run.
 */
export interface RuleContext {
  /** Milliseconds since the epoch. */
  now: number;
  /** The catalogue's exceptions (none when absent). */
  exceptions?: PolicyException[];
}

/** The subject a finding names: `CART-XXX-000: <Kind> [<namespace>/]<name>: ...`. */
export function findingSubject(
  message: string,
): { rule: string; kind: string; namespace: string; name: string } | undefined {
  const m = /^(CART-[A-Z0-9]+-[0-9]{3}): ([^ ]+) ([^ ]+): /.exec(message);
  if (!m) return undefined;
  const slash = m[3].indexOf("/");
  return {
    rule: m[1],
    kind: m[2],
    namespace: slash >= 0 ? m[3].slice(0, slash) : "",
    name: slash >= 0 ? m[3].slice(slash + 1) : m[3],
  };
}

/** In force until the start (UTC) of its expiry day. */
export function exceptionActive(e: PolicyException, now: number): boolean {
  return now < Date.parse(`${e.expires}T00:00:00Z`);
}

/** Days (rounded up) until an exception stops being in force; 0 or less once it has. */
export function exceptionDaysLeft(e: PolicyException, now: number): number {
  return Math.ceil((Date.parse(`${e.expires}T00:00:00Z`) - now) / 86_400_000);
}

/** The exception in force that covers a finding, if any (same logic as `excepted` in lib.rego). */
export function exceptionFor(message: string, ctx: RuleContext): PolicyException | undefined {
  const s = findingSubject(message);
  if (!s) return undefined;
  return (ctx.exceptions ?? []).find(
    (e) =>
      e.rule === s.rule &&
      exceptionActive(e, ctx.now) &&
      (e.scope.namespace ?? s.namespace) === s.namespace &&
      (e.scope.kind ?? s.kind) === s.kind &&
      (e.scope.name ?? s.name) === s.name,
  );
}

/** The findings no exception in force covers. */
export function unexcepted(messages: string[], ctx: RuleContext): string[] {
  return messages.filter((m) => !exceptionFor(m, ctx));
}

/** "namespace flux-system, kind Deployment": an exception's scope as messages name it. */
export function scopeText(e: PolicyException): string {
  return (["namespace", "kind", "name"] as const)
    .filter((k) => e.scope[k] !== undefined)
    .map((k) => `${k} ${e.scope[k]}`)
    .join(", ");
}

export const wallClock = (): RuleContext => ({ now: Date.now() });

/** Rules over one document at a time. */
export type ObjectRule = (obj: K8sObject, p: Parameters, ctx?: RuleContext) => string[];
/** Rules over a set of documents (conftest --combine; stack policies in the pack). */
export type SetRule = (docs: K8sObject[], p: Parameters, ctx?: RuleContext) => string[];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** How both enforcers name a document: kind, namespace and name when they are strings (lib.rego `who`). */
export function who(obj: K8sObject): string {
  const o = (obj ?? {}) as Any;
  const meta = o !== null && typeof o === "object" && !Array.isArray(o) ? o.metadata : undefined;
  const kind = typeof o?.kind === "string" && o.kind !== "" ? o.kind : "<no kind>";
  const ns = typeof meta?.namespace === "string" && meta.namespace !== "" ? `${meta.namespace}/` : "";
  const name = typeof meta?.name === "string" ? meta.name : "<unnamed>";
  return `${kind} ${ns}${name}`;
}

/** The pod spec of a workload, wherever its kind keeps it. */
export function podSpec(obj: K8sObject): Any | undefined {
  const spec = obj.spec as Any;
  if (!spec) return undefined;
  if (obj.kind === "Pod") return spec;
  if (obj.kind === "CronJob") return spec.jobTemplate?.spec?.template?.spec;
  return spec.template?.spec;
}

/** The metadata of a workload's pod template (the Pod's own for a Pod). */
function podMeta(obj: K8sObject): Any | undefined {
  if (obj.kind === "Pod") return obj.metadata;
  const spec = obj.spec as Any;
  return obj.kind === "CronJob" ? spec?.jobTemplate?.spec?.template?.metadata : spec?.template?.metadata;
}

/** The pod's securityContext and each container's, named as messages name them (baseline.rego). */
function securityContexts(obj: K8sObject, p: Parameters): [string, Any][] {
  if (!isWorkload(obj, p)) return [];
  const pod = podSpec(obj);
  return [
    ["the pod", pod?.securityContext],
    ...allContainers(pod).map((c): [string, Any] => [`container ${cname(c)}`, c.securityContext]),
  ];
}

/** The handlers of a container that may name a host: probes and lifecycle hooks. */
const HANDLERS = [
  ["readinessProbe"],
  ["livenessProbe"],
  ["startupProbe"],
  ["lifecycle", "postStart"],
  ["lifecycle", "preStop"],
];

function allContainers(pod: Any): Any[] {
  return [...(pod?.containers ?? []), ...(pod?.initContainers ?? []), ...(pod?.ephemeralContainers ?? [])];
}

const isWorkload = (obj: K8sObject, p: Parameters) => p.workloadKinds.includes(obj.kind ?? "");

/** Applies `fn` to each container of a workload, prefixing the rule id and the object. */
function perContainer(id: string, containers: (pod: Any) => Any[], fn: (c: Any, pod: Any) => string[]): ObjectRule {
  return (obj, p) => {
    if (!isWorkload(obj, p)) return [];
    const pod = podSpec(obj);
    return containers(pod).flatMap((c) => fn(c, pod).map((m) => `${id}: ${who(obj)}: ${m}`));
  };
}

function imageParts(image: string): { digest: boolean; tag?: string } {
  const [name, digest] = image.split("@");
  const last = name.split("/").pop() ?? "";
  const tag = last.includes(":") ? last.slice(last.lastIndexOf(":") + 1) : undefined;
  return { digest: digest !== undefined && /^sha256:[0-9a-f]{64}$/.test(digest), tag };
}

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

function decodeBase64(value: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  return Buffer.from(value, "base64").toString("latin1");
}

/** How both enforcers print a missing value. */
const UNSET = "<unset>";
/** How both enforcers name a document without a name (lib.rego who_name). */
const UNSET_NAME = "<unnamed>";
/** The label a namespace's Pod Security admission enforces (CART-PSS-016). */
const PSS_ENFORCE = "pod-security.kubernetes.io/enforce";

const keyWhere = (obj: K8sObject, k: Any) => `${who(obj)}: key ${k.id ?? UNSET} v${show(k.version ?? UNSET)}`;

/** How a container is named in messages (lib.rego `cname`). */
const cname = (c: Any) => c.name ?? UNSET;

/** Sorts strings by code point, as Rego's sort does (JavaScript's default compares UTF-16 units). */
const codepoints = (a: string, b: string) => {
  const x = [...a].map((ch) => ch.codePointAt(0)!);
  const y = [...b].map((ch) => ch.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
};

export const OBJECT_RULES: Record<string, ObjectRule> = {
  "CART-K8S-001": (obj, p) => {
    if (obj === null || typeof obj !== "object" || Array.isArray(obj))
      return [`CART-K8S-001: ${who(obj)}: the document is ${typeName(obj)}, not an object`];
    if (obj.kind === undefined || obj.kind === null || obj.kind === "")
      return [`CART-K8S-001: ${who(obj)}: the document has no kind`];
    if (typeof obj.kind !== "string") return [];
    if (!p.knownKinds.includes(obj.kind)) {
      return [
        `CART-K8S-001: ${who(obj)}: kind ${obj.kind} is not in the rulebook; fix the spelling or add it to parameters.knownKinds`,
      ];
    }
    return [];
  },
  "CART-K8S-002": (obj, p) =>
    obj !== null && typeof obj === "object" && !Array.isArray(obj)
      ? shapeProblems(obj, p).map((x) => `CART-K8S-002: ${who(obj)}: ${x.message}`)
      : [],
  "CART-PSS-001": perContainer("CART-PSS-001", allContainers, (c) =>
    c.securityContext?.privileged === true ? [`container ${cname(c)} is privileged`] : [],
  ),
  "CART-PSS-002": (obj, p) => {
    if (!isWorkload(obj, p)) return [];
    const pod = podSpec(obj);
    return ["hostNetwork", "hostPID", "hostIPC"]
      .filter((f) => pod?.[f] === true)
      .map((f) => `CART-PSS-002: ${who(obj)}: ${f} is true`);
  },
  "CART-PSS-003": (obj, p) => {
    if (!isWorkload(obj, p)) return [];
    return ((podSpec(obj)?.volumes ?? []) as Any[]).flatMap((v) => {
      // Its first source field (other than name) that is set; "<unset>" when it has none (lib.rego volume_type).
      const type =
        Object.keys(v)
          .filter((k) => k !== "name" && v[k] !== null)
          .sort(codepoints)[0] ?? UNSET;
      return p.allowedVolumeTypes.includes(type)
        ? []
        : [
            `CART-PSS-003: ${who(obj)}: volume ${v.name ?? UNSET} is of type ${type}; allowed: ${p.allowedVolumeTypes.join(", ")}`,
          ];
    });
  },
  "CART-PSS-004": perContainer("CART-PSS-004", allContainers, (c, pod) =>
    ((c.ports ?? []) as Any[]).flatMap((port) => {
      // hostPort 0 is unset, as the API reads it; with hostNetwork the API sets an unset one to the containerPort.
      if (port.hostPort != null && port.hostPort !== 0)
        return [`container ${cname(c)} sets hostPort ${show(port.hostPort)}`];
      if (pod?.hostNetwork === true && port.containerPort != null && port.containerPort !== 0)
        return [
          `container ${cname(c)} uses hostPort ${show(port.containerPort)} (hostNetwork sets it to the containerPort)`,
        ];
      return [];
    }),
  ),
  "CART-PSS-005": perContainer("CART-PSS-005", allContainers, (c) =>
    c.securityContext?.allowPrivilegeEscalation === false
      ? []
      : [`container ${cname(c)} does not set allowPrivilegeEscalation: false`],
  ),
  "CART-PSS-006": (obj, p) => {
    if (!isWorkload(obj, p)) return [];
    const pod = podSpec(obj);
    // A pod in a user namespace (hostUsers: false): its root is not the node's, and the standard does not ask it
    // to run as non-root (Pod Security, Kubernetes 1.35).
    if (pod?.hostUsers === false) return [];
    const out: string[] = [];
    if (pod?.securityContext?.runAsUser === 0) out.push(`CART-PSS-006: ${who(obj)}: the pod sets runAsUser 0`);
    // The pod's own false is refused even when every container says true (as Pod Security reads it).
    if (pod?.securityContext?.runAsNonRoot === false)
      out.push(`CART-PSS-006: ${who(obj)}: the pod sets runAsNonRoot: false`);
    for (const c of allContainers(pod)) {
      const nonRoot = c.securityContext?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot;
      if (nonRoot !== true)
        out.push(`CART-PSS-006: ${who(obj)}: container ${cname(c)} does not set runAsNonRoot: true`);
      if (c.securityContext?.runAsUser === 0)
        out.push(`CART-PSS-006: ${who(obj)}: container ${cname(c)} sets runAsUser 0`);
    }
    return out;
  },
  "CART-PSS-007": (obj, p) =>
    perContainer("CART-PSS-007", allContainers, (c) => {
      const caps = c.securityContext?.capabilities ?? {};
      const out = ((caps.drop ?? []) as string[]).includes("ALL")
        ? []
        : [`container ${cname(c)} does not drop ALL capabilities`];
      for (const cap of (caps.add ?? []) as string[]) {
        if (!p.allowedAddedCapabilities.includes(cap)) out.push(`container ${cname(c)} adds capability ${cap}`);
      }
      return out;
    })(obj, p),
  "CART-PSS-008": (obj, p) => {
    const out = perContainer("CART-PSS-008", allContainers, (c, pod) => {
      const type = c.securityContext?.seccompProfile?.type ?? pod?.securityContext?.seccompProfile?.type;
      return p.allowedSeccompProfiles.includes(type)
        ? []
        : [`container ${cname(c)} has no ${p.allowedSeccompProfiles.join(" or ")} seccomp profile`];
    })(obj, p);
    // The pod's own profile, when set, must be allowed even when every container sets one (as Pod Security reads it).
    const own = isWorkload(obj, p) ? podSpec(obj)?.securityContext?.seccompProfile?.type : undefined;
    if (own != null && !p.allowedSeccompProfiles.includes(own))
      out.push(
        `CART-PSS-008: ${who(obj)}: the pod sets seccomp profile ${own}; allowed: ${p.allowedSeccompProfiles.join(", ")}`,
      );
    return out;
  },
  "CART-PSS-009": (obj, p) =>
    securityContexts(obj, p)
      .filter(([, sc]) => sc?.windowsOptions?.hostProcess === true)
      .map(([part]) => `CART-PSS-009: ${who(obj)}: ${part} sets windowsOptions.hostProcess`),
  "CART-PSS-010": (obj, p) => {
    const out = securityContexts(obj, p).flatMap(([part, sc]) => {
      const type = sc?.appArmorProfile?.type;
      return type != null && !p.allowedAppArmorProfiles.includes(type)
        ? [
            `CART-PSS-010: ${who(obj)}: ${part} has AppArmor profile ${type}; allowed: ${p.allowedAppArmorProfiles.join(", ")}`,
          ]
        : [];
    });
    if (isWorkload(obj, p))
      for (const [key, value] of Object.entries((podMeta(obj)?.annotations ?? {}) as Record<string, string | null>)) {
        if (
          key.startsWith("container.apparmor.security.beta.kubernetes.io/") &&
          // Empty is unset, as Pod Security reads it.
          value !== null &&
          value !== "" &&
          value !== "runtime/default" &&
          !value.startsWith("localhost/")
        )
          out.push(`CART-PSS-010: ${who(obj)}: annotation ${key} is ${value}; allowed: runtime/default, localhost/*`);
      }
    return out;
  },
  "CART-PSS-011": (obj, p) =>
    securityContexts(obj, p).flatMap(([part, sc]) => {
      const se = sc?.seLinuxOptions ?? {};
      const out: string[] = [];
      if (se.type != null && !p.allowedSELinuxTypes.includes(se.type))
        out.push(
          `CART-PSS-011: ${who(obj)}: ${part} sets SELinux type ${se.type}; allowed: ${p.allowedSELinuxTypes.filter((t) => t !== "").join(", ")}`,
        );
      for (const field of ["user", "role"])
        if (se[field] != null && se[field] !== "")
          out.push(`CART-PSS-011: ${who(obj)}: ${part} sets SELinux ${field} ${se[field]}`);
      return out;
    }),
  "CART-PSS-012": perContainer("CART-PSS-012", allContainers, (c) => {
    const mount = c.securityContext?.procMount;
    return mount != null && mount !== "Default"
      ? [`container ${cname(c)} sets procMount ${mount}; only Default is allowed`]
      : [];
  }),
  "CART-PSS-013": (obj, p) => {
    if (!isWorkload(obj, p)) return [];
    return ((podSpec(obj)?.securityContext?.sysctls ?? []) as Any[])
      .map((x) => x.name ?? UNSET)
      .filter((name) => !p.safeSysctls.includes(name))
      .map((name) => `CART-PSS-013: ${who(obj)}: the pod sets sysctl ${name}, which is not in the safe set`);
  },
  "CART-PSS-014": perContainer("CART-PSS-014", allContainers, (c) =>
    HANDLERS.flatMap((handler) =>
      ["httpGet", "tcpSocket"].flatMap((action) => {
        let at: Any = c;
        for (const seg of handler) at = at?.[seg];
        const host = at?.[action]?.host;
        return host != null && host !== ""
          ? [`container ${cname(c)} ${handler.join(".")}.${action} sets host ${host}`]
          : [];
      }),
    ),
  ),
  "CART-PSS-015": perContainer("CART-PSS-015", allContainers, (c) =>
    c.securityContext?.readOnlyRootFilesystem === true
      ? []
      : [`container ${cname(c)} does not set readOnlyRootFilesystem: true`],
  ),
  "CART-PSS-016": (obj, p) => {
    // The namespace's own Pod Security admission refuses what the rulebook would, even for a pod neither saw.
    if (obj.kind !== "Namespace") return [];
    const name = typeof obj.metadata?.name === "string" ? obj.metadata.name : UNSET_NAME;
    if (p.podSecurityExemptNamespaces.includes(name)) return [];
    const labels = (obj.metadata?.labels ?? {}) as Record<string, string | null>;
    const level = Object.hasOwn(labels, PSS_ENFORCE) ? labels[PSS_ENFORCE] : null;
    if (level === "restricted") return [];
    const what =
      level === null
        ? "does not enforce Pod Security (no enforce label)"
        : `enforces Pod Security ${level}, not restricted`;
    return [
      `CART-PSS-016: ${who(obj)}: ${what}; label it ${PSS_ENFORCE}: restricted, or add an exception naming it (owner, reason, expiry)`,
    ];
  },
  "CART-SA-001": (obj, p) => {
    if (!isWorkload(obj, p)) return [];
    // true is a self-declaration no rule can verify, and unset mounts a token: both need an exception naming the workload.
    return podSpec(obj)?.automountServiceAccountToken !== false
      ? [
          `CART-SA-001: ${who(obj)}: the pod mounts a service-account token; set automountServiceAccountToken: false, or, if it calls the Kubernetes API, add an exception naming it (owner, reason, expiry)`,
        ]
      : [];
  },
  "CART-NET-004": (obj) => {
    if (obj.kind !== "Service") return [];
    const out: string[] = [];
    if (obj.spec?.type === "LoadBalancer")
      out.push(
        `CART-NET-004: ${who(obj)}: type LoadBalancer exposes the service outside the cluster; it needs an exception in the catalogue`,
      );
    const ips = (obj.spec?.externalIPs ?? []) as string[];
    if (ips.length > 0)
      out.push(`CART-NET-004: ${who(obj)}: sets externalIPs ${ips.join(", ")}; it needs an exception in the catalogue`);
    return out;
  },
  "CART-NET-005": (obj) => {
    if (obj.kind !== "Ingress") return [];
    const hosts = new Set<string>();
    for (const r of (obj.spec?.rules ?? []) as Any[]) if (typeof r.host === "string") hosts.add(r.host);
    for (const t of (obj.spec?.tls ?? []) as Any[])
      for (const h of (t.hosts ?? []) as unknown[]) if (typeof h === "string") hosts.add(h);
    return [...hosts].filter((h) => h.startsWith("*")).map((h) => `CART-NET-005: ${who(obj)}: host ${h} is a wildcard`);
  },
  "CART-RBAC-001": (obj) => {
    if (obj.kind !== "Role" && obj.kind !== "ClusterRole") return [];
    return (((obj as Any).rules ?? []) as Any[]).flatMap((rule, i) =>
      (["verbs", "resources"] as const)
        .filter((field) => ((rule[field] ?? []) as string[]).includes("*"))
        .map((field) => `CART-RBAC-001: ${who(obj)}: rule ${i} grants every ${field.slice(0, -1)} ("*")`),
    );
  },
  "CART-RBAC-002": (obj) => {
    if (obj.kind !== "RoleBinding" && obj.kind !== "ClusterRoleBinding") return [];
    const ref = (obj as Any).roleRef ?? {};
    return ref.kind === "ClusterRole" && ref.name === "cluster-admin"
      ? [`CART-RBAC-002: ${who(obj)}: binds the ClusterRole cluster-admin`]
      : [];
  },
  "CART-RBAC-003": (obj) => {
    if (obj.kind !== "Role" && obj.kind !== "ClusterRole") return [];
    const writes = ["create", "update", "patch", "delete", "deletecollection"];
    const admission = [
      "mutatingadmissionpolicies",
      "mutatingadmissionpolicybindings",
      "mutatingwebhookconfigurations",
      "validatingadmissionpolicies",
      "validatingadmissionpolicybindings",
      "validatingwebhookconfigurations",
    ];
    return (((obj as Any).rules ?? []) as Any[]).flatMap((rule, i) => {
      const verbs = (Array.isArray(rule?.verbs) ? rule.verbs : []) as unknown[];
      const resources = (Array.isArray(rule?.resources) ? rule.resources : []) as unknown[];
      const paths: string[] = [];
      for (const v of ["bind", "escalate", "impersonate"]) if (verbs.includes(v)) paths.push(`the ${v} verb`);
      if (resources.includes("nodes/proxy")) paths.push("the kubelet API (nodes/proxy)");
      if (resources.includes("serviceaccounts/token") && verbs.includes("create"))
        paths.push("minting service-account tokens (serviceaccounts/token create)");
      if (
        resources.includes("certificatesigningrequests/approval") &&
        (verbs.includes("update") || verbs.includes("patch"))
      )
        paths.push("approving certificate requests (certificatesigningrequests/approval)");
      for (const r of admission)
        if (resources.includes(r) && writes.some((w) => verbs.includes(w)))
          paths.push(`writing admission configuration (${r})`);
      return paths.map((p) => `CART-RBAC-003: ${who(obj)}: rule ${i} grants an escalation path: ${p}`);
    });
  },
  "CART-RES-001": perContainer(
    "CART-RES-001",
    (pod) => [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])],
    (c) => {
      const r = c.resources ?? {};
      const out: string[] = [];
      if (r.requests?.cpu == null) out.push(`container ${cname(c)} has no CPU request`);
      if (r.requests?.memory == null) out.push(`container ${cname(c)} has no memory request`);
      if (r.limits?.memory == null) out.push(`container ${cname(c)} has no memory limit`);
      return out;
    },
  ),
  "CART-RES-002": (obj, p) => {
    if (!["Deployment", "StatefulSet", "DaemonSet"].includes(obj.kind ?? "")) return [];
    return perContainer(
      "CART-RES-002",
      (pod) => pod?.containers ?? [],
      (c) => [
        ...(c.readinessProbe != null ? [] : [`container ${cname(c)} has no readinessProbe`]),
        ...(c.livenessProbe != null ? [] : [`container ${cname(c)} has no livenessProbe`]),
      ],
    )(obj, p);
  },
  "CART-IMG-001": perContainer("CART-IMG-001", allContainers, (c) => {
    const image = String(c.image ?? "");
    const { digest, tag } = imageParts(image);
    const out: string[] = [];
    if (!digest) out.push(`container ${cname(c)} image ${image} is not pinned by digest`);
    if (tag === "latest" || (tag === undefined && !digest))
      out.push(`container ${cname(c)} image ${image} uses the latest tag`);
    return out;
  }),
  "CART-IMG-002": (obj, p) =>
    perContainer("CART-IMG-002", allContainers, (c) => {
      const image = String(c.image ?? "");
      return p.allowedRegistries.some((r) => image.startsWith(r))
        ? []
        : [`container ${cname(c)} image ${image} is not from an allowed registry (${p.allowedRegistries.join(", ")})`];
    })(obj, p),
  "CART-LGPD-001": (obj, p) => {
    if (!p.labelledKinds.includes(obj.kind ?? "")) return [];
    const labels = (obj.metadata?.labels ?? {}) as Record<string, string | null>;
    const out = p.requiredLabels
      // A null value is stored by the API server as "": either way the label says nothing.
      .filter((l) => !Object.hasOwn(labels, l) || labels[l] === null || labels[l] === "")
      .map((l) => `CART-LGPD-001: ${who(obj)}: lacks the label ${l}`);
    const cls = Object.hasOwn(labels, p.dataClassificationLabel) ? labels[p.dataClassificationLabel] : null;
    if (cls != null && !p.dataClassifications.includes(cls)) {
      out.push(
        `CART-LGPD-001: ${who(obj)}: has ${p.dataClassificationLabel}=${cls}; expected one of ${p.dataClassifications.join(", ")}`,
      );
    }
    return out;
  },
  "CART-NET-001": (obj) =>
    obj.kind === "Service" && obj.spec?.type === "NodePort"
      ? [`CART-NET-001: ${who(obj)}: type NodePort exposes the service on every node`]
      : [],
  "CART-NET-002": (obj) => {
    if (obj.kind !== "Ingress") return [];
    const tls = (obj.spec?.tls ?? []) as Any[];
    if (tls.length === 0) return [`CART-NET-002: ${who(obj)}: has no TLS`];
    const covered = new Set(tls.flatMap((t) => t.hosts ?? []));
    return ((obj.spec?.rules ?? []) as Any[])
      .filter((r) => r.host != null && !covered.has(r.host))
      .map((r) => `CART-NET-002: ${who(obj)}: host ${r.host} has no TLS entry`);
  },
  "CART-AVL-001": (obj) => {
    if (obj.kind !== "PodDisruptionBudget") return [];
    const s = obj.spec ?? {};
    const out: string[] = [];
    if (s.maxUnavailable === 0 || s.maxUnavailable === "0%")
      out.push(`CART-AVL-001: ${who(obj)}: maxUnavailable ${show(s.maxUnavailable)} blocks every eviction`);
    if (s.minAvailable === "100%") out.push(`CART-AVL-001: ${who(obj)}: minAvailable 100% blocks every eviction`);
    return out;
  },
  "CART-SCL-001": (obj, p) => {
    // Fails closed: citizen-facing unless explicitly labelled "false" (a missing label never switches it off).
    if (obj.kind !== "HorizontalPodAutoscaler" || obj.metadata?.labels?.[p.citizenFacingLabel] === "false") return [];
    const min = (obj.spec?.minReplicas as number | undefined) ?? 1;
    return min < p.minReplicasCitizenFacing
      ? [
          `CART-SCL-001: ${who(obj)}: sets minReplicas ${show(min)}; citizen-facing workloads need at least ${p.minReplicasCitizenFacing}`,
        ]
      : [];
  },
  "CART-GIT-001": (obj, p) => {
    if (obj.metadata?.name !== "flux-system" || obj.metadata?.namespace !== "flux-system") return [];
    const s = (obj.spec ?? {}) as Any;
    const out: string[] = [];
    if (obj.kind === "GitRepository" && String(obj.apiVersion ?? "").startsWith("source.toolkit.fluxcd.io/")) {
      const clone = typeof s.url === "string" && new RegExp(p.gitops.localUrlPattern).test(s.url);
      if (s.url !== p.gitops.url && !clone) out.push(`spec.url is ${s.url ?? "<unset>"}; expected ${p.gitops.url}`);
      if (s.ref?.branch !== p.gitops.branch)
        out.push(`spec.ref.branch is ${s.ref?.branch ?? "<unset>"}; expected ${p.gitops.branch}`);
      if (p.gitops.requireVerify && !clone) {
        const v = s.verify;
        if (v === null || typeof v !== "object" || Array.isArray(v))
          out.push(`spec.verify is not set; only commits signed by a maintainer key may reach the cluster`);
        else {
          if (v.mode !== "HEAD" && v.mode !== "TagAndHEAD")
            out.push(`spec.verify.mode is ${v.mode ?? "<unset>"}; expected HEAD or TagAndHEAD`);
          if (typeof v.secretRef?.name !== "string" || v.secretRef.name === "")
            out.push(`spec.verify.secretRef.name is unset; expected the Secret of the maintainers' keys`);
        }
      }
    }
    if (obj.kind === "Kustomization" && String(obj.apiVersion ?? "").startsWith("kustomize.toolkit.fluxcd.io/")) {
      if (s.path !== p.gitops.path) out.push(`spec.path is ${s.path ?? "<unset>"}; expected ${p.gitops.path}`);
      if (s.prune !== true) out.push(`spec.prune is not true`);
      if (s.suspend === true) out.push(`spec.suspend is true`);
    }
    return out.map((m) => `CART-GIT-001: ${who(obj)}: ${m}`);
  },
  "CART-GIT-002": (obj) => {
    const api = String(obj.apiVersion ?? "");
    const s = (obj.spec ?? {}) as Any;
    const institutional = obj.metadata?.name === "flux-system" && obj.metadata?.namespace === "flux-system";
    if (["GitRepository", "OCIRepository", "HelmRepository", "Bucket"].includes(obj.kind ?? "")) {
      if (!api.startsWith("source.toolkit.fluxcd.io/") || (obj.kind === "GitRepository" && institutional)) return [];
      return [
        `CART-GIT-002: ${who(obj)}: a Flux source other than the institutional sync (GitRepository flux-system/flux-system)`,
      ];
    }
    let ref: unknown;
    if (obj.kind === "Kustomization" && api.startsWith("kustomize.toolkit.fluxcd.io/")) ref = s.sourceRef ?? {};
    else if (obj.kind === "HelmRelease" && api.startsWith("helm.toolkit.fluxcd.io/"))
      ref = s.chartRef !== undefined ? s.chartRef : (s.chart?.spec?.sourceRef ?? {});
    else return [];
    if (ref === null || typeof ref !== "object" || Array.isArray(ref)) return [];
    const r = ref as Any;
    const ns = r.namespace !== undefined ? r.namespace : obj.metadata?.namespace;
    return r.kind === "GitRepository" && ns === "flux-system" && r.name === "flux-system"
      ? []
      : [`CART-GIT-002: ${who(obj)}: does not read GitRepository flux-system/flux-system (its source reference)`];
  },
  "CART-SEC-001": (obj, p) => {
    if (obj.kind !== "Secret") return [];
    if (p.privateKeySecretExemptions.includes(`${obj.metadata?.namespace}/${obj.metadata?.name}`)) return [];
    const out: string[] = [];
    for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, string>).sort()) {
      if (v === null) continue;
      const text = decodeBase64(String(v));
      if (text !== undefined && PRIVATE_KEY.test(text))
        out.push(`CART-SEC-001: ${who(obj)}: data.${k} holds a private key`);
    }
    for (const [k, v] of Object.entries((obj.stringData ?? {}) as Record<string, string>).sort()) {
      if (v === null) continue;
      if (PRIVATE_KEY.test(String(v))) out.push(`CART-SEC-001: ${who(obj)}: stringData.${k} holds a private key`);
    }
    return out;
  },
  "CART-KMS-001": (obj) => {
    if (obj.kind !== "KmsInventory") return [];
    // A key with no token, or a token with no name, matches nothing (lib.rego: "<unset>" is never a token).
    const tokens = new Set(((obj.tokens ?? []) as Any[]).map((t) => t.name ?? UNSET).filter((n) => n !== UNSET));
    return ((obj.keys ?? []) as Any[])
      .filter((k) => !tokens.has(k.token ?? UNSET))
      .map(
        (k) =>
          `CART-KMS-001: ${keyWhere(obj, k)} names token ${k.token ?? UNSET}, which is not an HSM token of the inventory`,
      );
  },
  "CART-KMS-002": (obj, p) => {
    if (obj.kind !== "KmsInventory") return [];
    return ((obj.keys ?? []) as Any[]).flatMap((k) => {
      const where = `CART-KMS-002: ${keyWhere(obj, k)}`;
      const algorithm = k.algorithm ?? UNSET;
      if (algorithm === "EC") {
        return p.kms.allowedAlgorithms.EC.includes(k.curve ?? UNSET)
          ? []
          : [`${where} uses EC curve ${k.curve ?? UNSET}; allowed: ${p.kms.allowedAlgorithms.EC.join(", ")}`];
      }
      if (algorithm === "RSA") {
        return p.kms.allowedAlgorithms.RSA.includes(k.size ?? UNSET)
          ? []
          : [`${where} uses RSA size ${show(k.size ?? UNSET)}; allowed: ${p.kms.allowedAlgorithms.RSA.join(", ")}`];
      }
      return [`${where} uses algorithm ${algorithm}; allowed: EC, RSA`];
    });
  },
  "CART-KMS-003": (obj, p, ctx = wallClock()) => {
    if (obj.kind !== "KmsInventory") return [];
    const now = ctx.now;
    return ((obj.keys ?? []) as Any[]).flatMap((k) => {
      const where = `CART-KMS-003: ${keyWhere(obj, k)}`;
      const purpose = k.purpose ?? UNSET;
      const max = Object.hasOwn(p.kms.maxCryptoperiodDays, purpose)
        ? (p.kms.maxCryptoperiodDays as Record<string, number>)[purpose]
        : undefined;
      if (max === undefined)
        return [`${where} has purpose ${purpose}, which has no maximum cryptoperiod in the catalogue`];
      if (typeof k.cryptoperiodDays !== "number") return [`${where} has no cryptoperiodDays`];
      const out: string[] = [];
      if (k.cryptoperiodDays > max)
        out.push(`${where} has a cryptoperiod of ${show(k.cryptoperiodDays)} days; at most ${max} for ${purpose}`);
      if (k.state === "active") {
        if (typeof k.activatedOn !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(k.activatedOn)) {
          out.push(`${where} is active but has no activatedOn date (YYYY-MM-DD)`);
        } else {
          const ends = cryptoperiodEnd(k.activatedOn, k.cryptoperiodDays);
          if (ends < now) out.push(`${where} expired on ${new Date(ends).toISOString().slice(0, 10)}; rotate it`);
        }
      }
      return out;
    });
  },
};

function isDefaultDeny(np: K8sObject): boolean {
  const s = (np.spec ?? {}) as Any;
  const sel = s.podSelector ?? {};
  const emptySelector = Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
  const types = (s.policyTypes ?? []) as string[];
  return (
    emptySelector &&
    types.includes("Ingress") &&
    types.includes("Egress") &&
    (s.ingress ?? []).length === 0 &&
    (s.egress ?? []).length === 0
  );
}

export const SET_RULES: Record<string, SetRule> = {
  "CART-EXC-001": (_docs, _p, ctx = wallClock()) =>
    (ctx.exceptions ?? [])
      .filter((e) => !exceptionActive(e, ctx.now))
      .map(
        (e) =>
          `CART-EXC-001: exception to ${e.rule} (${scopeText(e)}) owned by ${e.owner} expired on ${e.expires}: ` +
          `fix the findings, or renew it with a new reason and date`,
      )
      .sort(),
  "CART-NET-003": (docs, p) => {
    const namespaces = new Set<string>();
    for (const d of docs) {
      if (d.kind === "Namespace" && typeof d.metadata?.name === "string") namespaces.add(d.metadata.name);
      if (p.workloadKinds.includes(d.kind ?? "")) namespaces.add(d.metadata?.namespace ?? "default");
    }
    const denied = new Set(
      docs.filter((d) => d.kind === "NetworkPolicy" && isDefaultDeny(d)).map((d) => d.metadata?.namespace ?? "default"),
    );
    return [...namespaces]
      .filter((ns) => !p.networkPolicyExemptNamespaces.includes(ns) && !denied.has(ns))
      .sort()
      .map(
        (ns) =>
          `CART-NET-003: Namespace ${ns}: no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, no rules)`,
      );
  },
  "CART-SCL-002": (docs) =>
    docs
      .filter((h) => h.kind === "HorizontalPodAutoscaler")
      .flatMap((h) => {
        const ref = ((h.spec ?? {}) as Any).scaleTargetRef ?? {};
        const ns = h.metadata?.namespace ?? "default";
        return docs
          .filter(
            (d) =>
              ["Deployment", "StatefulSet"].includes(d.kind ?? "") &&
              d.kind === ref.kind &&
              d.metadata?.name === ref.name &&
              (d.metadata?.namespace ?? "default") === ns &&
              (d.spec as Any)?.replicas != null,
          )
          .map(
            (d) =>
              `CART-SCL-002: ${who(d)}: sets spec.replicas (${show((d.spec as Any).replicas)}) but ${who(h)} scales it; remove spec.replicas`,
          );
      })
      .sort(),
};

/** The rules that judge the documents themselves see every one but the empty ones. */
export const SHAPE_RULES = new Set(["CART-K8S-001", "CART-K8S-002"]);

/**
 * The documents a rule judges: CART-K8S-001/002 see every non-empty document; every other rule only
 * objects whose fields have their types (lib.rego `docs`), so an ill-typed field fails closed.
 */
export function judged(ruleId: string, docs: K8sObject[], p: Parameters): K8sObject[] {
  const present = docs.filter((d) => d !== null && d !== undefined);
  return SHAPE_RULES.has(ruleId) ? present : present.filter((d) => formed(d, p));
}

/** wellFormed, once per document and catalogue (every rule asks). */
const formedCache = new WeakMap<object, WeakMap<Parameters, boolean>>();
function formed(d: K8sObject, p: Parameters): boolean {
  if (typeof d !== "object") return false;
  let byParams = formedCache.get(d);
  if (!byParams) formedCache.set(d, (byParams = new WeakMap()));
  let ok = byParams.get(p);
  if (ok === undefined) byParams.set(p, (ok = wellFormed(d, p)));
  return ok;
}

/** Rule ids implemented here, object and set rules. */
export const RULE_IDS = [...Object.keys(OBJECT_RULES), ...Object.keys(SET_RULES)].sort();

/** Findings split by the catalogue's enforcement: mandatory rules deny, advisory ones warn, disabled ones say nothing. */
export interface LevelledFindings {
  deny: string[];
  warn: string[];
}

/**
 * The rulebook as conftest applies it to one input: `object` mode runs the single-document rules over each
 * document (conftest without --combine), `set` mode runs every rule over the documents together (--combine).
 * A rule that throws is reported as a finding of its own, so a crash never passes for compliance.
 */
export function evaluateLevels(
  docs: K8sObject[],
  catalogue: { rules: { id: string; enforcement: string }[]; parameters: Parameters },
  mode: "object" | "set",
  ctx: RuleContext = wallClock(),
): LevelledFindings {
  const out: LevelledFindings = { deny: [], warn: [] };
  for (const rule of catalogue.rules) {
    if (rule.enforcement === "disabled") continue;
    const obj = OBJECT_RULES[rule.id];
    const set = SET_RULES[rule.id];
    let found: string[] = [];
    try {
      const mine = judged(rule.id, docs, catalogue.parameters);
      if (obj) for (const d of mine) found.push(...obj(d, catalogue.parameters, ctx));
      else if (set && mode === "set") found = set(mine, catalogue.parameters, ctx);
    } catch (e) {
      found = [`${rule.id}: the rule failed on this input: ${(e as Error).message}`];
    }
    // One finding per message, as Rego's sets keep them.
    (rule.enforcement === "advisory" ? out.warn : out.deny).push(...new Set(unexcepted(found, ctx)));
  }
  return { deny: out.deny.sort(), warn: out.warn.sort() };
}
