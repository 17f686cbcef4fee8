/**
 * Differential fuzzing of the two enforcers (test/helpers/fuzz.ts): seeded cases mutated from the compliant
 * corpus, through the real conftest and the pack's logic in one batch each. Any difference in verdict, level
 * or message fails, and its minimised reproducer is saved under test/fixtures/policy-fuzz/, where the next
 * run replays it. `npm run fuzz:policy -- --cases N` runs a long one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCatalogue } from "../../components/policy/catalogue";
import { FuzzSetup, fuzzSetup, generate, minimise, replayReproducers, runCases, saveReproducer } from "../helpers/fuzz";
import { PROJECT_ROOT, tempDir, toolsBin } from "../helpers/tools";

/** The seed of npm test's run: fixed, so a failure reproduces (npm run fuzz:policy -- --seed 20261129). */
const SEED = 20261129;
const CASES = 2000;
let setup: FuzzSetup;

describe("differential fuzzing: conftest and the pack's logic", () => {
  beforeAll(() => {
    const conftest = path.join(toolsBin(), "conftest");
    if (!fs.existsSync(conftest)) throw new Error(`conftest is not built at ${conftest}`);
    setup = fuzzSetup(conftest, PROJECT_ROOT, loadCatalogue());
  });

  it(`${CASES} seeded cases: the same verdict, level and message from both`, () => {
    const cases = generate(SEED, CASES);
    const run = runCases(cases, setup);
    const saved = run.disagreements.slice(0, 5).map((d) => saveReproducer(minimise(d, setup), SEED));
    expect(
      run.disagreements.map((d) => ({ case: d.id, mutations: d.note, conftest: d.conftest, pack: d.pack })),
      `minimised reproducers saved: ${saved.join(", ")}`,
    ).toEqual([]);
    expect(run.cases).toBe(CASES);
    // The mutations reach every kind of edge: nulls, wrong types, streams, and documents the rules judge.
    const notes = cases.map((c) => c.note).join("\n");
    for (const op of [
      "null",
      "wrong-type",
      "empty-map",
      "empty-list",
      "remove",
      "extra-key",
      "unicode",
      "huge",
      "base64",
      "stream of",
    ])
      expect(notes).toContain(op);
  }, 600_000);

  it("the saved reproducers still get the same verdict from both", () => {
    expect(replayReproducers(setup)).toEqual([]);
  }, 120_000);

  it("the same seed gives the same cases; another seed others", () => {
    expect(generate(7, 50)).toEqual(generate(7, 50));
    expect(generate(8, 50)).not.toEqual(generate(7, 50));
  });

  it("a planted difference between the enforcers is found, minimised and saved (the fuzzer can fail)", () => {
    // The pack side judges with another allowed registry: every workload's image now differs in verdict.
    const planted: FuzzSetup = {
      ...setup,
      catalogue: {
        ...setup.catalogue,
        parameters: { ...setup.catalogue.parameters, allowedRegistries: ["registry.outro.example/"] },
      },
    };
    const run = runCases(generate(SEED, 200), planted);
    expect(run.disagreements.length).toBeGreaterThan(0);
    const d = run.disagreements[0];
    const small = minimise(d, planted);
    expect(small.text.length).toBeLessThan(d.text.length);
    expect(JSON.stringify(small.pack)).not.toBe(JSON.stringify(small.conftest));
    const dir = tempDir("fuzz-repro");
    const file = saveReproducer(small, SEED, dir);
    expect(fs.readFileSync(file, "utf8")).toMatch(
      /^# Found by the policy fuzzer \(seed 20261129, case z20261129-\d{5}/,
    );
    // Replayed against the planted setup it still disagrees; against the real one it agrees.
    expect(replayReproducers(planted, dir).length).toBe(1);
    expect(replayReproducers(setup, dir)).toEqual([]);
  }, 300_000);
});
