/**
 * The embedded control plane of the local stack: etcd, kube-apiserver and
 * kube-controller-manager as processes on 127.0.0.1, from the multi-call binary
 * scripts/toolchain/controlplane builds. No kubelet and no scheduler: objects
 * are admitted, stored and reconciled by the controllers (namespaces, garbage
 * collection, Deployment -> ReplicaSet, HPA), but no pod ever runs.
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

export const CONTEXT = "local";
export const CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager"] as const;
/** The GitOps loop: started with the control plane unless Flux is off. */
export const FLUX_TOOLS = ["git-server", "source-controller", "kustomize-controller"] as const;
export const TOOLS = [...CONTROL_PLANE, ...FLUX_TOOLS] as const;
export type Tool = (typeof TOOLS)[number];
/** Links to the multi-call binary, one per tool; kubectl is for people and tests. */
export const LINKS = [...CONTROL_PLANE, "kubectl"] as const;
/** The binary each tool runs (its name in the toolchain's bin folder). */
const BINARY: Record<Tool, string> = {
  etcd: "etcd",
  "kube-apiserver": "kube-apiserver",
  "kube-controller-manager": "kube-controller-manager",
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
  const file = paths(dir).pid(tool);
  let pid: number;
  try {
    pid = Number(fs.readFileSync(file, "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  // A pid can be reused: it is ours only if its command line names this folder.
  let cmdline: string;
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return undefined;
  }
  const args = cmdline.split("\0");
  // The tool's binary is the command, or what the supervisor runs.
  if (!args.some((a) => path.basename(a) === BINARY[tool]) || !args.some((a) => a.includes(path.resolve(dir)))) {
    return undefined;
  }
  // A zombie (exited, not yet reaped) is not running.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    if (/\) Z /.test(stat)) return undefined;
  } catch {
    return undefined;
  }
  return pid;
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

/** Starts what is not running; returns when the API server is ready and the controllers serve. */
export async function up(o: ClusterOptions): Promise<ClusterInfo> {
  const t0 = Date.now();
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const timeout = o.timeoutSeconds ?? 60;
  const p = paths(o.dir);
  const kube = binary(o.toolsBin, "kube");
  const flux = o.flux ?? true;
  for (const t of flux ? TOOLS : CONTROL_PLANE) binary(o.toolsBin, BINARY[t]);
  usableDir(o.dir);

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
  writePrivate(
    p.controllerManagerKubeconfig,
    kubeconfigYaml(o.dir, server, "system:kube-controller-manager", "controller-manager"),
  );
  for (const c of ["source-controller", "kustomize-controller"]) {
    writePrivate(
      p.identityKubeconfig(c),
      kubeconfigYaml(o.dir, server, `system:serviceaccount:${FLUX_NAMESPACE}:${c}`, c),
    );
  }

  let started = false;
  if (runningPid(o.dir, "etcd") === undefined) {
    log(`starting etcd on 127.0.0.1:${ports.etcdClient} ...`);
    fs.mkdirSync(p.etcdData, { recursive: true, mode: 0o700 });
    const client = `http://127.0.0.1:${ports.etcdClient}`;
    const peer = `http://127.0.0.1:${ports.etcdPeer}`;
    startProcess(o, "etcd", [
      "--name=cartorio-local",
      `--data-dir=${p.etcdData}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=cartorio-local=${peer}`,
      "--log-level=warn",
      ...(o.unsafeNoFsync ? ["--unsafe-no-fsync"] : []),
    ]);
    started = true;
  }
  await waitFor(o.dir, "etcd", () => get(`http://127.0.0.1:${ports.etcdClient}/health`), timeout);

  if (runningPid(o.dir, "kube-apiserver") === undefined) {
    log(`starting kube-apiserver on ${server} ...`);
    startProcess(o, "kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${ports.apiserver}`,
      `--tls-cert-file=${p.pki}/apiserver.crt`,
      `--tls-private-key-file=${p.pki}/apiserver.key`,
      `--client-ca-file=${p.pki}/ca.crt`,
      // The aggregation layer's front-proxy trust, as kubeadm sets it; controllers read it to
      // delegate authentication. No certificate with that name is ever issued here.
      `--requestheader-client-ca-file=${p.pki}/ca.crt`,
      "--requestheader-allowed-names=front-proxy-client",
      "--requestheader-username-headers=X-Remote-User",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      "--authorization-mode=RBAC",
      // PodSecurity is on by default; named so nobody wonders. Privileged pods are
      // allowed by the API, as on kubeadm clusters, so Pod Security is what refuses them.
      "--enable-admission-plugins=PodSecurity",
      "--allow-privileged=true",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${p.pki}/service-account.pub`,
      `--service-account-signing-key-file=${p.pki}/service-account.key`,
      // Only allocated from, never routed: nothing runs pods here.
      "--service-cluster-ip-range=10.96.0.0/16",
      // The `kubernetes` Service would need a non-loopback endpoint; no pod reads it here.
      "--endpoint-reconciler-type=none",
      "--profiling=false",
    ]);
    started = true;
  }
  const tls = adminTls(o.dir);
  await waitFor(o.dir, "kube-apiserver", () => get(`${server}/readyz`, tls), timeout);

  if (runningPid(o.dir, "kube-controller-manager") === undefined) {
    log("starting kube-controller-manager ...");
    const kc = p.controllerManagerKubeconfig;
    startProcess(o, "kube-controller-manager", [
      `--kubeconfig=${kc}`,
      `--authentication-kubeconfig=${kc}`,
      `--authorization-kubeconfig=${kc}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${ports.controllerManager}`,
      "--leader-elect=false",
      // Each controller under its own service account, as kubeadm runs it.
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${p.pki}/service-account.key`,
      `--root-ca-file=${p.pki}/ca.crt`,
      `--cluster-signing-cert-file=${p.pki}/ca.crt`,
      `--cluster-signing-key-file=${p.pki}/ca.key`,
      "--profiling=false",
    ]);
    started = true;
  }
  await waitFor(
    o.dir,
    "kube-controller-manager",
    () => get(`https://127.0.0.1:${ports.controllerManager}/healthz`, { rejectUnauthorized: false }),
    timeout,
  );
  // The serviceaccount controller has run once the default namespace has its account:
  // before that, no pod can be admitted anywhere.
  await waitFor(
    o.dir,
    "kube-controller-manager",
    () => get(`${server}/api/v1/namespaces/default/serviceaccounts/default`, tls),
    timeout,
  );

  if (flux) started = (await startFlux(o, ports, timeout, log)) || started;

  const seconds = (Date.now() - t0) / 1000;
  log(`${started ? "ready" : "already running"} in ${seconds.toFixed(1)}s: ${server}, kubeconfig ${p.kubeconfig}`);
  return { dir: o.dir, kubeconfig: p.kubeconfig, context: CONTEXT, server, ports, started, seconds };
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
      process.kill(pid, "SIGTERM");
      const deadline = Date.now() + 15_000;
      while (runningPid(o.dir, tool) !== undefined && Date.now() < deadline) await sleep(100);
      if (runningPid(o.dir, tool) !== undefined) {
        log(`${tool} did not stop within 15s; killing it`);
        process.kill(pid, "SIGKILL");
        while (runningPid(o.dir, tool) !== undefined) await sleep(50);
      }
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
  const ports: Partial<Ports> = readPorts(o.dir) ?? {};
  const components = TOOLS.map((tool) => ({
    tool,
    pid: runningPid(o.dir, tool),
    // The port a person connects to: the first of the tool's (etcd's client port, not its peer port).
    port: ports[PORTS_OF[tool][0]],
    log: p.log(tool),
  }));
  let readyz: string | undefined;
  let ready = false;
  if (CONTROL_PLANE.every((t) => runningPid(o.dir, t) !== undefined) && ports.apiserver) {
    const r = await get(`https://127.0.0.1:${ports.apiserver}/readyz`, adminTls(o.dir));
    ready = r.ok;
    readyz = r.ok ? "ok" : (r.error ?? `${r.status} ${r.body}`);
  }
  return { dir: o.dir, kubeconfig: p.kubeconfig, components, ready, readyz };
}

/** Shell lines that point kubectl (and the seed's commands) at this cluster. */
export function envLines(o: Pick<ClusterOptions, "dir" | "toolsBin">): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [`export KUBECONFIG=${q(paths(o.dir).kubeconfig)}`, `export PATH=${q(o.toolsBin)}:"$PATH"`].join("\n");
}
