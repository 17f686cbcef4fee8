/**
 * npm run audit [-- --kubeconfig FILE] [--context NAME]
 *
 * The rulebook over what the cluster runs: every live object of the kinds the rulebook knows, judged at
 * the catalogue's levels (components/policy/audit.ts), printed per namespace with rule ids. Defaults to the
 * embedded cluster (npm run cluster -- up: .local/cluster/kubeconfig, context local); any kubeconfig
 * context works. Exit 0 when no mandatory rule is broken, 1 when one is, 2 when the cluster can't be read.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { audit, formatAudit, readLiveObjects } from "../../components/policy/audit";
import { loadCatalogue } from "../../components/policy/catalogue";
import { wallClock } from "../../components/policy/rules";
import { apiReader } from "../../components/platform/kubeapi";
import { PROJECT_ROOT } from "./operator";

const { values } = parseArgs({
  options: {
    kubeconfig: { type: "string", default: path.join(PROJECT_ROOT, ".local/cluster/kubeconfig") },
    context: { type: "string", default: "local" },
  },
  strict: true,
});

async function main(): Promise<number> {
  const catalogue = loadCatalogue();
  let get;
  try {
    get = apiReader({ kubeconfig: values.kubeconfig!, context: values.context! });
  } catch (e) {
    console.error(
      `error: ${(e as Error).message}; start the embedded cluster (npm run cluster -- up) or pass --kubeconfig and --context`,
    );
    return 2;
  }
  const objects = await readLiveObjects(get);
  if (typeof objects === "string") {
    console.error(`error: ${objects}; nothing was judged`);
    return 2;
  }
  const report = audit(objects, catalogue, { ...wallClock(), exceptions: catalogue.exceptions });
  console.log(formatAudit(report, `context ${values.context} (${values.kubeconfig})`));
  return report.deny > 0 ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(`error: ${(e as Error).message}`);
    process.exitCode = 2;
  },
);
