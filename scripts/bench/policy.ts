/**
 * Benchmark of the two enforcers on the same generated corpus (npm run bench:policy):
 * the pack's rule logic (components/policy/rules.ts, reading and parsing the
 * same files) against `conftest test` (the Rego rules), for 1k, 5k and 10k
 * documents. Prints per-document cost and the ratio; asserts nothing.
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

console.log(`corpus base: ${base.length} distinct single documents (compliant, violations, mutations)`);
console.log("docs    conftest(ms)  per-doc(ms)  pack-logic(ms)  per-doc(ms)  ratio conftest/pack  findings(both)");
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
  let packFindings = 0;
  for (const f of fs.readdirSync(dir)) {
    const v = evaluateLevels([parse(fs.readFileSync(path.join(dir, f), "utf8"))], catalogue, "object");
    packFindings += v.deny.length + v.warn.length;
  }
  const packMs = ms(t0);
  console.log(
    `${String(n).padStart(5)}  ${conftestMs.toFixed(0).padStart(12)}  ${(conftestMs / n).toFixed(3).padStart(11)}  ${packMs.toFixed(0).padStart(14)}  ${(packMs / n).toFixed(3).padStart(11)}  ${(conftestMs / packMs).toFixed(2).padStart(19)}  ${regoFindings}/${packFindings}`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
}

// The differential fuzzer's pace: cases through both enforcers (files written, conftest, the pack's logic).
const fuzz = runCases(fuzzCases(1, 2000), fuzzSetup(conftest, root, catalogue));
console.log(
  `fuzzer: ${fuzz.cases} cases at ${fuzz.casesPerSecond.toFixed(0)} cases/s through both enforcers, ${fuzz.disagreements.length} disagreement(s)`,
);
