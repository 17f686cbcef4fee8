/**
 * The embedded control plane of the local stack: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler as processes on 127.0.0.1, from the
 * multi-call binary scripts/toolchain/controlplane builds.
 *
 * Alive (the default): kwok simulates the node pool of scaling.nodePool (nodes
 * Ready with Lease heartbeats, pods the scheduler placed go Running and Ready, Jobs
 * complete, deleted pods go away) and serves each node's kubelet resource-metrics
 * endpoint; metrics-server scrapes them and serves metrics.k8s.io through the
 * aggregation layer, which the HPA controller reads. scripts/cluster/alive.ts says
 * what is simulated (nodes, usage) and what is real (scheduler, controllers, metrics).
 *
 * With Flux on (the default), three more processes: a Git server over SSH
 * (fluxkit gitserver) and Flux's source- and kustomize-controller, built from
 * their Go modules and run out of cluster, each under its service account's
 * identity (a client certificate naming it), so Flux's own RBAC applies. Their
 * Deployments, once `pulumi up` installs Flux, exist in the API but run no pod.
 * The controllers are supervised (scripts/cluster/supervise.sh): they wait out
 * the time before Flux's CRDs exist by restarting, as a pod would.
 *
 * Plain Node only (no Pulumi import): `npm run cluster` and the test setup use it.
 *
 * Everything lives in one folder (default .local/cluster/):
 *   pki/             CA, serving and client certificates, service-account keys
 *   etcd/            etcd's data
 *   git/             the Git server: repos/<owner>/<name>.git, hostkey/, known_hosts,
 *                    address, access (who may read or write), maintainer/ (a write key)
 *   flux/<c>/        each controller's storage and temporary files
 *   logs/<tool>.log  each process's output
 *   run/<tool>.pid   the processes this folder started (down stops only these)
 *   ports.json       the ports chosen on first start, reused so the kubeconfig stays valid
 *   kubeconfig       context `local`, user with group system:masters
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { stringify } from "yaml";
import { toolchainBin } from "../../components/platform/tools";
import { EXTRA_ARGS } from "../../components/gitops/install";
import { accessOf, authorize } from "../../components/gitops/local";
import { alivePid, processTable, untrackedPids } from "../../components/platform/processes";
import { bootstrapObjects, kwokConfig, NodePool, nodeName, nodeObjects, SIMULATED_LABEL, yamlOf } from "./alive";

export const CONTEXT = "local";
export const CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager"] as const;
/** What runs pods and measures them: started with the control plane unless alive is off. */
export const ALIVE_TOOLS = ["kube-scheduler", "kwok", "metrics-server"] as const;
/**
 * The rulebook at admission: OPA serving policies/ as the validating webhook the policy component declares.
 * Out of cluster here, as Flux's controllers are; its rules are what `pulumi up` wrote into admission/rules/.
 */
export const ADMISSION_TOOLS = ["admission"] as const;
/** The GitOps loop: started with the control plane unless Flux is off. */
export const FLUX_TOOLS = ["git-server", "source-controller", "kustomize-controller"] as const;
export const TOOLS = [...CONTROL_PLANE, ...ALIVE_TOOLS, ...ADMISSION_TOOLS, ...FLUX_TOOLS] as const;
export type Tool = (typeof TOOLS)[number];
/** Links to the multi-call binary, one per tool; kubectl is for people and tests. */
export const LINKS = [...CONTROL_PLANE, "kube-scheduler", "kubectl"] as const;
/** The binary each tool runs (its name in the toolchain's bin folder). */
const BINARY: Record<Tool, string> = {
  etcd: "etcd",
  "kube-apiserver": "kube-apiserver",
  "kube-controller-manager": "kube-controller-manager",
  "kube-scheduler": "kube-scheduler",
  kwok: "kwok",
  "metrics-server": "metrics-server",
  admission: "opa",
  "git-server": "fluxkit",
  "source-controller": "source-controller",
  "kustomize-controller": "kustomize-controller",
};
/** The namespace Flux's controllers act for (their Deployments' RUNTIME_NAMESPACE). */
export const FLUX_NAMESPACE = "flux-system";

export interface ClusterOptions {
  /** The cluster's folder. */
  dir: string;
  /** Folder holding `kube` and its links (the toolchain's bin). */
  toolsBin: string;
  /** Skip etcd's fsync: for throwaway test clusters only. */
  unsafeNoFsync?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Seconds to wait for each component (default 60). */
  timeoutSeconds?: number;
  /** Start the Git server and Flux's controllers too (default true). */
  flux?: boolean;
  /** Start the scheduler, kwok and metrics-server, and simulate the node pool (default true). */
  alive?: boolean;
  /** Start OPA, the admission webhook's server (default true; it serves no rule until pulumi up writes them). */
  admission?: boolean;
  /** The node pool to simulate (default: scaling.nodePool's defaults). */
  nodePool?: NodePool;
}

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  gitSsh: number;
  sourceStorage: number;
  sourceMetrics: number;
  sourceHealth: number;
  kustomizeMetrics: number;
  kustomizeHealth: number;
  scheduler: number;
  kwok: number;
  metricsServer: number;
  admission: number;
}

export interface ClusterInfo {
  dir: string;
  kubeconfig: string;
  context: string;
  server: string;
  ports: Ports;
  /** true when this call started it, false when it was already running. */
  started: boolean;
  seconds: number;
}

export class ClusterError extends Error {}

/** The default tools folder: where scripts/toolchain/build.sh links the binaries. */
export function defaultToolsBin(): string {
  return toolchainBin();
}

export function paths(dir: string) {
  return {
    dir,
    pki: path.join(dir, "pki"),
    etcdData: path.join(dir, "etcd"),
    logs: path.join(dir, "logs"),
    run: path.join(dir, "run"),
    ports: path.join(dir, "ports.json"),
    kubeconfig: path.join(dir, "kubeconfig"),
    controllerManagerKubeconfig: path.join(dir, "pki", "controller-manager.kubeconfig"),
    kwokConfig: path.join(dir, "kwok", "kwok.yaml"),
    /** Where `pulumi up` (the policy component's LocalAdmissionRules) writes the rules OPA serves. */
    admissionRules: path.join(dir, "admission", "rules"),
    git: path.join(dir, "git"),
    gitAccess: path.join(dir, "git", "access"),
    gitKnownHosts: path.join(dir, "git", "known_hosts"),
    gitAddress: path.join(dir, "git", "address"),
    maintainerKey: path.join(dir, "git", "maintainer", "id_ed25519"),
    fluxState: (c: string) => path.join(dir, "flux", c),
    identityKubeconfig: (c: string) => path.join(dir, "pki", `${c}.kubeconfig`),
    log: (t: Tool) => path.join(dir, "logs", `${t}.log`),
    pid: (t: Tool) => path.join(dir, "run", `${t}.pid`),
  };
}

// ---------------------------------------------------------------- processes

/** The pid of a tool this folder started, if that process is still alive and still ours. */
export function runningPid(dir: string, tool: Tool): number | undefined {
  return alivePid(dir, tool, BINARY[tool]);
}

export function tailOf(file: string, lines = 20): string {
  try {
    const all = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    return all.slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function crashed(dir: string, tool: Tool, how: string): ClusterError {
  const log = paths(dir).log(tool);
  return new ClusterError(
    `${tool} ${how}; the last lines of ${log}:\n${tailOf(log)
      .split("\n")
      .map((l) => `  | ${l}`)
      .join("\n")}`,
  );
}

// ---------------------------------------------------------------- ports

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Where the kernel takes the local ports of outgoing connections (net.ipv4.ip_local_port_range).
 * A port the cluster keeps must lie below it: a port taken with listen(0) lies inside it, and between
 * one start and the next (or while a controller waits out its restart back-off) any outgoing
 * connection may take it as its own local port and hold it — measured in CI: source-controller
 * refused to start for five minutes, its metrics port held by someone else's connection.
 */
function ephemeralStart(): number {
  try {
    const start = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 2048 ? start : 32768;
  } catch {
    return 32768;
  }
}

async function freePort(taken: Set<number>): Promise<number> {
  const low = 10000;
  const high = Math.max(low + 1000, ephemeralStart()) - 1;
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (taken.has(port) || !(await portFree(port))) continue;
    taken.add(port);
    return port;
  }
  throw new ClusterError(`could not find a free port on 127.0.0.1 between ${low} and ${high}`);
}

/** Which tool listens on which saved port. */
const PORTS_OF: Record<Tool, (keyof Ports)[]> = {
  etcd: ["etcdClient", "etcdPeer"],
  "kube-apiserver": ["apiserver"],
  "kube-controller-manager": ["controllerManager"],
  "kube-scheduler": ["scheduler"],
  kwok: ["kwok"],
  "metrics-server": ["metricsServer"],
  admission: ["admission"],
  "git-server": ["gitSsh"],
  "source-controller": ["sourceStorage", "sourceMetrics", "sourceHealth"],
  "kustomize-controller": ["kustomizeMetrics", "kustomizeHealth"],
};

function readPorts(dir: string): Ports | undefined {
  const file = paths(dir).ports;
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Ports) : undefined;
}

/**
 * The ports of this folder's cluster: chosen once, then reused so the kubeconfig keeps working.
 * A running part keeps its ports; those of every stopped part must be free.
 */
async function choosePorts(dir: string): Promise<Ports> {
  const file = paths(dir).ports;
  const saved: Partial<Ports> = readPorts(dir) ?? {};
  const busy: string[] = [];
  for (const tool of TOOLS) {
    if (runningPid(dir, tool) !== undefined) continue;
    for (const name of PORTS_OF[tool]) {
      const port = saved[name];
      if (port !== undefined && !(await portFree(port))) busy.push(`${name} ${port}`);
    }
  }
  if (busy.length > 0) {
    throw new ClusterError(
      `port${busy.length > 1 ? "s" : ""} ${busy.join(", ")} on 127.0.0.1 ${busy.length > 1 ? "are" : "is"} in use by another process ` +
        `(this cluster's ports are kept in ${file}). Stop that process, or remove ${file} to choose new ports ` +
        `(the kubeconfig is rewritten; stacks that applied to the old address then see a different server).`,
    );
  }
  // Ports a folder made before a part existed are chosen now and kept like the others.
  const taken = new Set(Object.values(saved));
  const ports = { ...saved } as Ports;
  let added = false;
  for (const tool of TOOLS) {
    for (const name of PORTS_OF[tool]) {
      if (ports[name] === undefined) {
        ports[name] = await freePort(taken);
        added = true;
      }
    }
  }
  if (added) fs.writeFileSync(file, JSON.stringify(ports, null, 2) + "\n");
  return ports;
}

// ---------------------------------------------------------------- health

interface Probe {
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
}

function get(url: string, tls?: https.RequestOptions): Promise<Probe> {
  return new Promise((resolve) => {
    const mod = url.startsWith("https:") ? https : http;
    const req = mod.get(url, { ...tls, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ ok: res.statusCode === 200, status: res.statusCode, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (e) => resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
  });
}

function adminTls(dir: string): https.RequestOptions {
  const pki = paths(dir).pki;
  return {
    ca: fs.readFileSync(path.join(pki, "ca.crt")),
    cert: fs.readFileSync(path.join(pki, "admin.crt")),
    key: fs.readFileSync(path.join(pki, "admin.key")),
  };
}

/** Polls `probe` until it answers ok, failing early with the log tail when the process dies. */
async function waitFor(dir: string, tool: Tool, probe: () => Promise<Probe>, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last: Probe = { ok: false };
  while (Date.now() < deadline) {
    if (runningPid(dir, tool) === undefined) throw crashed(dir, tool, "exited while starting");
    last = await probe();
    if (last.ok) return;
    await sleep(200);
  }
  throw crashed(
    dir,
    tool,
    `was not ready after ${timeoutSeconds}s (last answer: ${last.error ?? `${last.status} ${last.body?.slice(0, 300)}`})`,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- start

function binary(toolsBin: string, name: string): string {
  const p = path.join(toolsBin, name);
  if (!fs.existsSync(p)) {
    throw new ClusterError(
      `${p} does not exist: the embedded cluster's tools are not built. Run scripts/toolchain/build.sh ` +
        `(npm run cluster -- up and npm test build it), or set CARTORIO_TOOLS_BIN to the folder holding ${name}.`,
    );
  }
  return p;
}

function usableDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = path.join(dir, `.write-test-${process.pid}`);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe);
  } catch (e) {
    throw new ClusterError(
      `the cluster folder ${dir} is not usable (${(e as Error).message}); ` +
        `fix its permissions or choose another with --dir`,
    );
  }
  for (const sub of ["logs", "run"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
}

/**
 * The supervisor of Flux's controllers, written into the cluster folder (run/supervise.sh):
 *   bash supervise.sh CLUSTER_DIR COMMAND [ARGS...]
 * runs the controller as the kubelet runs a container with restartPolicy Always: restarted
 * whenever it exits, after 1, 2, 4 ... 30 s (back to 1 s once it ran for a minute). A
 * controller exits while Flux's CRDs are not installed yet, so it starts with the cluster and
 * comes up once `pulumi up` has installed Flux. TERM stops the controller, then the loop.
 * CLUSTER_DIR is there so the manager can tell its own processes (runningPid).
 */
const SUPERVISE = `set -u
shift
child=0
stop() {
  ((child > 0)) && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
  exit 0
}
trap stop TERM INT
delay=1
while true; do
  started=$SECONDS
  "$@" &
  child=$!
  wait "$child"
  code=$?
  child=0
  ((SECONDS - started >= 60)) && delay=1
  echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) supervise: $(basename "$1") exited with code $code; restarting in \${delay}s"
  sleep "$delay" &
  wait $!
  delay=$((delay * 2 > 30 ? 30 : delay * 2))
done
`;

function startProcess(
  o: ClusterOptions,
  tool: Tool,
  args: string[],
  how: { supervised?: boolean; env?: NodeJS.ProcessEnv } = {},
): number {
  const p = paths(o.dir);
  const bin = binary(o.toolsBin, BINARY[tool]);
  const out = fs.openSync(p.log(tool), "a");
  fs.writeSync(out, `\n--- ${new Date().toISOString()} ${tool} ${args.join(" ")}\n`);
  const supervisor = path.join(p.run, "supervise.sh");
  // Replaced, never rewritten in place: a running supervisor's bash reads its script as it goes,
  // and truncating the file under it ends that supervisor (and so its controller).
  if (how.supervised && (!fs.existsSync(supervisor) || fs.readFileSync(supervisor, "utf8") !== SUPERVISE)) {
    fs.writeFileSync(`${supervisor}.tmp`, SUPERVISE, { mode: 0o755 });
    fs.renameSync(`${supervisor}.tmp`, supervisor);
  }
  const [command, argv] = how.supervised ? ["bash", [supervisor, path.resolve(o.dir), bin, ...args]] : [bin, args];
  // Detached in its own session: it outlives `npm run cluster -- up`, and a
  // Ctrl-C in the user's terminal does not reach it.
  const child = spawn(command, argv, {
    detached: true,
    stdio: ["ignore", out, out],
    env: { ...process.env, ...how.env },
  });
  fs.closeSync(out);
  child.unref();
  if (child.pid === undefined) throw crashed(o.dir, tool, "could not be started");
  fs.writeFileSync(p.pid(tool), `${child.pid}\n`);
  return child.pid;
}

function kubeconfigYaml(dir: string, server: string, user: string, certName: string): string {
  const pki = paths(dir).pki;
  const b64 = (f: string) => fs.readFileSync(path.join(pki, f)).toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "cartorio-local", cluster: { server, "certificate-authority-data": b64("ca.crt") } }],
    users: [
      {
        name: user,
        user: { "client-certificate-data": b64(`${certName}.crt`), "client-key-data": b64(`${certName}.key`) },
      },
    ],
    contexts: [{ name: CONTEXT, context: { cluster: "cartorio-local", user } }],
    "current-context": CONTEXT,
  });
}

function writePrivate(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** The default node pool: scaling.nodePool's defaults (the stack's own is passed by the command). */
export const DEFAULT_NODE_POOL: NodePool = {
  nodes: 3,
  cpu: 8,
  memoryGiB: 32,
  pods: 110,
  zones: ["sa-east-1a", "sa-east-1b", "sa-east-1c"],
  taints: [],
};

/** What each tool needs running before it can start: a restart of one restarts what needs it. */
const NEEDS: Partial<Record<Tool, Tool>> = {
  "kube-apiserver": "etcd",
};

function stopPid(dir: string, tool: Tool, pid: number): Promise<void> {
  return (async () => {
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 15_000;
    while (runningPid(dir, tool) !== undefined && Date.now() < deadline) await sleep(100);
    if (runningPid(dir, tool) !== undefined) {
      process.kill(pid, "SIGKILL");
      while (runningPid(dir, tool) !== undefined) await sleep(50);
    }
  })();
}

/** The probe that says a tool serves. */
function healthProbe(dir: string, tool: Tool, ports: Ports): () => Promise<Probe> {
  const server = `https://127.0.0.1:${ports.apiserver}`;
  switch (tool) {
    case "etcd":
      return () => get(`http://127.0.0.1:${ports.etcdClient}/health`);
    case "kube-apiserver":
      return () => get(`${server}/readyz`, adminTls(dir));
    case "kube-controller-manager":
      return () => get(`https://127.0.0.1:${ports.controllerManager}/healthz`, { rejectUnauthorized: false });
    case "kube-scheduler":
      return () => get(`https://127.0.0.1:${ports.scheduler}/healthz`, { rejectUnauthorized: false });
    case "kwok":
      return () =>
        get(`https://127.0.0.1:${ports.kwok}/healthz`, { ca: fs.readFileSync(path.join(paths(dir).pki, "ca.crt")) });
    case "metrics-server":
      return () =>
        get(`https://127.0.0.1:${ports.metricsServer}/livez`, {
          ca: fs.readFileSync(path.join(paths(dir).pki, "ca.crt")),
        });
    case "admission":
      return () =>
        get(`https://127.0.0.1:${ports.admission}/health`, {
          ca: fs.readFileSync(path.join(paths(dir).pki, "ca.crt")),
        });
    case "git-server":
      return () => listening(ports.gitSsh);
    case "source-controller":
      return () => get(`http://127.0.0.1:${ports.sourceHealth}/readyz`);
    case "kustomize-controller":
      return () => get(`http://127.0.0.1:${ports.kustomizeHealth}/readyz`);
  }
}

/**
 * Starts what is not running and returns when it serves. A process that died is started again,
 * and so is what needs it (etcd's restart restarts the API server, whose etcd client may not
 * recover from a long outage); objects live in etcd's data folder, so nothing stored is lost.
 */
export async function up(o: ClusterOptions): Promise<ClusterInfo> {
  const t0 = Date.now();
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const timeout = o.timeoutSeconds ?? 60;
  const p = paths(o.dir);
  const kube = binary(o.toolsBin, "kube");
  const flux = o.flux ?? true;
  const alive = o.alive ?? true;
  const admission = o.admission ?? true;
  const tools: Tool[] = [
    ...CONTROL_PLANE,
    ...(alive ? ALIVE_TOOLS : []),
    ...(admission ? ADMISSION_TOOLS : []),
    ...(flux ? FLUX_TOOLS : []),
  ];
  for (const t of tools) binary(o.toolsBin, BINARY[t]);
  const stagesDir = path.join(o.toolsBin, "kwok-stages");
  usableDir(o.dir);

  // A supervised tool whose supervisor was killed outright leaves its child running, holding its port.
  for (const t of tools) {
    const pid = runningPid(o.dir, t);
    if (pid !== undefined) continue;
    for (const stray of untrackedPids(o.dir, BINARY[t], pid)) {
      log(`stopping a ${t} process no supervisor tracks (pid ${stray})`);
      process.kill(stray, "SIGKILL");
    }
  }
  if (tools.some((t) => runningPid(o.dir, t) === undefined)) await sleep(200);

  const ports = await choosePorts(o.dir);
  const server = `https://127.0.0.1:${ports.apiserver}`;

  try {
    execFileSync(kube, ["pki", `--dir=${p.pki}`], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new ClusterError(
      `could not write the certificates in ${p.pki}: ${String((e as { stderr?: Buffer }).stderr ?? e)}`,
    );
  }
  writePrivate(p.kubeconfig, kubeconfigYaml(o.dir, server, "cartorio-admin", "admin"));
  const identities: [string, string][] = [
    ["controller-manager", "system:kube-controller-manager"],
    ["scheduler", "system:kube-scheduler"],
    ["kwok", "kwok"],
    ["metrics-server", "system:metrics-server"],
    ["source-controller", `system:serviceaccount:${FLUX_NAMESPACE}:source-controller`],
    ["kustomize-controller", `system:serviceaccount:${FLUX_NAMESPACE}:kustomize-controller`],
  ];
  for (const [cert, user] of identities)
    writePrivate(p.identityKubeconfig(cert), kubeconfigYaml(o.dir, server, user, cert));
  // kwok reads its stages once: a changed configuration (a new toolchain, a new stage) restarts it below.
  let kwokConfigChanged = false;
  if (alive) {
    fs.mkdirSync(path.dirname(p.kwokConfig), { recursive: true });
    const text = kwokConfig(stagesDir);
    kwokConfigChanged = !fs.existsSync(p.kwokConfig) || fs.readFileSync(p.kwokConfig, "utf8") !== text;
    if (kwokConfigChanged) writePrivate(p.kwokConfig, text);
  }

  let started = false;
  const restarted = new Set<Tool>();
  const ensure = async (tool: Tool, args: () => string[], how: Parameters<typeof startProcess>[3] = {}) => {
    const need = NEEDS[tool];
    const pid = runningPid(o.dir, tool);
    if (pid !== undefined && need && restarted.has(need)) {
      log(`restarting ${tool}: ${need} was restarted`);
      await stopPid(o.dir, tool, pid);
    } else if (pid !== undefined) {
      await waitFor(o.dir, tool, healthProbe(o.dir, tool, ports), timeout);
      return;
    }
    if (fs.existsSync(p.pid(tool))) restarted.add(tool);
    log(`${restarted.has(tool) ? "restarting" : "starting"} ${tool} ...`);
    startProcess(o, tool, args(), how);
    started = true;
    await waitFor(o.dir, tool, healthProbe(o.dir, tool, ports), timeout);
  };

  fs.mkdirSync(p.etcdData, { recursive: true, mode: 0o700 });
  await ensure("etcd", () => {
    const client = `http://127.0.0.1:${ports.etcdClient}`;
    const peer = `http://127.0.0.1:${ports.etcdPeer}`;
    return [
      "--name=cartorio-local",
      `--data-dir=${p.etcdData}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=cartorio-local=${peer}`,
      "--log-level=warn",
      ...(o.unsafeNoFsync ? ["--unsafe-no-fsync"] : []),
    ];
  });

  await ensure("kube-apiserver", () => [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${ports.apiserver}`,
    `--tls-cert-file=${p.pki}/apiserver.crt`,
    `--tls-private-key-file=${p.pki}/apiserver.key`,
    `--client-ca-file=${p.pki}/ca.crt`,
    // The aggregation layer (metrics.k8s.io): the apiserver proxies as front-proxy-client, and
    // extension servers trust the user it names only from that certificate, as kubeadm sets it.
    `--requestheader-client-ca-file=${p.pki}/ca.crt`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${p.pki}/front-proxy-client.crt`,
    `--proxy-client-key-file=${p.pki}/front-proxy-client.key`,
    // Off: only the cluster-IP resolver follows the ExternalName Service metrics-server is reached by.
    "--enable-aggregator-routing=false",
    "--authorization-mode=RBAC",
    // PodSecurity is on by default; named so nobody wonders. Privileged pods are
    // allowed by the API, as on kubeadm clusters, so Pod Security is what refuses them.
    "--enable-admission-plugins=PodSecurity",
    "--allow-privileged=true",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${p.pki}/service-account.pub`,
    `--service-account-signing-key-file=${p.pki}/service-account.key`,
    // Only allocated from, never routed: simulated pods get no network.
    "--service-cluster-ip-range=10.96.0.0/16",
    // The `kubernetes` Service would need a non-loopback endpoint; no pod reads it here.
    "--endpoint-reconciler-type=none",
    "--profiling=false",
  ]);
  const tls = adminTls(o.dir);

  await ensure("kube-controller-manager", () => {
    const kc = p.controllerManagerKubeconfig;
    return [
      ...servingArgs(kc, ports.controllerManager),
      "--leader-elect=false",
      // Each controller under its own service account, as kubeadm runs it.
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${p.pki}/service-account.key`,
      `--root-ca-file=${p.pki}/ca.crt`,
      `--cluster-signing-cert-file=${p.pki}/ca.crt`,
      `--cluster-signing-key-file=${p.pki}/ca.key`,
      // A simulated node whose heartbeats stop is NotReady after 20 s instead of 50 s (tests wait
      // for it); eviction then follows the pods' own tolerations, as in production. The HPA keeps
      // its production clock: 15 s syncs (--horizontal-pod-autoscaler-sync-period's default).
      "--node-monitor-grace-period=20s",
      "--profiling=false",
    ];
  });
  // The serviceaccount controller has run once the default namespace has its account:
  // before that, no pod can be admitted anywhere.
  await waitFor(
    o.dir,
    "kube-controller-manager",
    () => get(`${server}/api/v1/namespaces/default/serviceaccounts/default`, tls),
    timeout,
  );

  if (alive) {
    const kc = p.identityKubeconfig("scheduler");
    await ensure("kube-scheduler", () => [
      ...servingArgs(kc, ports.scheduler),
      "--leader-elect=false",
      "--profiling=false",
    ]);
    // RBAC for kwok and metrics-server, the APIService, and the nodes, before they start.
    const objects = [
      ...bootstrapObjects({
        stagesDir,
        metricsPort: ports.metricsServer,
        caBundle: fs.readFileSync(path.join(p.pki, "ca.crt"), "utf8"),
      }),
      ...nodeObjects(o.nodePool ?? DEFAULT_NODE_POOL),
    ];
    kubectlApply(o, yamlOf(objects));
    const kwokPid = runningPid(o.dir, "kwok");
    if (kwokPid !== undefined && kwokConfigChanged) {
      log("restarting kwok: its stages changed");
      await stopPid(o.dir, "kwok", kwokPid);
    }
    const pool = o.nodePool ?? DEFAULT_NODE_POOL;
    if (runningPid(o.dir, "kwok") === undefined) {
      // The node Leases a stopped kwok held: a new kwok (a new holder) would wait for them to expire,
      // leaving every node NotReady for the lease's duration. Their holder is gone, so they go.
      execFileSync(
        binary(o.toolsBin, "kubectl"),
        [
          `--kubeconfig=${p.kubeconfig}`,
          "delete",
          "lease",
          "-n",
          "kube-node-lease",
          "--ignore-not-found",
          "--wait=false",
          ...Array.from({ length: pool.nodes }, (_, i) => nodeName(i)),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
    }
    await ensure(
      "kwok",
      () => [
        `--kubeconfig=${p.identityKubeconfig("kwok")}`,
        `--config=${p.kwokConfig}`,
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        // Each node's kubelet endpoint is kwok's server: metrics-server scrapes it there.
        "--node-ip=127.0.0.1",
        `--node-port=${ports.kwok}`,
        `--server-address=127.0.0.1:${ports.kwok}`,
        `--tls-cert-file=${p.pki}/kwok-serving.crt`,
        `--tls-private-key-file=${p.pki}/kwok-serving.key`,
        "--node-lease-duration-seconds=40",
      ],
      { env: { HOME: path.join(o.dir, "kwok") } },
    );
    // Every simulated node Ready: pods can be placed and the HPA has somewhere to scale to.
    await waitFor(
      o.dir,
      "kwok",
      async () => {
        const r = await get(
          `${server}/api/v1/nodes?labelSelector=${encodeURIComponent(`${SIMULATED_LABEL}=true`)}`,
          tls,
        );
        if (!r.ok) return r;
        const nodes = (
          JSON.parse(r.body!) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] }
        ).items;
        const ready = nodes.filter((n) =>
          n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        ).length;
        return ready >= pool.nodes
          ? { ok: true }
          : { ok: false, error: `${ready} of ${pool.nodes} simulated nodes Ready` };
      },
      timeout,
    );
    const mk = p.identityKubeconfig("metrics-server");
    await ensure("metrics-server", () => [
      ...servingArgs(mk, ports.metricsServer),
      `--tls-cert-file=${p.pki}/metrics-server-serving.crt`,
      `--tls-private-key-file=${p.pki}/metrics-server-serving.key`,
      // The simulated kubelets: at the node's InternalIP and status port, checked against the cluster CA.
      "--kubelet-preferred-address-types=InternalIP",
      "--kubelet-use-node-status-port",
      `--kubelet-certificate-authority=${p.pki}/ca.crt`,
      "--metric-resolution=15s",
      "--profiling=false",
    ]);
  }

  if (admission) {
    fs.mkdirSync(p.admissionRules, { recursive: true, mode: 0o700 });
    // Restarted by its supervisor like a pod; --watch reloads the rules whenever pulumi up rewrites them.
    await ensure(
      "admission",
      () => [
        "run",
        "--server",
        `--addr=127.0.0.1:${ports.admission}`,
        `--tls-cert-file=${p.pki}/admission-serving.crt`,
        `--tls-private-key-file=${p.pki}/admission-serving.key`,
        "--watch",
        "--log-level=error",
        "--skip-version-check",
        p.admissionRules,
      ],
      { supervised: true },
    );
  }

  if (flux) started = (await startFlux(o, ports, timeout, log)) || started;

  const seconds = (Date.now() - t0) / 1000;
  log(`${started ? "ready" : "already running"} in ${seconds.toFixed(1)}s: ${server}, kubeconfig ${p.kubeconfig}`);
  return { dir: o.dir, kubeconfig: p.kubeconfig, context: CONTEXT, server, ports, started, seconds };
}

/**
 * The flags every control-plane-style server here shares (component-base): its identity for the API and for
 * delegated authentication and authorization, and its own HTTPS endpoint on loopback.
 */
function servingArgs(kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
  ];
}

/** Server-side apply as the admin (idempotent: the same objects on every up). */
function kubectlApply(o: Pick<ClusterOptions, "dir" | "toolsBin">, yaml: string): void {
  try {
    execFileSync(
      binary(o.toolsBin, "kubectl"),
      [
        `--kubeconfig=${paths(o.dir).kubeconfig}`,
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=cartorio-cluster",
        "-f",
        "-",
      ],
      { input: yaml, stdio: ["pipe", "pipe", "pipe"] },
    );
  } catch (e) {
    throw new ClusterError(
      `could not apply the cluster's own objects: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`,
    );
  }
}

// ---------------------------------------------------------------- the GitOps loop

function listening(port: number): Promise<Probe> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    sock.once("connect", () => {
      sock.destroy();
      resolve({ ok: true });
    });
    sock.once("error", (e) => resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
  });
}

/** The maintainer's write key (made once), authorized in the access file beside the lines already there. */
function ensureMaintainer(dir: string): void {
  const p = paths(dir);
  if (!fs.existsSync(p.maintainerKey)) {
    fs.mkdirSync(path.dirname(p.maintainerKey), { recursive: true, mode: 0o700 });
    execFileSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "maintainer@cartorio-local",
      "-f",
      p.maintainerKey,
    ]);
  }
  const pub = fs.readFileSync(`${p.maintainerKey}.pub`, "utf8").trim();
  if (accessOf(p.gitAccess, pub) !== "write") authorize(p.gitAccess, pub, "write");
}

/**
 * Starts the Git server and Flux's controllers, with the arguments of their
 * Deployments (Flux's install manifest, plus the platform's EXTRA_ARGS) except
 * what a process outside the cluster needs instead: loopback addresses, folders
 * of its own, no leader election (one replica), no events address (no
 * notification-controller).
 */
async function startFlux(o: ClusterOptions, ports: Ports, timeout: number, log: (l: string) => void): Promise<boolean> {
  const p = paths(o.dir);
  let started = false;
  fs.mkdirSync(p.git, { recursive: true, mode: 0o700 });
  ensureMaintainer(o.dir);
  if (runningPid(o.dir, "git-server") === undefined) {
    log(`starting the Git server on ssh://git@127.0.0.1:${ports.gitSsh} ...`);
    startProcess(o, "git-server", [
      "gitserver",
      `--root=${p.git}`,
      `--listen=127.0.0.1:${ports.gitSsh}`,
      `--access=${p.gitAccess}`,
    ]);
    started = true;
  }
  await waitFor(o.dir, "git-server", () => listening(ports.gitSsh), timeout);

  const common = [
    "--watch-all-namespaces",
    "--log-level=info",
    "--log-encoding=json",
    "--enable-leader-election=false",
    "--events-addr=",
  ];
  const controllers: Record<"source-controller" | "kustomize-controller", string[]> = {
    "source-controller": [
      ...common,
      `--storage-path=${p.fluxState("source-controller")}/data`,
      `--storage-addr=127.0.0.1:${ports.sourceStorage}`,
      // Where kustomize-controller downloads artifacts from: this process, not a Service.
      `--storage-adv-addr=127.0.0.1:${ports.sourceStorage}`,
      `--metrics-addr=127.0.0.1:${ports.sourceMetrics}`,
      `--health-addr=127.0.0.1:${ports.sourceHealth}`,
    ],
    "kustomize-controller": [
      ...common,
      ...EXTRA_ARGS["kustomize-controller"],
      `--metrics-addr=127.0.0.1:${ports.kustomizeMetrics}`,
      `--health-addr=127.0.0.1:${ports.kustomizeHealth}`,
    ],
  };
  for (const [c, args] of Object.entries(controllers) as [keyof typeof controllers, string[]][]) {
    if (runningPid(o.dir, c) !== undefined) continue;
    log(`starting ${c} (out of cluster, as ${FLUX_NAMESPACE}/${c}) ...`);
    const state = p.fluxState(c);
    // source-controller refuses a storage folder that does not exist.
    for (const sub of ["tmp", "data"]) fs.mkdirSync(path.join(state, sub), { recursive: true, mode: 0o700 });
    startProcess(o, c, args, {
      supervised: true,
      env: {
        KUBECONFIG: p.identityKubeconfig(c),
        RUNTIME_NAMESPACE: FLUX_NAMESPACE,
        TMPDIR: path.join(state, "tmp"),
        TUF_ROOT: path.join(state, "tmp", ".sigstore"),
      },
    });
    started = true;
  }
  return started;
}

export interface GitServerInfo {
  /** host:port of the SSH server. */
  address: string;
  /** The server's known_hosts line, from its own host key (never scanned). */
  knownHosts: string;
  accessFile: string;
  maintainerKey: string;
}

/** What a client needs to reach this folder's Git server; undefined until it has run once. */
export function gitServer(dir: string): GitServerInfo | undefined {
  const p = paths(dir);
  if (!fs.existsSync(p.gitAddress) || !fs.existsSync(p.gitKnownHosts)) return undefined;
  return {
    address: fs.readFileSync(p.gitAddress, "utf8").trim(),
    knownHosts: fs.readFileSync(p.gitKnownHosts, "utf8"),
    accessFile: p.gitAccess,
    maintainerKey: p.maintainerKey,
  };
}

/** The environment that makes git use the maintainer's key and the server's pinned host key. */
export function maintainerGitEnv(dir: string): NodeJS.ProcessEnv {
  const p = paths(dir);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return {
    ...process.env,
    GIT_SSH_COMMAND:
      `ssh -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o BatchMode=yes ` +
      `-o UserKnownHostsFile=${q(p.gitKnownHosts)} -i ${q(p.maintainerKey)}`,
  };
}

/**
 * Publishes a commit of a local repository to the Git server as `branch` of
 * <owner>/<name> (created when missing): the local stack's GitOps repository
 * follows this checkout. Pushed over SSH with the maintainer's key, as a
 * person would push; forced, because the checkout may have moved anywhere.
 * Returns the published commit.
 */
export function publish(
  o: Pick<ClusterOptions, "dir" | "toolsBin">,
  repo: { owner: string; name: string; branch: string; source: string; ref?: string },
): string {
  const info = gitServer(o.dir);
  if (!info || runningPid(o.dir, "git-server") === undefined) {
    throw new ClusterError(`the Git server of ${o.dir} is not running: start it with npm run cluster -- up`);
  }
  execFileSync(
    binary(o.toolsBin, "fluxkit"),
    ["gitrepo", `--root=${paths(o.dir).git}`, `--repo=${repo.owner}/${repo.name}`],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const ref = repo.ref ?? "HEAD";
  const commit = execFileSync("git", ["-C", repo.source, "rev-parse", "--verify", `${ref}^{commit}`], {
    encoding: "utf8",
  }).trim();
  try {
    execFileSync(
      "git",
      [
        "-C",
        repo.source,
        "push",
        "--force",
        "--quiet",
        `ssh://git@${info.address}/${repo.owner}/${repo.name}`,
        `${commit}:refs/heads/${repo.branch}`,
      ],
      { env: maintainerGitEnv(o.dir), stdio: ["ignore", "pipe", "pipe"] },
    );
  } catch (e) {
    throw new ClusterError(
      `could not push ${commit} to the Git server: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`,
    );
  }
  return commit;
}

// ---------------------------------------------------------------- stop

/** Stops exactly the processes this folder started, controllers first. */
export async function down(o: Pick<ClusterOptions, "dir" | "log">): Promise<Tool[]> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const stopped: Tool[] = [];
  for (const tool of [...TOOLS].reverse()) {
    const pid = runningPid(o.dir, tool);
    if (pid !== undefined) {
      log(`stopping ${tool} (pid ${pid}) ...`);
      await stopPid(o.dir, tool, pid);
      stopped.push(tool);
    }
    fs.rmSync(paths(o.dir).pid(tool), { force: true });
  }
  return stopped;
}

// ---------------------------------------------------------------- status

export interface ComponentStatus {
  tool: Tool;
  pid?: number;
  port?: number;
  log: string;
  /** When the running process started. */
  since?: Date;
  /** Restarts by its supervisor since then, and the last one. */
  restarts: number;
  lastRestart?: string;
  /** It was started and is no longer running. */
  died: boolean;
  /** Its own health endpoint's answer ("ok", or why not); undefined when not running. */
  health?: string;
  /** Not serving for an expected reason (Flux not installed yet): not a failure. */
  waiting?: boolean;
}

export interface Status {
  dir: string;
  kubeconfig: string;
  components: ComponentStatus[];
  ready: boolean;
  readyz?: string;
}

export async function status(o: Pick<ClusterOptions, "dir">): Promise<Status> {
  const p = paths(o.dir);
  const ports = readPorts(o.dir);
  const table = processTable(o.dir, TOOLS, BINARY);
  const components: ComponentStatus[] = await Promise.all(
    table.map(async (t) => {
      const tool = t.tool as Tool;
      let health: string | undefined;
      if (t.pid !== undefined && ports) {
        const r = await healthProbe(o.dir, tool, ports)();
        health = r.ok ? "ok" : (r.error ?? `${r.status} ${(r.body ?? "").split("\n")[0].slice(0, 80)}`);
      }
      return {
        tool,
        pid: t.pid,
        // The port a person connects to: the first of the tool's (etcd's client port, not its peer port).
        port: ports?.[PORTS_OF[tool][0]],
        log: p.log(tool),
        since: t.since,
        restarts: t.restarts,
        lastRestart: t.lastRestart,
        died: t.started && t.pid === undefined,
        health,
      };
    }),
  );
  const api = components.find((c) => c.tool === "kube-apiserver");
  // Flux's controllers exit until `pulumi up` installs Flux's CRDs, and are restarted by their supervisor.
  if (api?.health === "ok" && ports) {
    const crds = await get(`https://127.0.0.1:${ports.apiserver}/apis/source.toolkit.fluxcd.io`, adminTls(o.dir));
    if (!crds.ok) {
      for (const c of components) {
        if (
          (FLUX_TOOLS as readonly string[]).includes(c.tool) &&
          c.tool !== "git-server" &&
          c.pid &&
          c.health !== "ok"
        ) {
          c.health = "waiting for Flux's CRDs (pulumi up installs Flux)";
          c.waiting = true;
        }
      }
    }
  }
  return { dir: o.dir, kubeconfig: p.kubeconfig, components, ready: api?.health === "ok", readyz: api?.health };
}

/** Shell lines that point kubectl (and the seed's commands) at this cluster. */
export function envLines(o: Pick<ClusterOptions, "dir" | "toolsBin">): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [`export KUBECONFIG=${q(paths(o.dir).kubeconfig)}`, `export PATH=${q(o.toolsBin)}:"$PATH"`].join("\n");
}
