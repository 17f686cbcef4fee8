/**
 * npm run capacity [-- --stack producao] [--throughput 42] [--source "load test 2026-11-20"]
 *
 * Prints, for planning meetings, what `kubectl describe hpa cartorio-api -n cartorio`
 * would show of the scaling rules, the capacity plan for the corregedoria's
 * profile and the verdict with its reason. Exit 0 when the rules hold, 1 when not.
 */
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
