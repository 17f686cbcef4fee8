/**
 * Benchmark of the two enforcers on the same generated corpus (npm run bench:policy):
 * the pack's rule logic (components/policy/rules.ts) against `conftest test` (the Rego
 * rules, parsing the files), for 1k, 5k and 10k documents. The pack's side is timed in
 * two phases: reading and parsing the same YAML files (the `yaml` package), which the
 * pack never does in a preview (the engine hands it each resource's properties), and
 * the rules over the parsed documents. Prints per-document costs and both ratios, and
 * writes them to docs/figures/policy.md (command, date, cores); asserts nothing.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { loadCatalogue } from "../../components/policy/catalogue";
import { evaluateLevels } from "../../components/policy/rules";
import { fuzzSetup, generate as fuzzCases, runCases } from "../../test/helpers/fuzz";
import { corpus } from "../../test/helpers/corpus";
import { FigureTable, writeFigures } from "./figures";

const root = path.resolve(__dirname, "../..");
const conftest = process.env.CARTORIO_CONFTEST ?? path.join(os.homedir(), ".cache/cartorio-toolchain/bin/conftest");
const catalogue = loadCatalogue();
const base = corpus().filter((f) => f.mode === "object");

function generate(n: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cartorio-bench-policy-${n}-`));
  for (let i = 0; i < n; i++) {
    const doc = JSON.parse(JSON.stringify(base[i % base.length].docs[0]));
    fs.writeFileSync(path.join(dir, `d${String(i).padStart(5, "0")}.yaml`), stringify(doc));
  }
  return dir;
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const perDocument: FigureTable = {
  title: "Cost per document (ms) and ratios, one run per size",
  header: [
    "documents",
    "conftest per doc",
    "yaml.parse per doc",
    "pack rules per doc",
    "conftest / rules",
    "conftest / (parse + rules)",
    "findings (conftest / pack)",
  ],
  rows: [],
};
console.log(`corpus base: ${base.length} distinct single documents (compliant, violations, mutations)`);
console.log(
  "docs    conftest per-doc(ms)  yaml.parse per-doc(ms)  pack rules per-doc(ms)  conftest/rules  conftest/(parse+rules)  findings(both)",
);
for (const n of [1000, 5000, 10000]) {
  const dir = generate(n);
  let t0 = process.hrtime.bigint();
  const res = spawnSync(
    conftest,
    [
      "test",
      dir,
      "--policy",
      path.join(root, "policies"),
      "--data",
      path.join(root, "policies/catalogue.yaml"),
      "--output",
      "json",
      "--no-color",
    ],
    {
      encoding: "utf8",
      maxBuffer: 1024 * 1024 * 1024,
    },
  );
  const conftestMs = ms(t0);
  if (res.status !== 0 && res.status !== 1) throw new Error(`conftest failed: ${res.stderr}`);
  const regoFindings = (JSON.parse(res.stdout) as { failures?: unknown[]; warnings?: unknown[] }[]).reduce(
    (s, r) => s + (r.failures?.length ?? 0) + (r.warnings?.length ?? 0),
    0,
  );

  t0 = process.hrtime.bigint();
  const docs = fs.readdirSync(dir).map((f) => parse(fs.readFileSync(path.join(dir, f), "utf8")));
  const parseMs = ms(t0);
  t0 = process.hrtime.bigint();
  let packFindings = 0;
  for (const d of docs) {
    const v = evaluateLevels([d], catalogue, "object");
    packFindings += v.deny.length + v.warn.length;
  }
  const rulesMs = ms(t0);
  const per = (x: number, w: number) => (x / n).toFixed(3).padStart(w);
  console.log(
    `${String(n).padStart(5)}  ${per(conftestMs, 20)}  ${per(parseMs, 22)}  ${per(rulesMs, 22)}  ${(conftestMs / rulesMs).toFixed(1).padStart(14)}  ${(conftestMs / (parseMs + rulesMs)).toFixed(1).padStart(22)}  ${regoFindings}/${packFindings}`,
  );
  perDocument.rows.push([
    n,
    (conftestMs / n).toFixed(3),
    (parseMs / n).toFixed(3),
    (rulesMs / n).toFixed(3),
    `${(conftestMs / rulesMs).toFixed(1)}×`,
    `${(conftestMs / (parseMs + rulesMs)).toFixed(1)}×`,
    `${regoFindings} / ${packFindings}`,
  ]);
  fs.rmSync(dir, { recursive: true, force: true });
}

// The differential fuzzer's pace: cases through both enforcers (files written, conftest, the pack's logic).
const fuzz = runCases(fuzzCases(1, 2000), fuzzSetup(conftest, root, catalogue));
console.log(
  `fuzzer: ${fuzz.cases} cases at ${fuzz.casesPerSecond.toFixed(0)} cases/s through both enforcers, ${fuzz.disagreements.length} disagreement(s)`,
);

writeFigures(
  "policy",
  "bench:policy",
  `The two enforcers on the same generated corpus (${base.length} distinct single documents: compliant, ` +
    "violations, mutations, repeated): `conftest test` with the Rego rules (parsing the files) against the " +
    "pack's rule logic, timed apart from parsing the same YAML; then the differential fuzzer's pace.",
  [
    perDocument,
    {
      title: "Differential fuzzer (seed 1)",
      header: ["cases", "cases/s through both enforcers", "disagreements"],
      rows: [[fuzz.cases, fuzz.casesPerSecond.toFixed(0), fuzz.disagreements.length]],
    },
  ],
).catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
