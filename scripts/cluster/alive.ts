/**
 * What makes the embedded cluster alive, as objects and files (plain Node):
 *   - the simulated node pool: Node objects shaped like scaling.nodePool (count, allocatable, zones,
 *     taints), made without addresses so kwok's node-initialize stage points their kubelet endpoint
 *     at kwok's own server, where metrics-server scrapes them;
 *   - kwok's configuration: its shipped stages (node initialise, heartbeat with Lease, pod ready,
 *     pod complete, pod delete), its resource-metrics endpoint and its usage-from-annotation
 *     ClusterResourceUsage, all as files (no kwok CRDs in the API);
 *   - the RBAC kwok and metrics-server act under, and the aggregation layer's APIService for
 *     metrics.k8s.io, served by metrics-server on the host through an ExternalName Service.
 * What is simulated: nodes (no kubelet, no container runtime: a pod is Running and Ready because
 * kwok says so) and resource usage (what the load driver writes). What is real: the scheduler,
 * the controllers (ReplicaSet, HPA, node lifecycle, disruption, Job), metrics-server and the
 * aggregation layer.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments, stringify } from "yaml";

/** The node pool to simulate (scaling.nodePool of the stack config). */
export interface NodePool {
  nodes: number;
  cpu: number;
  memoryGiB: number;
  pods: number;
  zones: string[];
  taints: { key: string; value: string; effect: string }[];
}

/** The annotation kwok manages nodes by (--manage-nodes-with-annotation-selector). */
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";
/** Annotations kwok's usage-from-annotation ClusterResourceUsage reads for a pod's CPU and memory. */
export const USAGE_CPU = "kwok.x-k8s.io/usage-cpu";
export const USAGE_MEMORY = "kwok.x-k8s.io/usage-memory";
/** The label every simulated node carries (a selector for tests and the load driver). */
export const SIMULATED_LABEL = "cartorio.digital/simulado";

/** The files of kwok's module the toolchain copies (scripts/toolchain/build.sh, kwok-stages). */
export const KWOK_CONFIG_FILES = [
  "node-initialize.yaml",
  "node-heartbeat-with-lease.yaml",
  "pod-ready.yaml",
  "pod-complete.yaml",
  "pod-delete.yaml",
  "metrics-resource.yaml",
  "usage-from-annotation.yaml",
];

export function nodeName(i: number): string {
  return `kwok-node-${i}`;
}

/** The simulated nodes, as the pool describes them. */
export function nodeObjects(pool: NodePool): Record<string, unknown>[] {
  return Array.from({ length: pool.nodes }, (_, i) => {
    const name = nodeName(i);
    const zone = pool.zones[i % pool.zones.length];
    const allocatable = { cpu: String(pool.cpu), memory: `${pool.memoryGiB}Gi`, pods: String(pool.pods) };
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        annotations: {
          [KWOK_NODE_ANNOTATION]: "fake",
          "node.alpha.kubernetes.io/ttl": "0",
          // Where metrics-server reads this node's resource metrics on kwok's server.
          "metrics.k8s.io/resource-metrics-path": `/metrics/nodes/${name}/metrics/resource`,
        },
        labels: {
          "kubernetes.io/arch": "amd64",
          "kubernetes.io/os": "linux",
          "kubernetes.io/hostname": name,
          "topology.kubernetes.io/zone": zone,
          "topology.kubernetes.io/region": zone.replace(/[a-z]$/, ""),
          "node-role.kubernetes.io/agent": "",
          [SIMULATED_LABEL]: "true",
          type: "kwok",
        },
      },
      spec: pool.taints.length ? { taints: pool.taints } : {},
      status: {
        allocatable,
        capacity: allocatable,
        nodeInfo: {
          architecture: "amd64",
          operatingSystem: "linux",
          kubeletVersion: "kwok",
          containerRuntimeVersion: "kwok",
        },
      },
    };
  });
}

/**
 * kwok's configuration file: its shipped stages and metric/usage definitions, concatenated.
 * Refuses a stages folder that lacks one (the toolchain copies them from kwok's module).
 */
export function kwokConfig(stagesDir: string): string {
  const docs: string[] = [];
  for (const f of KWOK_CONFIG_FILES) {
    const file = path.join(stagesDir, f);
    if (!fs.existsSync(file)) {
      throw new Error(`${file} is missing: kwok's stage definitions are copied by scripts/toolchain/build.sh (run it)`);
    }
    for (const d of parseAllDocuments(fs.readFileSync(file, "utf8"))) {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
      const obj = d.toJS();
      if (obj) docs.push(stringify(obj));
    }
  }
  docs.push(stringify(POD_READY_AGAIN));
  return docs.join("---\n");
}

/**
 * Ours, beside kwok's: a Running pod that is not Ready (the node lifecycle controller marks pods of a
 * NotReady node so) becomes Ready again, as a kubelet reports its containers once its node is back. kwok's
 * fast pod-ready stage only takes Pending pods, so without this a node's outage leaves its pods unready.
 */
const POD_READY_AGAIN = {
  apiVersion: "kwok.x-k8s.io/v1alpha1",
  kind: "Stage",
  metadata: { name: "cartorio-pod-ready-again" },
  spec: {
    resourceRef: { apiGroup: "v1", kind: "Pod" },
    selector: {
      matchExpressions: [
        { key: ".metadata.deletionTimestamp", operator: "DoesNotExist" },
        { key: ".status.phase", operator: "In", values: ["Running"] },
        { key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: "NotIn", values: ["True"] },
      ],
    },
    next: {
      statusTemplate: [
        "{{ $now := Now }}",
        "conditions:",
        ...["Initialized", "Ready", "ContainersReady", "PodScheduled"].flatMap((t) => [
          "- lastTransitionTime: {{ $now | Quote }}",
          '  status: "True"',
          `  type: ${t}`,
        ]),
        "containerStatuses:",
        "{{ range .spec.containers }}",
        "- image: {{ .image | Quote }}",
        "  name: {{ .name | Quote }}",
        "  ready: true",
        "  restartCount: 0",
        "  state:",
        "    running:",
        "      startedAt: {{ $now | Quote }}",
        "{{ end }}",
      ].join("\n"),
    },
  },
};

/** RBAC and the aggregation layer: applied once the API server is ready (server-side apply, idempotent). */
export function bootstrapObjects(o: {
  stagesDir: string;
  metricsPort: number;
  caBundle: string;
}): Record<string, unknown>[] {
  const kwokRole = parseAllDocuments(fs.readFileSync(path.join(o.stagesDir, "role.yaml"), "utf8"))
    .map((d) => d.toJS())
    .filter(Boolean);
  const crb = (name: string, role: string, user: string) => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
  });
  return [
    // kwok acts as the kubelets do, under kwok's own ClusterRole (from its module).
    ...kwokRole,
    crb("kwok-controller", "kwok-controller", "kwok"),
    // metrics-server: as its release manifest grants it, to a user instead of a service account.
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "system:metrics-server" },
      rules: [
        { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
        { apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] },
      ],
    },
    crb("system:metrics-server", "system:metrics-server", "system:metrics-server"),
    crb("metrics-server:system:auth-delegator", "system:auth-delegator", "system:metrics-server"),
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "metrics-server-auth-reader", namespace: "kube-system" },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: "extension-apiserver-authentication-reader",
      },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "system:metrics-server" }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: {
        name: "system:aggregated-metrics-reader",
        labels: {
          "rbac.authorization.k8s.io/aggregate-to-view": "true",
          "rbac.authorization.k8s.io/aggregate-to-edit": "true",
          "rbac.authorization.k8s.io/aggregate-to-admin": "true",
        },
      },
      rules: [{ apiGroups: ["metrics.k8s.io"], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] }],
    },
    // metrics-server runs on the host: only an ExternalName Service reaches it (the aggregator's
    // cluster-IP resolver follows it; Endpoints on loopback are refused by validation).
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "metrics-server",
        namespace: "kube-system",
        // The institution's labels, as on every Service the live audit reads.
        labels: {
          "k8s-app": "metrics-server",
          "app.kubernetes.io/name": "metrics-server",
          "app.kubernetes.io/part-of": "cartorio-cluster",
          "cartorio.digital/owner": "time-infraestrutura",
          "cartorio.digital/data-classification": "interno",
        },
      },
      spec: { type: "ExternalName", externalName: "localhost", ports: [{ name: "https", port: o.metricsPort }] },
    },
    {
      apiVersion: "apiregistration.k8s.io/v1",
      kind: "APIService",
      metadata: { name: "v1beta1.metrics.k8s.io", labels: { "k8s-app": "metrics-server" } },
      spec: {
        group: "metrics.k8s.io",
        version: "v1beta1",
        service: { name: "metrics-server", namespace: "kube-system", port: o.metricsPort },
        // The aggregator checks metrics-server's certificate (metrics-server.kube-system.svc) against this CA.
        caBundle: Buffer.from(o.caBundle).toString("base64"),
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    },
  ];
}

/** Objects as one multi-document YAML, for kubectl apply. */
export function yamlOf(objs: Record<string, unknown>[]): string {
  return objs.map((o) => stringify(o)).join("---\n");
}
