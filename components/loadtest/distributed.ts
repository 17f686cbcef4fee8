/**
 * A distributed run on the k6-operator (API k6.io/v1alpha1, written against operator v1.6.0): the TestRun
 * this program declares, the NetworkPolicies its pods need under the namespace's default-deny, and the
 * pods the operator makes of it — runner i, starter, initializer — as v1.6.0's job builders make them
 * (pkg/resources/jobs: runner.go, starter.go, initializer.go, helpers.go), so a test can put them through
 * the API server's Pod Security admission without the operator. Plain module (no Pulumi import).
 *
 * Pod Security "restricted" asks of every pod: runAsNonRoot, seccomp RuntimeDefault (or Localhost), and of
 * every container: allowPrivilegeEscalation false, capabilities drop ALL; the operator copies spec.<pod>.
 * securityContext and containerSecurityContext into its pods, so both are set here for all three.
 */
import { createHash } from "node:crypto";
import { canonical } from "../platform/canonical";

export const OPERATOR_VERSION = "v1.6.0";
/** The container port k6's REST API listens on in every runner (the starter and the operator call it). */
export const K6_API_PORT = 6565;

export interface DistributedSettings {
  /** k6 image for runners and the initializer, by digest. */
  runnerImage: string;
  /** The operator's starter image (curl), by digest. */
  starterImage: string;
  /** Where the operator runs: it calls the runners' :6565 for setup, status and teardown. */
  operatorNamespace: string;
  runnerResources: Resources;
  starterResources: Resources;
}

/** The settings of a TestRun's pods, from cartorio-plataforma:loadtest.distributed (images required by then). */
export function distributedSettings(d: {
  runnerImage?: string;
  starterImage?: string;
  operatorNamespace: string;
  runnerResources: Resources;
  starterResources: Resources;
}): DistributedSettings {
  if (!d.runnerImage || !d.starterImage)
    throw new Error("loadtest.distributed.runnerImage and starterImage are required with parallelism > 1");
  return {
    runnerImage: d.runnerImage,
    starterImage: d.starterImage,
    operatorNamespace: d.operatorNamespace,
    runnerResources: d.runnerResources,
    starterResources: d.starterResources,
  };
}

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export interface TestRunInputs {
  parallelism: number;
  /** ConfigMap and key holding the script. */
  script: { configMap: string; file: string };
  /** k6 arguments (the -e variables of the profile), without the script path. */
  args: string[];
  /** SHA-256 of the script's content. */
  scriptSha256: string;
  /** What made this run (the release's images, or loadtest.trigger). */
  trigger: string;
  settings: DistributedSettings;
  labels: Record<string, string>;
}

const COMPONENT = "app.kubernetes.io/component";
/** The labels our pods carry beyond the operator's own (app=k6, k6_cr, runner). */
export function roleLabels(base: Record<string, string>, role: "runner" | "starter" | "initializer") {
  return { ...base, [COMPONENT]: `loadtest-${role}` };
}

/** Restricted Pod Security at pod level: the k6 image's own non-root user, seccomp RuntimeDefault. */
const POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: 12345,
  runAsGroup: 12345,
  fsGroup: 12345,
  seccompProfile: { type: "RuntimeDefault" },
};
const CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
};
/** k6 writes its archive (initializer) and summary (runners) under /tmp; the root filesystem stays read-only. */
const TMP = {
  volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
  volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
};

function podSpec(
  image: string,
  resources: Resources,
  labels: Record<string, string>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    image,
    imagePullPolicy: "IfNotPresent",
    metadata: { labels },
    // None of the three talks to the Kubernetes API.
    automountServiceAccountToken: "false",
    securityContext: POD_SECURITY,
    containerSecurityContext: CONTAINER_SECURITY,
    resources,
    ...extra,
  };
}

/** The TestRun's spec. No `cleanup: post`: the runners' exit codes are read first; the next run's TestRun replaces this one. */
export function testRunSpec(i: TestRunInputs): Record<string, unknown> {
  const s = i.settings;
  return {
    parallelism: i.parallelism,
    script: { configMap: { name: i.script.configMap, file: i.script.file } },
    // Exact argv (spec.args, v1.6.0): no word splitting of values.
    args: i.args,
    runner: podSpec(s.runnerImage, s.runnerResources, roleLabels(i.labels, "runner"), TMP),
    initializer: podSpec(s.runnerImage, s.runnerResources, roleLabels(i.labels, "initializer"), TMP),
    starter: podSpec(s.starterImage, s.starterResources, roleLabels(i.labels, "starter")),
  };
}

/** The TestRun's name: a digest of everything that makes the run, so a change in any of them is a new run. */
export function testRunName(i: TestRunInputs): string {
  const digest = createHash("sha256")
    .update(canonical([i.scriptSha256, i.trigger, i.parallelism, i.args, testRunSpec(i)]))
    .digest("hex");
  return `cartorio-loadtest-${digest.slice(0, 12)}`;
}

/** The target's host and port, for the runners' egress rule. */
function targetEndpoint(target: string): { ip?: string; port: number } {
  const u = new URL(target);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const isIp = /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(":");
  return isIp ? { ip: host, port } : { port };
}

/**
 * The NetworkPolicies a run needs in a default-deny namespace: runners reach DNS and the target's port (to
 * the address itself when the target is an IP; NetworkPolicy has no host names) and accept :6565 from the
 * starter and the operator; the starter reaches the runners' :6565. The initializer needs no network.
 */
export function networkPolicies(i: {
  namespace: string;
  target: string;
  labels: Record<string, string>;
  operatorNamespace: string;
}) {
  const t = targetEndpoint(i.target);
  const runner = { matchLabels: { [COMPONENT]: "loadtest-runner" } };
  const starter = { matchLabels: { [COMPONENT]: "loadtest-starter" } };
  const api = [{ port: K6_API_PORT, protocol: "TCP" }];
  const meta = (name: string) => ({ name, namespace: i.namespace, labels: i.labels });
  return [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta("cartorio-loadtest-runner"),
      spec: {
        podSelector: runner,
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          {
            from: [
              { podSelector: starter },
              { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": i.operatorNamespace } } },
            ],
            ports: api,
          },
        ],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
              },
            ],
            ports: [
              { port: 53, protocol: "UDP" },
              { port: 53, protocol: "TCP" },
            ],
          },
          {
            ...(t.ip ? { to: [{ ipBlock: { cidr: t.ip.includes(":") ? `${t.ip}/128` : `${t.ip}/32` } }] } : {}),
            ports: [{ port: t.port, protocol: "TCP" }],
          },
        ],
      },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta("cartorio-loadtest-starter"),
      spec: {
        podSelector: starter,
        policyTypes: ["Ingress", "Egress"],
        egress: [{ to: [{ podSelector: runner }], ports: api }],
      },
    },
  ];
}

interface OperatorPod {
  image: string;
  imagePullPolicy?: string;
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  automountServiceAccountToken?: string;
  serviceAccountName?: string;
  securityContext?: Record<string, unknown>;
  containerSecurityContext?: Record<string, unknown>;
  resources?: Record<string, unknown>;
  volumes?: Record<string, unknown>[];
  volumeMounts?: Record<string, unknown>[];
  env?: Record<string, unknown>[];
}

interface TestRunSpecView {
  parallelism: number;
  script: { configMap: { name: string; file: string } };
  args?: string[];
  runner?: OperatorPod;
  starter?: OperatorPod;
  initializer?: OperatorPod;
}

/**
 * The pods operator v1.6.0 makes of a TestRun (ConfigMap script, no Istio, no cloud output): what its job
 * builders put in each Job's pod template, as Pods. What admission judges is taken as v1.6.0 sets it:
 * security contexts, service account and its token, volumes and mounts, ports, probes, resources, labels,
 * and its defaults where the TestRun is silent (grafana/k6:latest, the default service account with its
 * token, the starter's 50m/2Mi requests). Command lines are abridged (no admission rule reads them).
 */
export function operatorPods(tr: {
  metadata: { name: string; namespace: string };
  spec: object;
}): Record<string, unknown>[] {
  const name = tr.metadata.name;
  const ns = tr.metadata.namespace;
  const spec = tr.spec as TestRunSpecView;
  const base = { app: "k6", k6_cr: name };
  // Labels given in the TestRun never override the operator's own.
  const labelsOf = (pod: OperatorPod | undefined, own: Record<string, string>) => ({
    ...(pod?.metadata?.labels ?? {}),
    ...own,
  });
  const scriptVolume = { name: "k6-test-volume", configMap: { name: spec.script.configMap.name } };
  const scriptMount = { name: "k6-test-volume", mountPath: "/test" };
  const script = `/test/${spec.script.configMap.file}`;
  const automount = (pod?: OperatorPod) =>
    pod?.automountServiceAccountToken ? pod.automountServiceAccountToken === "true" : true;
  const podOf = (
    podName: string,
    pod: OperatorPod | undefined,
    labels: Record<string, string>,
    container: Record<string, unknown>,
    withScript: boolean,
  ) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podName,
      namespace: ns,
      labels,
      ...(pod?.metadata?.annotations ? { annotations: pod.metadata.annotations } : {}),
    },
    spec: {
      automountServiceAccountToken: automount(pod),
      serviceAccountName: pod?.serviceAccountName || "default",
      restartPolicy: "Never",
      securityContext: pod?.securityContext ?? {},
      containers: [
        {
          ...container,
          imagePullPolicy: pod?.imagePullPolicy,
          resources: pod?.resources ?? {},
          securityContext: pod?.containerSecurityContext ?? {},
          env: pod?.env,
          volumeMounts: [...(withScript ? [scriptMount] : []), ...(pod?.volumeMounts ?? [])],
        },
      ],
      volumes: [...(withScript ? [scriptVolume] : []), ...(pod?.volumes ?? [])],
    },
  });
  const pods: Record<string, unknown>[] = [];
  const init = spec.initializer ?? spec.runner;
  pods.push(
    podOf(
      `${name}-initializer`,
      init,
      labelsOf(init, base),
      {
        name: "k6",
        image: init?.image || "grafana/k6:latest",
        command: [
          "sh",
          "-c",
          `k6 archive ${script} -O /tmp/${spec.script.configMap.file}.archived.tar ${(spec.args ?? []).join(" ")} && k6 inspect --execution-requirements /tmp/${spec.script.configMap.file}.archived.tar`,
        ],
        ports: [{ containerPort: K6_API_PORT }],
      },
      true,
    ),
  );
  for (let i = 1; i <= spec.parallelism; i++) {
    const runnerName = `${name}-${i}`;
    pods.push({
      ...podOf(
        runnerName,
        spec.runner,
        labelsOf(spec.runner, { ...base, runner: "true" }),
        {
          name: "k6",
          image: spec.runner?.image || "grafana/k6:latest",
          command: [
            "k6",
            "run",
            "--quiet",
            ...(spec.parallelism > 1
              ? ["--execution-segment", `${i - 1}/${spec.parallelism}:${i}/${spec.parallelism}`]
              : []),
            ...(spec.args ?? []),
            script,
            `--address=0.0.0.0:${K6_API_PORT}`,
            "--paused",
            "--tag",
            `instance_id=${i}`,
            "--tag",
            `testrun_name=${name}`,
          ],
          ports: [{ containerPort: K6_API_PORT }],
          readinessProbe: { httpGet: { path: "/v1/status", port: K6_API_PORT, scheme: "HTTP" } },
          livenessProbe: { httpGet: { path: "/v1/status", port: K6_API_PORT, scheme: "HTTP" } },
        },
        true,
      ),
    });
  }
  const starterResources =
    spec.starter?.resources && Object.keys(spec.starter.resources).length
      ? spec.starter.resources
      : { requests: { cpu: "50m", memory: "2Mi" }, limits: { cpu: "100m", memory: "200Mi" } };
  pods.push(
    podOf(
      `${name}-starter`,
      { ...spec.starter, image: spec.starter?.image ?? "", resources: starterResources },
      labelsOf(spec.starter, base),
      {
        name: "k6-curl",
        image: spec.starter?.image || "ghcr.io/grafana/k6-operator:latest-starter",
        command: [
          "sh",
          "-c",
          `curl --retry 3 -X PATCH -H 'Content-Type: application/json' http://runner:${K6_API_PORT}/v1/status -d '{"data":{"attributes":{"paused":false},"id":"default","type":"status"}}'`,
        ],
      },
      false,
    ),
  );
  return pods;
}
