/**
 * `npm run cluster -- up|down|status|env|publish [--dir DIR]`: the embedded
 * Kubernetes control plane of the local stack and its GitOps loop
 * (scripts/cluster/controlplane.ts).
 *
 *   up       start etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (the
 *            simulated node pool), metrics-server, the Git server and Flux's controllers: what is not
 *            running, and what needs what was restarted (--no-flux, --no-alive: leave those out)
 *   down     stop exactly the processes this folder started
 *   status   what runs, on which ports, where the logs are
 *   env      `export KUBECONFIG=… PATH=…`, for eval "$(npm run -s cluster -- env)"
 *   load     [SCRIPT] [--speed N]: play the load profile of SCRIPT (default the stack's loadtest.script) against the
           simulated cartorio-api pods, N times faster (the HPA's clocks are not compressed); prints the plan's
           predicted replicas beside the HPA's, and the SuccessfulRescale events; exit 1 when the peaks differ
           by more than one replica or the plan's peak is never reached
  settle   [--revision SHA] [--timeout S]: wait until every Kustomization is Ready (at SHA), the workload's pods
           are Ready and its HPA reads CPU from the metrics API
  publish  push this checkout's HEAD to the Git server as the GitOps repository's branch
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { runLoad } from "./load";
import { settle } from "./settle";
import { ClusterError, defaultToolsBin, down, envLines, paths, publish, status, tailOf, up } from "./controlplane";
import { loadStackFile } from "../../components/config/load";
import { PROJECT_ROOT } from "../ops/operator";

const USAGE = `usage: npm run cluster -- up|down|status|env|publish [--dir DIR]
  up       start the embedded control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) on
           127.0.0.1, kwok (the simulated nodes of --stack's scaling.nodePool) and metrics-server, the local Git
           server and Flux's source- and kustomize-controller: what is not running, and what needs what was
           restarted (--no-alive, --no-flux: leave those out)
  down     stop the processes it started
  status   every process: pid, up since, restarts, port and health; exit 1 when one died or does not answer
  env      print export lines: eval "$(npm run -s cluster -- env)"; then kubectl works as in the README
  load     [SCRIPT] [--speed N]: play the load profile of SCRIPT (default the stack's loadtest.script) against the
           simulated cartorio-api pods, N times faster (the HPA's clocks are not compressed); prints the plan's
           predicted replicas beside the HPA's, and the SuccessfulRescale events; exit 1 when the peaks differ
           by more than one replica or the plan's peak is never reached
  settle   [--revision SHA] [--timeout S]: wait until every Kustomization is Ready (at SHA), the workload's pods
           are Ready and its HPA reads CPU from the metrics API
  publish  push this checkout's HEAD to the Git server as the GitOps repository and branch of
           --stack (default local; or --repo OWNER/NAME --branch B); prints the commit
  --dir    the cluster's folder (default .local/cluster)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: {
      dir: { type: "string" },
      "no-flux": { type: "boolean", default: false },
      "no-alive": { type: "boolean", default: false },
      stack: { type: "string", default: "local" },
      repo: { type: "string" },
      branch: { type: "string" },
      speed: { type: "string", default: "1" },
      revision: { type: "string" },
      timeout: { type: "string", default: "240" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const verb = positionals[0];
  const verbs = ["up", "down", "status", "env", "publish", "load", "settle"];
  if (values.help || !verb || positionals.length > (verb === "load" ? 2 : 1) || !verbs.includes(verb)) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const dir = path.resolve(values.dir ?? process.env.CARTORIO_CLUSTER_DIR ?? path.join(PROJECT_ROOT, ".local/cluster"));
  const toolsBin = defaultToolsBin();
  const log = (l: string) => console.error(`[cluster] ${l}`);

  switch (verb) {
    case "up": {
      // The simulated node pool is the stack's scaling.nodePool (default: shaped like producao's).
      const nodePool = loadStackFile(PROJECT_ROOT, values.stack!).scaling.nodePool;
      const info = await up({ dir, toolsBin, log, flux: !values["no-flux"], alive: !values["no-alive"], nodePool });
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
    case "load": {
      const cfg = loadStackFile(PROJECT_ROOT, values.stack!);
      const speed = Number(values.speed);
      if (!(speed >= 1))
        throw new ClusterError(
          `--speed ${values.speed}: expected a number ≥ 1 (how many times faster the profile plays)`,
        );
      const script = path.resolve(PROJECT_ROOT, positionals[1] ?? cfg.loadtest.script);
      return runLoad({
        dir,
        outDir: path.join(PROJECT_ROOT, ".local", "carga"),
        script,
        speed,
        cfg,
        log: (l) => console.log(l),
      });
    }
    case "settle": {
      const cfg = loadStackFile(PROJECT_ROOT, values.stack!);
      const timeoutSeconds = Number(values.timeout);
      if (!(timeoutSeconds > 0)) throw new ClusterError(`--timeout ${values.timeout}: expected seconds > 0`);
      await settle({
        dir,
        namespace: cfg.workload.namespace,
        deployment: cfg.workload.deployment,
        revision: values.revision,
        timeoutSeconds,
        log,
      });
      return 0;
    }
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
      console.log(
        `  ${"process".padEnd(24)} ${"pid".padEnd(8)} ${"up since (UTC)".padEnd(20)} ${"restarts".padEnd(9)} ${"last restart".padEnd(21)} ${"port".padEnd(6)} health`,
      );
      let unhealthy = false;
      for (const c of s.components) {
        const since = c.since ? c.since.toISOString().slice(0, 19).replace("T", " ") : "-";
        const health = c.pid ? (c.health ?? "-") : c.died ? "NOT RUNNING (it was started and has exited)" : "stopped";
        console.log(
          `  ${c.tool.padEnd(24)} ${String(c.pid ?? "-").padEnd(8)} ${since.padEnd(20)} ${String(c.restarts).padEnd(9)} ` +
            `${(c.lastRestart ?? "-").padEnd(21)} ${String(c.port ?? "-").padEnd(6)} ${health}`,
        );
        if (c.died) {
          unhealthy = true;
          console.log(tailOf(c.log, 15).replace(/^/gm, "      | "));
        } else if (c.pid && c.health !== "ok" && !c.waiting) unhealthy = true;
      }
      console.log(`  logs ${paths(dir).logs}/<process>.log; kubeconfig ${s.kubeconfig} (context local)`);
      console.log(`  API server ${s.ready ? "ready" : `not ready${s.readyz ? ` (${s.readyz})` : ""}`}`);
      if (unhealthy)
        console.log(`  a process has died or does not answer: npm run cluster -- up restarts it (and what needs it)`);
      return unhealthy ? 1 : 0;
    }
  }
  return 2;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(e instanceof Error ? `[cluster] error: ${e.message}` : e);
    process.exitCode = 1;
  },
);
