/**
 * npm run fuzz:policy [-- --cases N] [--seed S]
 *
 * The long run of the differential fuzzer (test/helpers/fuzz.ts; npm test runs 2,000 cases of seed
 * 20261129): N cases (default 20,000) of seed S (default: the clock, printed so the run reproduces) through
 * the real conftest and the pack's logic, in batches. Prints cases per second; every disagreement is
 * minimised and saved under test/fixtures/policy-fuzz/, where npm test replays it. Exit 1 on any.
 */
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { loadCatalogue } from "../../components/policy/catalogue";
import { fuzzSetup, generate, minimise, runCases, saveReproducer } from "../../test/helpers/fuzz";

const { values } = parseArgs({
  options: { cases: { type: "string", default: "20000" }, seed: { type: "string" } },
  strict: true,
});
const total = Number(values.cases);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
if (!Number.isInteger(total) || total < 1 || !Number.isInteger(seed)) {
  console.error(`error: --cases ${values.cases} --seed ${values.seed}: expected whole numbers (cases ≥ 1)`);
  process.exit(2);
}
const conftest = process.env.CARTORIO_CONFTEST ?? path.join(os.homedir(), ".cache/cartorio-toolchain/bin/conftest");
const setup = fuzzSetup(conftest, path.resolve(__dirname, "../.."), loadCatalogue());

console.log(`policy fuzz: seed ${seed}, ${total} cases`);
const all = generate(seed, total);
const batch = 2000;
let disagreements = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < all.length; i += batch) {
  const run = runCases(all.slice(i, i + batch), setup);
  for (const d of run.disagreements) {
    disagreements++;
    const file = saveReproducer(minimise(d, setup), seed);
    console.log(`DISAGREEMENT ${d.id} (${d.note}): saved ${path.relative(process.cwd(), file)}`);
  }
  console.log(`  ${Math.min(i + batch, all.length)} cases, ${run.casesPerSecond.toFixed(0)} cases/s in this batch`);
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(
  `policy fuzz: ${total} cases in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)} cases/s through both enforcers), ${disagreements} disagreement(s)`,
);
process.exitCode = disagreements ? 1 : 0;
