/**
 * `npm run cluster -- up|down|status|env|publish [--dir DIR]`: the embedded
 * Kubernetes control plane of the local stack and its GitOps loop
 * (scripts/cluster/controlplane.ts).
 *
 *   up       start etcd, kube-apiserver, kube-controller-manager, the Git server and
 *            Flux's controllers (what is not running; --no-flux: the control plane only)
 *   down     stop exactly the processes this folder started
 *   status   what runs, on which ports, where the logs are
 *   env      `export KUBECONFIG=… PATH=…`, for eval "$(npm run -s cluster -- env)"
 *   publish  push this checkout's HEAD to the Git server as the GitOps repository's branch
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ClusterError, defaultToolsBin, down, envLines, paths, publish, status, tailOf, up } from "./controlplane";
import { loadStackFile } from "../../components/config/load";
import { PROJECT_ROOT } from "../ops/operator";

const USAGE = `usage: npm run cluster -- up|down|status|env|publish [--dir DIR]
  up       start the embedded control plane (etcd, kube-apiserver, kube-controller-manager) on 127.0.0.1,
           the local Git server and Flux's source- and kustomize-controller (--no-flux: the control plane only)
  down     stop the processes it started
  status   what runs, on which ports, and where the logs are
  env      print export lines: eval "$(npm run -s cluster -- env)"; then kubectl works as in the README
  publish  push this checkout's HEAD to the Git server as the GitOps repository and branch of
           --stack (default local; or --repo OWNER/NAME --branch B); prints the commit
  --dir    the cluster's folder (default .local/cluster)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: {
      dir: { type: "string" },
      "no-flux": { type: "boolean", default: false },
      stack: { type: "string", default: "local" },
      repo: { type: "string" },
      branch: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const verb = positionals[0];
  if (values.help || !verb || positionals.length > 1 || !["up", "down", "status", "env", "publish"].includes(verb)) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const dir = path.resolve(values.dir ?? process.env.CARTORIO_CLUSTER_DIR ?? path.join(PROJECT_ROOT, ".local/cluster"));
  const toolsBin = defaultToolsBin();
  const log = (l: string) => console.error(`[cluster] ${l}`);

  switch (verb) {
    case "up": {
      const info = await up({ dir, toolsBin, log, flux: !values["no-flux"] });
      console.log(envLines({ dir, toolsBin }));
      log(`context ${info.context}; try: eval "$(npm run -s cluster -- env)" && kubectl get ns`);
      return 0;
    }
    case "down": {
      const stopped = await down({ dir, log });
      log(stopped.length ? `stopped ${stopped.join(", ")}` : "nothing was running");
      return 0;
    }
    case "env":
      console.log(envLines({ dir, toolsBin }));
      return 0;
    case "publish": {
      const g = loadStackFile(PROJECT_ROOT, values.stack!).gitops;
      const [owner, name, ...rest] = (values.repo ?? `${g.owner}/${g.repository}`).split("/");
      if (!owner || !name || rest.length > 0) throw new ClusterError(`--repo ${values.repo}: expected OWNER/NAME`);
      const branch = values.branch ?? g.branch;
      const commit = publish({ dir, toolsBin }, { owner, name, branch, source: PROJECT_ROOT });
      log(`published ${commit} as ${owner}/${name} ${branch}`);
      console.log(commit);
      return 0;
    }
    case "status": {
      const s = await status({ dir });
      console.log(`cluster folder ${s.dir}`);
      let crashed = false;
      for (const c of s.components) {
        const hadPid = fs.existsSync(paths(dir).pid(c.tool));
        const state = c.pid
          ? `running, pid ${c.pid}`
          : hadPid
            ? "NOT RUNNING (it was started and has exited)"
            : "stopped";
        console.log(`  ${c.tool.padEnd(24)} ${state.padEnd(22)} port ${c.port ?? "-"}  log ${c.log}`);
        if (!c.pid && hadPid) {
          crashed = true;
          console.log(tailOf(c.log, 15).replace(/^/gm, "      | "));
        }
      }
      console.log(`  kubeconfig ${s.kubeconfig} (context local)`);
      console.log(`  API server ${s.ready ? "ready" : `not ready${s.readyz ? ` (${s.readyz})` : ""}`}`);
      return crashed ? 1 : 0;
    }
  }
  return 2;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(e instanceof ClusterError ? `[cluster] error: ${e.message}` : e);
    process.exitCode = 1;
  },
);
