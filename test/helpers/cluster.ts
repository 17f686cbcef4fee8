/**
 * A throwaway embedded control plane for a test file: the real etcd,
 * kube-apiserver and kube-controller-manager from the toolchain, alive (kube-scheduler,
 * kwok's simulated nodes, metrics-server) unless `alive: false`, with the local
 * Git server and Flux's controllers unless `flux: false`, in a folder of its
 * own, on free ports. A missing binary fails the test (never a skip).
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ClusterInfo, defaultToolsBin, down, paths, publish, up } from "../../scripts/cluster/controlplane";
import type { NodePool } from "../../scripts/cluster/alive";
import { PROJECT_ROOT, tempDir } from "./tools";

export interface TestCluster extends ClusterInfo {
  toolsBin: string;
  /** Runs kubectl against this cluster; stdin optional. */
  kubectl(args: string[], input?: string): { status: number | null; stdout: string; stderr: string };
  /** kubectl that must succeed; returns stdout. */
  kubectlOk(args: string[], input?: string): string;
  start(): Promise<ClusterInfo>;
  stop(): Promise<void>;
  /** The Git server's folder (gitops.git.localDir of a stack synced from it). */
  gitDir: string;
  /** Publishes a commit of a local repository (default: this checkout's HEAD) as cartorio-digital/infraestrutura main. */
  publish(source?: string, ref?: string): string;
}

export async function startTestCluster(
  opts: { flux?: boolean; alive?: boolean; nodePool?: NodePool } = {},
): Promise<TestCluster> {
  const dir = tempDir("cluster");
  const toolsBin = defaultToolsBin();
  const options = {
    dir,
    toolsBin,
    unsafeNoFsync: true,
    log: () => undefined,
    flux: opts.flux ?? true,
    alive: opts.alive ?? true,
    ...(opts.nodePool ? { nodePool: opts.nodePool } : {}),
  };
  const info = await up(options);
  const kubectl = (args: string[], input?: string) => {
    const res = spawnSync(
      path.join(toolsBin, "kubectl"),
      [`--kubeconfig=${info.kubeconfig}`, `--context=${info.context}`, ...args],
      { input, encoding: "utf8", timeout: 60_000 },
    );
    return { status: res.status, stdout: res.stdout ?? "", stderr: res.stderr ?? "" };
  };
  return {
    ...info,
    toolsBin,
    kubectl,
    kubectlOk(args, input) {
      const res = kubectl(args, input);
      if (res.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${res.status}): ${res.stderr}`);
      return res.stdout;
    },
    start: () => up(options),
    stop: async () => {
      await down({ dir, log: () => undefined });
    },
    gitDir: paths(dir).git,
    publish: (source = PROJECT_ROOT, ref = "HEAD") =>
      publish({ dir, toolsBin }, { owner: "cartorio-digital", name: "infraestrutura", branch: "main", source, ref }),
  };
}
