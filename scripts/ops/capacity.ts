/**
 * npm run capacity [-- --stack producao] [--throughput 42] [--source "load test 2026-11-20"]
 *                  [--from-load .local/carga/<UTC>.json --simulated]
 *
 * Prints, for planning meetings, what `kubectl describe hpa cartorio-api -n cartorio`
 * would show of the scaling rules, the capacity plan for the corregedoria's
 * profile and the verdict with its reason. Exit 0 when the rules hold, 1 when not.
 *
 * --from-load takes the throughput per replica from a load run on the embedded cluster (npm run
 * cluster -- load). Those runs are simulated: refused unless --simulated says the plan knows it,
 * and the plan then names its source as simulated, never as a measurement of the service.
 */
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { loadStackFile } from "../../components/config/load";
import { formatPlan, planCapacity } from "../../components/scaling/capacity";
import { capacityInput } from "../../components/scaling/plan";
import { PROJECT_ROOT } from "./operator";

const { values } = parseArgs({
  options: {
    stack: { type: "string", default: "local" },
    throughput: { type: "string" },
    source: { type: "string", default: "measured (--throughput)" },
    "from-load": { type: "string" },
    simulated: { type: "boolean", default: false },
  },
  strict: true,
});
try {
  const cfg = loadStackFile(PROJECT_ROOT, values.stack!);
  const input = capacityInput(cfg);
  if (values.throughput !== undefined) {
    const rps = Number(values.throughput);
    if (!Number.isFinite(rps) || rps < 0)
      throw new Error(`--throughput ${values.throughput}: expected a non-negative number of requests per second`);
    input.replicaThroughputRps = rps;
    input.throughputSource = values.source!;
  }
  if (values["from-load"] !== undefined) {
    if (values.throughput !== undefined)
      throw new Error("--from-load and --throughput both give the throughput: choose one");
    const file = values["from-load"];
    let run: { simulated?: unknown; perReplicaRps?: unknown; startedAt?: unknown };
    try {
      run = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      throw new Error(`--from-load ${file}: ${(e as Error).message}`);
    }
    if (typeof run.perReplicaRps !== "number" || !(run.perReplicaRps > 0)) {
      throw new Error(
        `--from-load ${file}: perReplicaRps is ${JSON.stringify(run.perReplicaRps)}, expected a positive number (a record of npm run cluster -- load)`,
      );
    }
    if (run.simulated !== false && !values.simulated) {
      throw new Error(
        `--from-load ${file} is a run on the embedded cluster's simulated nodes (simulated: ${JSON.stringify(run.simulated ?? "unstated")}): ` +
          `its throughput comes from the plan itself, not from the service. Add --simulated to plan with it labelled so, ` +
          `or measure the real service (loadtest.mode: capacity)`,
      );
    }
    input.replicaThroughputRps = run.perReplicaRps;
    input.throughputSource = `SIMULATED: replay of ${String(run.startedAt)} on the embedded cluster (${file}), not a measurement of the service`;
  }
  const plan = planCapacity(input);
  console.log(
    formatPlan(plan, {
      name: cfg.workload.deployment,
      namespace: cfg.workload.namespace,
      cpu: cfg.scaling.cpuUtilization,
      memory: cfg.scaling.memoryUtilization,
      scaleDown: cfg.scaling.behavior.scaleDown,
    }),
  );
  process.exitCode = plan.ok ? 0 : 1;
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exitCode = 2;
}
