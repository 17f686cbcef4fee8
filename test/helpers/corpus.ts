/**
 * The parity corpus: compliant documents of every kind the rulebook checks,
 * hand-written violations of every rule, and mutations generated from the
 * compliant documents (one scalar field changed or removed per mutation).
 * Every fixture lives in a namespace (or has a name) of its own, so fixtures
 * never see each other. Used by the parity test and the policy benchmark.
 */
import type { K8sObject } from "../../components/policy/rules";

export interface Fixture {
  id: string;
  /** "object": one document per file, evaluated per file; "set": several documents evaluated together (--combine). */
  mode: "object" | "set";
  docs: K8sObject[];
  /** What the fixture is for (compliant base, a rule's violation, or the mutation applied). */
  note: string;
}

const DIGEST = "sha256:4f6c1a6d3b0e9d2c7a8b5e1f0d9c8b7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b";
const PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbc\n-----END EC PRIVATE KEY-----\n";

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));
// Fixtures edit deep, loosely typed paths of documents.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

function labels(ns: string) {
  return {
    "app.kubernetes.io/name": ns,
    "app.kubernetes.io/part-of": "cartorio-plataforma",
    "cartorio.digital/owner": "time-aplicacao",
    "cartorio.digital/data-classification": "confidencial",
    "cartorio.digital/citizen-facing": "true",
  };
}

const container = (name: string) => ({
  name,
  image: `registry.cartorio.example/cartorio/api@${DIGEST}`,
  ports: [{ name: "http", containerPort: 8080 }],
  resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "256Mi" } },
  readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
  livenessProbe: { httpGet: { path: "/healthz", port: "http" } },
  securityContext: {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    procMount: "Default",
    appArmorProfile: { type: "RuntimeDefault" },
  },
  lifecycle: { preStop: { httpGet: { path: "/drain", port: "http" } } },
});

/** Compliant documents of each checked kind, placed in namespace `ns`. */
export function compliant(ns: string): Record<string, K8sObject> {
  const podSpec = {
    automountServiceAccountToken: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: "RuntimeDefault" },
      seLinuxOptions: { type: "container_t" },
      windowsOptions: { hostProcess: false },
      sysctls: [{ name: "net.ipv4.tcp_syncookies", value: "1" }],
    },
    containers: [container("api")],
    initContainers: [
      { ...container("migrate"), readinessProbe: undefined, livenessProbe: undefined, ports: undefined },
    ],
    volumes: [
      { name: "tmp", emptyDir: {} },
      { name: "config", configMap: { name: "api" } },
    ],
  };
  const meta = (name = "api") => ({ name, namespace: ns, labels: labels(ns) });
  return {
    deployment: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta(),
      spec: {
        selector: { matchLabels: { app: "api" } },
        template: {
          metadata: { annotations: { "container.apparmor.security.beta.kubernetes.io/api": "runtime/default" } },
          spec: clone(podSpec),
        },
      },
    },
    statefulset: {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: meta("db"),
      spec: { serviceName: "db", template: { spec: clone(podSpec) } },
    },
    cronjob: {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: meta("backup"),
      spec: {
        schedule: "0 3 * * *",
        jobTemplate: { spec: { template: { spec: { ...clone(podSpec), restartPolicy: "OnFailure" } } } },
      },
    },
    service: {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta(),
      spec: { type: "ClusterIP", ports: [{ port: 80, targetPort: "http" }], externalIPs: [] },
    },
    ingress: {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: meta(),
      spec: {
        tls: [{ hosts: [`${ns}.cartorio.example`], secretName: "tls" }],
        rules: [{ host: `${ns}.cartorio.example` }],
      },
    },
    pdb: { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: meta(), spec: { maxUnavailable: 1 } },
    hpa: {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: meta(),
      spec: {
        minReplicas: 3,
        maxReplicas: 10,
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "api" },
      },
    },
    // As the platform declares one (components/scaling/objects.ts): enforcing Pod Security restricted (CART-PSS-016).
    namespace: {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns, labels: { ...labels(ns), "pod-security.kubernetes.io/enforce": "restricted" } },
    },
    role: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "leitor", namespace: ns },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }],
    },
    rolebinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "leitor", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "leitor" },
      subjects: [{ kind: "ServiceAccount", name: "api", namespace: ns }],
    },
    networkpolicy: {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "default-deny", namespace: ns },
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    },
    secret: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "api", namespace: ns },
      stringData: { "tls.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
    },
    gitrepository: {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { name: "flux-system", namespace: "flux-system" },
      spec: {
        interval: "1m",
        url: "ssh://git@github.com/cartorio-digital/infraestrutura",
        ref: { branch: "main" },
        secretRef: { name: "flux-system" },
        verify: { mode: "HEAD", secretRef: { name: "maintainer-keys" } },
      },
    },
    kustomization: {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: "flux-system", namespace: "flux-system" },
      spec: {
        interval: "10m",
        path: "./clusters/producao",
        prune: true,
        sourceRef: { kind: "GitRepository", name: "flux-system" },
      },
    },
    inventory: {
      apiVersion: "cartorio.digital/v1",
      kind: "KmsInventory",
      metadata: { name: ns },
      tokens: [{ name: "assinatura", label: "cartorio", mechanisms: ["CKM_ECDSA"] }],
      keys: [
        {
          id: "atos",
          purpose: "notarial-signing",
          algorithm: "EC",
          curve: "P-384",
          token: "assinatura",
          version: 2,
          cryptoperiodDays: 730,
          activatedOn: "2026-01-05",
          state: "active",
        },
        {
          id: "selo",
          purpose: "digital-seal",
          algorithm: "RSA",
          size: 3072,
          token: "assinatura",
          version: 1,
          cryptoperiodDays: 1095,
          activatedOn: "2026-01-05",
          state: "active",
        },
      ],
    },
  };
}

type Edit = (d: K8sObject) => void;
const pod = (d: K8sObject) => (d.spec as Record<string, Loose>).template.spec as Record<string, Loose>;
const api = (d: K8sObject) => pod(d).containers[0];

/** Hand-written violations: rule id, base document, edit. */
const VIOLATIONS: [string, string, Edit][] = [
  // An ill-typed field fails closed: the string "true" is not privileged: false, and no other rule judges it.
  ["CART-K8S-002", "deployment", (d) => void (api(d).securityContext.privileged = "true")],
  ["CART-K8S-002", "hpa", (d) => void ((d.spec as Loose).minReplicas = "1")],
  ["CART-K8S-001", "deployment", (d) => void delete d.kind],
  ["CART-PSS-009", "deployment", (d) => void (pod(d).securityContext.windowsOptions = { hostProcess: true })],
  ["CART-PSS-010", "deployment", (d) => void (api(d).securityContext.appArmorProfile = { type: "Unconfined" })],
  [
    "CART-PSS-010 (annotation)",
    "statefulset",
    (d) =>
      void ((d.spec as Loose).template.metadata = {
        annotations: { "container.apparmor.security.beta.kubernetes.io/api": "unconfined" },
      }),
  ],
  ["CART-PSS-011", "deployment", (d) => void (pod(d).securityContext.seLinuxOptions = { type: "spc_t", user: "root" })],
  ["CART-PSS-012", "deployment", (d) => void (api(d).securityContext.procMount = "Unmasked")],
  [
    "CART-PSS-013",
    "deployment",
    (d) => void (pod(d).securityContext.sysctls = [{ name: "kernel.msgmax", value: "1" }]),
  ],
  ["CART-PSS-014", "deployment", (d) => void (api(d).readinessProbe.httpGet.host = "10.0.0.1")],
  [
    "CART-PSS-014",
    "statefulset",
    (d) => void (api(d).lifecycle = { preStop: { tcpSocket: { port: 80, host: "db" } } }),
  ],
  ["CART-PSS-015", "deployment", (d) => void delete api(d).securityContext.readOnlyRootFilesystem],
  ["CART-SA-001", "deployment", (d) => void delete pod(d).automountServiceAccountToken],
  ["CART-SA-001", "deployment", (d) => void (pod(d).automountServiceAccountToken = true)],
  ["CART-NET-004", "service", (d) => void ((d.spec as Loose).type = "LoadBalancer")],
  ["CART-NET-004", "service", (d) => void ((d.spec as Loose).externalIPs = ["203.0.113.7"])],
  ["CART-NET-005", "ingress", (d) => void ((d.spec as Loose).rules[0].host = "*.cartorio.example")],
  ["CART-RBAC-003", "role", (d) => void ((d as Loose).rules[0].verbs = ["get", "escalate"])],
  ["CART-RBAC-003", "role", (d) => void ((d as Loose).rules[0].verbs = ["bind", "impersonate"])],
  ["CART-RBAC-003", "role", (d) => void ((d as Loose).rules[0].resources = ["nodes/proxy"])],
  [
    "CART-RBAC-003",
    "role",
    (d) => void ((d as Loose).rules[0] = { apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"] }),
  ],
  [
    "CART-RBAC-003",
    "role",
    (d) =>
      void ((d as Loose).rules[0] = {
        apiGroups: ["certificates.k8s.io"],
        resources: ["certificatesigningrequests/approval"],
        verbs: ["update"],
      }),
  ],
  [
    "CART-RBAC-003",
    "role",
    (d) =>
      void ((d as Loose).rules[0] = {
        apiGroups: ["admissionregistration.k8s.io"],
        resources: ["validatingwebhookconfigurations"],
        verbs: ["get", "patch"],
      }),
  ],
  ["CART-GIT-002", "gitrepository", (d) => void (d.metadata!.name = "outra-fonte")],
  ["CART-GIT-002", "gitrepository", (d) => void (d.metadata!.namespace = "cartorio")],
  [
    "CART-GIT-002",
    "kustomization",
    (d) => void ((d.spec as Loose).sourceRef = { kind: "GitRepository", name: "outra-fonte" }),
  ],
  [
    "CART-GIT-002",
    "kustomization",
    (d) =>
      void ((d.spec as Loose).sourceRef = { kind: "OCIRepository", name: "flux-system", namespace: "flux-system" }),
  ],
  ["CART-RBAC-001", "role", (d) => void ((d as Loose).rules[0].verbs = ["*"])],
  ["CART-RBAC-001", "role", (d) => void ((d as Loose).rules[0].resources = ["*"])],
  [
    "CART-RBAC-002",
    "rolebinding",
    (d) =>
      void ((d as Loose).roleRef = {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "cluster-admin",
      }),
  ],
  ["CART-K8S-001", "deployment", (d) => void (d.kind = "Deploymnet")],
  ["CART-PSS-001", "deployment", (d) => void (api(d).securityContext.privileged = true)],
  [
    "CART-PSS-001",
    "cronjob",
    (d) => void ((d.spec as Loose).jobTemplate.spec.template.spec.initContainers[0].securityContext.privileged = true),
  ],
  ["CART-PSS-002", "deployment", (d) => void (pod(d).hostNetwork = true)],
  ["CART-PSS-002", "statefulset", (d) => void Object.assign(pod(d), { hostPID: true, hostIPC: true })],
  ["CART-PSS-003", "deployment", (d) => void pod(d).volumes.push({ name: "raiz", hostPath: { path: "/" } })],
  ["CART-PSS-004", "deployment", (d) => void (api(d).ports[0].hostPort = 8080)],
  ["CART-PSS-005", "deployment", (d) => void (api(d).securityContext.allowPrivilegeEscalation = true)],
  ["CART-PSS-006", "deployment", (d) => void (pod(d).securityContext.runAsUser = 0)],
  ["CART-PSS-006", "deployment", (d) => void (api(d).securityContext.runAsNonRoot = false)],
  [
    "CART-PSS-007",
    "deployment",
    (d) => void (api(d).securityContext.capabilities = { drop: ["NET_RAW"], add: ["SYS_ADMIN"] }),
  ],
  ["CART-PSS-008", "deployment", (d) => void (pod(d).securityContext.seccompProfile = { type: "Unconfined" })],
  ["CART-RES-001", "deployment", (d) => void delete api(d).resources],
  ["CART-RES-002", "statefulset", (d) => void delete api(d).readinessProbe],
  ["CART-IMG-001", "deployment", (d) => void (api(d).image = "registry.cartorio.example/cartorio/api:latest")],
  ["CART-IMG-001", "deployment", (d) => void (api(d).image = "registry.cartorio.example/cartorio/api")],
  ["CART-IMG-002", "deployment", (d) => void (api(d).image = `docker.io/library/nginx@${DIGEST}`)],
  ["CART-LGPD-001", "service", (d) => void delete d.metadata!.labels!["cartorio.digital/owner"]],
  ["CART-LGPD-001", "namespace", (d) => void (d.metadata!.labels!["cartorio.digital/data-classification"] = "secreto")],
  ["CART-NET-001", "service", (d) => void (d.spec!.type = "NodePort")],
  ["CART-NET-002", "ingress", (d) => void delete d.spec!.tls],
  ["CART-NET-002", "ingress", (d) => void (d.spec!.rules as unknown[]).push({ host: "outro.cartorio.example" })],
  ["CART-AVL-001", "pdb", (d) => void (d.spec = { maxUnavailable: 0 })],
  ["CART-AVL-001", "pdb", (d) => void (d.spec = { minAvailable: "100%" })],
  ["CART-SCL-001", "hpa", (d) => void (d.spec!.minReplicas = 1)],
  // Fails closed: without the citizen-facing label the minimum still applies.
  [
    "CART-SCL-001",
    "hpa",
    (d) => {
      d.spec!.minReplicas = 1;
      delete d.metadata!.labels!["cartorio.digital/citizen-facing"];
    },
  ],
  ["CART-GIT-001", "gitrepository", (d) => void (d.spec!.url = "ssh://git@github.com/outro/repositorio")],
  ["CART-GIT-001", "gitrepository", (d) => void delete d.spec!.verify],
  ["CART-GIT-001", "gitrepository", (d) => void (d.spec!.verify = { mode: "Tag" })],
  ["CART-GIT-001", "gitrepository", (d) => void (d.spec!.verify = { mode: null, secretRef: {} })],
  [
    "CART-GIT-001",
    "kustomization",
    (d) => void Object.assign(d.spec!, { prune: false, suspend: true, path: "./clusters/teste" }),
  ],
  ["CART-SEC-001", "secret", (d) => void (d.data = { "tls.key": Buffer.from(PEM).toString("base64") })],
  ["CART-SEC-001", "secret", (d) => void (d.stringData = { identity: PEM })],
  ["CART-KMS-001", "inventory", (d) => void ((d.keys as Loose[])[0].token = "software")],
  ["CART-KMS-002", "inventory", (d) => void ((d.keys as Loose[])[1].size = 2048)],
  [
    "CART-KMS-003",
    "inventory",
    (d) => void Object.assign((d.keys as Loose[])[0], { activatedOn: "2020-01-01", cryptoperiodDays: 1200 }),
  ],
];

/** Scalar leaves of a document as JSON paths. */
function leaves(x: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (x === null || typeof x !== "object") return [path];
  const entries = Array.isArray(x) ? x.map((v, i) => [i, v] as const) : Object.entries(x as object);
  return entries.flatMap(([k, v]) => leaves(v, [...path, k]));
}

function setAt(doc: unknown, path: (string | number)[], value: unknown | typeof REMOVE): void {
  let cur = doc as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) cur = cur[seg] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === REMOVE) {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else cur[last] = value;
}
const REMOVE = Symbol("remove");

/** The alternative value of one mutation: booleans flip, numbers go to 0, strings to a near miss. */
function mutated(value: unknown, path: (string | number)[], id: string): unknown {
  if (typeof value === "boolean") return !value;
  if (typeof value === "number") return value === 0 ? 1 : 0;
  const s = String(value);
  const key = path[path.length - 1];
  if (key === "namespace" || (path[0] === "metadata" && key === "name")) return `${s}-${id}`; // stays unique to the fixture
  if (key === "image") return s.replace(/@sha256:.*/, ":latest");
  if (key === "type") return s === "ClusterIP" ? "NodePort" : "Unconfined";
  return `${s}x`;
}

/** The whole corpus, deterministic. `mutationLimit` caps the generated mutations (0 = all). */
export function corpus(mutationLimit = 0): Fixture[] {
  const out: Fixture[] = [];
  let n = 0;
  const nextId = () => `f-${String(++n).padStart(4, "0")}`;

  // Compliant: each kind alone, and a whole namespace together (set rules).
  for (const kind of Object.keys(compliant("x"))) {
    const id = nextId();
    out.push({ id, mode: "object", docs: [compliant(id)[kind]], note: `compliant ${kind}` });
  }
  {
    const id = nextId();
    const c = compliant(id);
    out.push({
      id,
      mode: "set",
      docs: [c.namespace, c.networkpolicy, c.deployment, c.hpa, c.pdb, c.service],
      note: "compliant namespace with its workload",
    });
  }

  for (const [rule, base, edit] of VIOLATIONS) {
    const id = nextId();
    const doc = clone(compliant(id)[base]);
    edit(doc);
    out.push({ id, mode: "object", docs: [doc], note: `violates ${rule}` });
  }
  // Set-rule violations and their compliant twins.
  {
    const id = nextId();
    const c = compliant(id);
    out.push({ id, mode: "set", docs: [c.namespace, c.deployment], note: "violates CART-NET-003 (no default deny)" });
    const id2 = nextId();
    const c2 = compliant(id2);
    const allowAll = {
      ...c2.networkpolicy,
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{}] },
    };
    out.push({
      id: id2,
      mode: "set",
      docs: [c2.deployment, allowAll],
      note: "violates CART-NET-003 (policy with rules is no default deny)",
    });
    const id3 = nextId();
    const c3 = compliant(id3);
    const withReplicas = clone(c3.deployment);
    withReplicas.spec!.replicas = 3;
    out.push({ id: id3, mode: "set", docs: [c3.networkpolicy, withReplicas, c3.hpa], note: "violates CART-SCL-002" });
    const id4 = nextId();
    const c4 = compliant(id4);
    out.push({
      id: id4,
      mode: "set",
      docs: [c4.networkpolicy, { ...clone(c4.deployment), spec: { ...clone(c4.deployment.spec!), replicas: 2 } }],
      note: "spec.replicas without an HPA passes CART-SCL-002",
    });
  }

  // Mutations: every scalar leaf of every compliant document, removed or changed.
  const mutations: Fixture[] = [];
  for (const kind of Object.keys(compliant("x"))) {
    for (const path of leaves(compliant("x")[kind])) {
      for (const op of ["change", "remove"] as const) {
        const id = `m-${String(mutations.length + 1).padStart(5, "0")}`;
        const doc = clone(compliant(id)[kind]);
        let value: unknown = doc;
        for (const seg of path) value = (value as Record<string | number, unknown>)[seg];
        setAt(doc, path, op === "remove" ? REMOVE : mutated(value, path, id));
        mutations.push({ id, mode: "object", docs: [doc], note: `${kind}: ${op} ${path.join(".")}` });
      }
    }
  }
  out.push(...(mutationLimit > 0 ? mutations.slice(0, mutationLimit) : mutations));
  return out;
}
