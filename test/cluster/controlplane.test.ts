/**
 * The embedded control plane itself (npm run cluster): the real etcd,
 * kube-apiserver and kube-controller-manager built by the toolchain, with the
 * Git server and Flux's controllers beside them, started, inspected, broken and
 * stopped the ways an operator would.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defaultToolsBin,
  down,
  envLines,
  maintainerGitEnv,
  paths,
  runningPid,
  status,
  TOOLS,
  up,
} from "../../scripts/cluster/controlplane";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import { PROJECT_ROOT, tempDir } from "../helpers/tools";

let cluster: TestCluster;
const quiet = { log: () => undefined };

describe("the embedded control plane", () => {
  beforeAll(async () => {
    cluster = await startTestCluster();
  }, 180_000);
  afterAll(async () => cluster?.stop());

  it("serves Kubernetes v1.37.2 on 127.0.0.1 with RBAC and a working admin kubeconfig", () => {
    const version = JSON.parse(cluster.kubectlOk(["version", "-o", "json"]));
    expect(version.serverVersion.gitVersion).toBe("v1.37.2");
    expect(version.clientVersion.gitVersion).toBe("v1.37.2");
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cluster.kubectlOk(["auth", "can-i", "*", "*"]).trim()).toBe("yes");
    // The kubeconfig holds a client key: only its owner may read it.
    expect(fs.statSync(cluster.kubeconfig).mode & 0o077).toBe(0);
  });

  it("keeps its ports below the kernel's ephemeral range, where no outgoing connection can take them", () => {
    const [start] = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    const ports = Object.values(JSON.parse(fs.readFileSync(path.join(cluster.dir, "ports.json"), "utf8"))) as number[];
    expect(ports.length).toBe(14);
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) expect(p).toBeLessThan(start);
  });

  it("up twice is fine: the second call finds it running and changes nothing", async () => {
    const pids = TOOLS.map((t) => runningPid(cluster.dir, t));
    const again = await up({ dir: cluster.dir, toolsBin: cluster.toolsBin, ...quiet });
    expect(again.started).toBe(false);
    expect(again.server).toBe(cluster.server);
    expect(TOOLS.map((t) => runningPid(cluster.dir, t))).toEqual(pids);
  });

  it("status says what runs, on which ports, and where the logs are", async () => {
    const s = await status({ dir: cluster.dir });
    expect(s.ready).toBe(true);
    expect(s.components.map((c) => c.tool)).toEqual([
      "etcd",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
      "kwok",
      "metrics-server",
      "admission",
      "git-server",
      "source-controller",
      "kustomize-controller",
    ]);
    for (const c of s.components) {
      expect(c.pid).toBeGreaterThan(1);
      expect(c.port).toBeGreaterThan(0);
      expect(fs.existsSync(c.log)).toBe(true);
      expect(c.since!.getTime()).toBeLessThanOrEqual(Date.now());
      expect(c.died).toBe(false);
      // Each answers its own health endpoint; Flux's controllers wait for Flux's CRDs (not installed here).
      if (c.tool === "source-controller" || c.tool === "kustomize-controller")
        expect(c.health === "ok" || c.waiting).toBe(true);
      else expect(c.health).toBe("ok");
    }
    expect(s.components[1].port).toBe(cluster.ports.apiserver);
  });

  it("env prints the exports after which the README's kubectl commands run verbatim", () => {
    const lines = envLines({ dir: cluster.dir, toolsBin: cluster.toolsBin });
    const res = spawnSync("bash", ["-c", `${lines}\nkubectl get namespace kube-system -o name`], {
      encoding: "utf8",
      env: { ...process.env, PATH: "/usr/bin:/bin", KUBECONFIG: "" },
    });
    expect(res.stderr).toBe("");
    expect(res.stdout.trim()).toBe("namespace/kube-system");
  });

  it("runs the controllers: a Deployment gets its ReplicaSet and pods, and deleting the namespace collects them", async () => {
    cluster.kubectlOk(["create", "namespace", "controladores"]);
    cluster.kubectlOk([
      "create",
      "deployment",
      "eco",
      "-n",
      "controladores",
      "--image=registry.cartorio.example/eco@sha256:" + "a".repeat(64),
      "--replicas=2",
    ]);
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 60_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const names = (kind: string) =>
      cluster.kubectl(["get", kind, "-n", "controladores", "-o", "name"]).stdout.split("\n").filter(Boolean);
    await until(() => names("replicasets").length === 1, "the ReplicaSet");
    await until(() => names("pods").length === 2, "two pods (Pending: there is no kubelet)");
    cluster.kubectlOk(["delete", "namespace", "controladores", "--wait=false"]);
    await until(
      () => cluster.kubectl(["get", "namespace", "controladores"]).status !== 0,
      "the namespace controller to finish",
    );
  }, 120_000);

  it("the Git server serves a published checkout over SSH, pinned to its own host key, and refuses unknown keys", () => {
    const head = cluster.publish();
    const address = fs.readFileSync(path.join(cluster.gitDir, "address"), "utf8").trim();
    const url = `ssh://git@${address}/cartorio-digital/infraestrutura`;
    const env = maintainerGitEnv(cluster.dir);
    expect(spawnSync("git", ["ls-remote", url, "refs/heads/main"], { env, encoding: "utf8" }).stdout).toContain(head);
    expect(fs.readFileSync(path.join(cluster.gitDir, "known_hosts"), "utf8")).toMatch(
      new RegExp(`^\\[127\\.0\\.0\\.1\\]:${address.split(":")[1]} ssh-ed25519 `),
    );
    const stranger = path.join(tempDir("stranger"), "id");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
    const refused = spawnSync("git", ["ls-remote", url], {
      encoding: "utf8",
      env: { ...env, GIT_SSH_COMMAND: env.GIT_SSH_COMMAND!.replace(/-i '[^']*'/, `-i '${stranger}'`) },
    });
    expect(refused.status).not.toBe(0);
  });

  it("Flux's controllers run as their service accounts, limited by RBAC, and are restarted when they exit", async () => {
    const as = (c: string, args: string[]) =>
      spawnSync(
        path.join(cluster.toolsBin, "kubectl"),
        [`--kubeconfig=${paths(cluster.dir).identityKubeconfig(c)}`, ...args],
        {
          encoding: "utf8",
        },
      );
    const who = JSON.parse(as("source-controller", ["auth", "whoami", "-o", "json"]).stdout);
    expect(who.status.userInfo.username).toBe("system:serviceaccount:flux-system:source-controller");
    // No Flux RBAC is installed in this cluster: the controller may not even read its own kinds.
    expect(as("kustomize-controller", ["auth", "can-i", "list", "secrets", "-A"]).stdout.trim()).toBe("no");
    const supervisor = runningPid(cluster.dir, "kustomize-controller")!;
    const child = () =>
      spawnSync("pgrep", ["-P", String(supervisor)], { encoding: "utf8" })
        .stdout.trim()
        .split("\n")[0];
    const first = child();
    expect(Number(first)).toBeGreaterThan(1);
    process.kill(Number(first), "SIGKILL");
    const deadline = Date.now() + 30_000;
    while ((child() === first || child() === "") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(child()).not.toBe(first);
    expect(runningPid(cluster.dir, "kustomize-controller")).toBe(supervisor);
    expect(fs.readFileSync(paths(cluster.dir).log("kustomize-controller"), "utf8")).toMatch(
      /supervise: kustomize-controller exited with code \d+; restarting in \d+s/,
    );
  }, 60_000);
});

describe("starting and stopping, and what goes wrong", () => {
  const toolsBin = defaultToolsBin();

  it("down stops exactly the processes it started, never another process whose pid is in a pid file", async () => {
    const dir = tempDir("cluster-down");
    await up({ dir, toolsBin, unsafeNoFsync: true, ...quiet });
    const pids = TOOLS.map((t) => runningPid(dir, t)!);
    expect(pids.every((p) => p > 1)).toBe(true);
    // A stranger whose pid lands in a pid file (a reused pid) is left alone.
    const stranger = spawn("sleep", ["60"], { stdio: "ignore" });
    const realEtcd = pids[0];
    fs.writeFileSync(paths(dir).pid("etcd"), `${stranger.pid}\n`);
    expect(runningPid(dir, "etcd")).toBeUndefined();
    const stopped = await down({ dir, ...quiet });
    expect(stopped).toEqual([
      "kustomize-controller",
      "source-controller",
      "git-server",
      "admission",
      "metrics-server",
      "kwok",
      "kube-scheduler",
      "kube-controller-manager",
      "kube-apiserver",
    ]);
    expect(stranger.exitCode).toBeNull();
    expect(() => process.kill(stranger.pid!, 0)).not.toThrow();
    stranger.kill();
    // etcd was ours all along: stop it by its real pid for the next tests.
    process.kill(realEtcd, "SIGTERM");
  }, 180_000);

  it("a busy port is a clear error that names it and what to do", async () => {
    const dir = tempDir("cluster-busy");
    await up({ dir, toolsBin, unsafeNoFsync: true, ...quiet });
    const { apiserver } = JSON.parse(fs.readFileSync(paths(dir).ports, "utf8"));
    await down({ dir, ...quiet });
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(apiserver, "127.0.0.1", () => r()));
    try {
      await expect(up({ dir, toolsBin, ...quiet })).rejects.toThrow(
        new RegExp(`apiserver ${apiserver} on 127\\.0\\.0\\.1 is in use by another process.*ports\\.json`),
      );
      expect(TOOLS.map((t) => runningPid(dir, t)).filter((p) => p !== undefined)).toEqual([]);
    } finally {
      squatter.close();
    }
  }, 180_000);

  it("missing binaries and an unusable folder are clear errors", async () => {
    await expect(up({ dir: tempDir("cluster-nobin"), toolsBin: tempDir("empty-bin"), ...quiet })).rejects.toThrow(
      /kube does not exist: the embedded cluster's tools are not built\. Run scripts\/toolchain\/build\.sh/,
    );
    const file = path.join(tempDir("cluster-file"), "not-a-folder");
    fs.writeFileSync(file, "");
    await expect(up({ dir: path.join(file, "cluster"), toolsBin, ...quiet })).rejects.toThrow(
      /the cluster folder .*not-a-folder\/cluster is not usable/,
    );
  });

  it("an API server that crashes while starting is reported with the tail of its log", async () => {
    const dir = tempDir("cluster-crash");
    await up({ dir, toolsBin, unsafeNoFsync: true, ...quiet });
    await down({ dir, ...quiet });
    // A damaged serving key: the certificate is still valid, so it is kept, and the API server cannot load the pair.
    fs.writeFileSync(path.join(paths(dir).pki, "apiserver.key"), "not a key\n");
    try {
      await expect(up({ dir, toolsBin, unsafeNoFsync: true, ...quiet })).rejects.toThrow(
        /kube-apiserver exited while starting; the last lines of .*kube-apiserver\.log:\n(.|\n)*\| .*(key|PEM|tls)/i,
      );
    } finally {
      await down({ dir, ...quiet });
    }
  }, 180_000);

  it("npm run cluster -- status reports a crashed component with its log tail and exits non-zero", async () => {
    const dir = tempDir("cluster-status");
    await up({ dir, toolsBin, unsafeNoFsync: true, ...quiet });
    try {
      process.kill(runningPid(dir, "kube-controller-manager")!, "SIGKILL");
      const deadline = Date.now() + 10_000;
      while (runningPid(dir, "kube-controller-manager") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const res = spawnSync("node", ["scripts/ops/run.mjs", "cluster", "status", "--dir", dir], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
      });
      expect(res.status).toBe(1);
      expect(res.stdout).toMatch(
        /kube-controller-manager\s+-\s+-\s+\d+\s+\S+\s+\d+\s+NOT RUNNING \(it was started and has exited\)/,
      );
      expect(res.stdout).toMatch(/kube-apiserver\s+\d+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+0\s+-\s+\d+\s+ok/);
      expect(res.stdout).toMatch(/npm run cluster -- up restarts it/);
      expect(res.stdout).toMatch(/\| /);
    } finally {
      await down({ dir, ...quiet });
    }
  }, 180_000);
});
