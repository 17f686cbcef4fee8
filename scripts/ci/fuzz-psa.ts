/**
 * npm run fuzz:psa [-- --cases N] [--seed S] [--batch B]
 *
 * The long run of the Pod Security oracle (test/helpers/fuzz.ts; npm test runs test/policy/psa-oracle.test.ts
 * on fewer cases): N cases (default 20,000) of seed S (default: the clock, printed so the run reproduces)
 * through conftest, the pack's logic and the Pod Security admission of an embedded cluster started for the
 * run (both levels, server-side dry run). Each kind of disagreement is minimised once and saved under
 * test/fixtures/psa-fuzz/ with an undecided verdict, which npm test then replays (and fails on until a person
 * decides it). Exit 1 on any disagreement.
 */
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { loadCatalogue } from "../../components/policy/catalogue";
import { startTestCluster } from "../../test/helpers/cluster";
import {
  apiCaller,
  fuzzSetup,
  generatePss,
  minimisePsa,
  preparePsaCluster,
  PsaSetup,
  runPsaCases,
  savePsaReproducer,
} from "../../test/helpers/fuzz";

const { values } = parseArgs({
  options: {
    cases: { type: "string", default: "20000" },
    seed: { type: "string" },
    batch: { type: "string", default: "2000" },
    "no-save": { type: "boolean", default: false },
  },
  strict: true,
});
const total = Number(values.cases);
const batch = Number(values.batch);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
if (![total, batch, seed].every(Number.isInteger) || total < 1 || batch < 1) {
  console.error(
    `error: --cases ${values.cases} --seed ${values.seed} --batch ${values.batch}: expected whole numbers (≥ 1)`,
  );
  process.exit(2);
}

async function main(): Promise<number> {
  const conftest = process.env.CARTORIO_CONFTEST ?? path.join(os.homedir(), ".cache/cartorio-toolchain/bin/conftest");
  const t0 = Date.now();
  const cluster = await startTestCluster({ flux: false, alive: false });
  try {
    const api = await apiCaller(cluster.kubeconfig, cluster.context);
    await preparePsaCluster(api);
    const setup: PsaSetup = { ...fuzzSetup(conftest, path.resolve(__dirname, "../.."), loadCatalogue()), api };
    console.log(`psa fuzz: seed ${seed}, ${total} cases (cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    const all = generatePss(seed, total);
    // Per kind of disagreement: the cases that show it (at either level), and its reproducer.
    const kinds = new Map<string, { cases: Set<string>; file?: string }>();
    let judged = 0;
    let invalid = 0;
    for (let i = 0; i < all.length; i += batch) {
      const cases = all.slice(i, i + batch);
      const run = await runPsaCases(cases, setup);
      invalid += [...run.invalid.values()].reduce((a, b) => a + b, 0);
      judged += run.judgements.filter((j) => !("invalid" in j.psa)).length;
      for (const d of run.disagreements) {
        const k = kinds.get(d.kind) ?? { cases: new Set<string>() };
        kinds.set(d.kind, k);
        k.cases.add(d.id);
        if (!k.file && !values["no-save"]) {
          const { small, disagreements } = await minimisePsa(cases.find((c) => c.id === d.id)!, d.kind, setup);
          k.file = savePsaReproducer(small, disagreements, seed);
          console.log(`DISAGREEMENT ${d.kind}: ${small.note}; saved ${path.relative(process.cwd(), k.file)}`);
        }
      }
      const why = [...run.invalid.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 4)
        .map(([r, n]) => `${n}× ${r}`);
      console.log(
        `  ${i + cases.length} cases in ${run.seconds.toFixed(1)} s this batch; refused by the API first: ${why.join("; ") || "none"}`,
      );
    }
    for (const [kind, k] of [...kinds.entries()].sort())
      console.log(
        `  ${k.cases.size} case(s): ${kind} (e.g. ${[...k.cases].slice(0, 4).join(", ")})` +
          (k.file ? ` -> ${path.relative(process.cwd(), k.file)}` : ""),
      );
    const seconds = (Date.now() - t0) / 1000;
    console.log(
      `psa fuzz: ${total} cases in ${seconds.toFixed(1)} s, ${judged} judged by Pod Security (${invalid} refused by the API's validation first), ` +
        `${new Set([...kinds.values()].flatMap((k) => [...k.cases])).size} disagreeing case(s), ${kinds.size} kind(s) of disagreement`,
    );
    return kinds.size ? 1 : 0;
  } finally {
    await cluster.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
