/**
 * `npm run cluster -- up|down|status|env [--dir DIR]`: the embedded Kubernetes
 * control plane of the local stack (scripts/cluster/controlplane.ts).
 *
 *   up      start etcd, kube-apiserver and kube-controller-manager (what is not running)
 *   down    stop exactly the processes this folder started
 *   status  what runs, on which ports, where the logs are
 *   env     `export KUBECONFIG=… PATH=…`, for eval "$(npm run -s cluster -- env)"
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ClusterError, defaultToolsBin, down, envLines, paths, status, tailOf, up } from "./cluster/controlplane";
import { PROJECT_ROOT } from "./operator";

const USAGE = `usage: npm run cluster -- up|down|status|env [--dir DIR]
  up      start the embedded control plane (etcd, kube-apiserver, kube-controller-manager) on 127.0.0.1
  down    stop the processes it started
  status  what runs, on which ports, and where the logs are
  env     print export lines: eval "$(npm run -s cluster -- env)"; then kubectl works as in the README
  --dir   the cluster's folder (default .local/cluster)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: { dir: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
    allowPositionals: true,
    strict: true,
  });
  const verb = positionals[0];
  if (values.help || !verb || positionals.length > 1 || !["up", "down", "status", "env"].includes(verb)) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const dir = path.resolve(values.dir ?? process.env.CARTORIO_CLUSTER_DIR ?? path.join(PROJECT_ROOT, ".local/cluster"));
  const toolsBin = defaultToolsBin();
  const log = (l: string) => console.error(`[cluster] ${l}`);

  switch (verb) {
    case "up": {
      const info = await up({ dir, toolsBin, log });
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
