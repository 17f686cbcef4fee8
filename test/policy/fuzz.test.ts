/**
 * Differential fuzzing of the two enforcers (test/helpers/fuzz.ts): seeded cases mutated from the compliant
 * corpus, through the real conftest and the pack's logic in one batch each. Any difference in verdict, level
 * or message fails, and its minimised reproducer is saved under test/fixtures/policy-fuzz/, where the next
 * run replays it. `npm run fuzz:policy -- --cases N` runs a long one.
 *
 * The replay proves something only if there is something to replay: the corpus in test/fixtures/policy-fuzz/
 * is committed (test/fixtures/policy-fuzz/README.md says how it was made), and the replay FAILS when that
 * folder is missing or empty. Each reproducer must get, from both enforcers, the verdict its header
 * expects (`# expected:`), not merely the same verdict from both.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCatalogue } from "../../components/policy/catalogue";
import {
  caseText,
  FUZZ_FIXTURES,
  FuzzSetup,
  fuzzSetup,
  generate,
  loadReproducers,
  minimise,
  replayReproducers,
  runCases,
  saveReproducer,
  YAML11_STRINGS,
} from "../helpers/fuzz";
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
      "yaml11 metadata.labels",
      "yaml11 metadata.annotations",
      "yaml11 containers[0].env",
      "yaml11 containers[0].args",
      "stream of",
    ])
      expect(notes).toContain(op);
    // Strings YAML 1.1 reads as other types reach both enforcers as strings: the case texts quote them.
    for (const s of YAML11_STRINGS) {
      const c = cases.find((x) => x.note.includes(`yaml11 metadata.labels.cartorio.digital/revisado=${s}`));
      expect(c, s).toBeDefined();
      expect(caseText(c!)).toContain(`cartorio.digital/revisado: "${s}"`);
    }
  }, 600_000);

  it("the saved reproducers still get the same verdict from both, the one each expects (an empty or missing corpus fails)", () => {
    // loadReproducers throws when test/fixtures/policy-fuzz/ is missing or holds no reproducer: a replay of
    // nothing must not pass.
    const corpus = loadReproducers();
    expect(corpus.length, `reproducers in ${FUZZ_FIXTURES}`).toBeGreaterThan(0);
    expect(
      corpus.filter((r) => r.expected === "unknown").map((r) => r.id),
      "reproducers without an expected verdict",
    ).toEqual([]);
    expect(replayReproducers(setup)).toEqual([]);
  }, 120_000);

  it("the replay fails on a missing or empty corpus, and on a reproducer whose expected verdict is wrong or unknown", () => {
    const empty = tempDir("fuzz-empty");
    expect(() => replayReproducers(setup, empty)).toThrow(/no reproducer to replay: .* is empty/);
    expect(() => replayReproducers(setup, path.join(empty, "absent"))).toThrow(
      /no reproducer to replay: .* is missing/,
    );
    // One of the corpus's reproducers, its expected verdict changed: both enforcers agree, and the replay fails.
    const [first] = loadReproducers();
    const dir = tempDir("fuzz-expected");
    const wrong = first.text.replace(/^# expected: .*$/m, '# expected: {"deny":["CART-XXX-000: planted"],"warn":[]}');
    fs.writeFileSync(path.join(dir, `${first.id}.yaml`), wrong);
    expect(replayReproducers(setup, dir)).toEqual([
      expect.objectContaining({ id: first.id, problem: "both enforcers agree, but not on the expected verdict" }),
    ]);
    // Undecided, as the fuzzer saves a new one: it fails until someone writes the verdict.
    fs.writeFileSync(
      path.join(dir, `${first.id}.yaml`),
      first.text.replace(/^# expected: .*$/m, "# expected: unknown"),
    );
    expect(replayReproducers(setup, dir)).toEqual([
      expect.objectContaining({ id: first.id, problem: expect.stringMatching(/^no expected verdict/) }),
    ]);
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
    const text = fs.readFileSync(file, "utf8");
    expect(text).toMatch(/^# Found by the policy fuzzer \(seed 20261129, case z20261129-\d{5}/);
    // Saved by the fuzzer, the verdict is undecided: its replay fails until someone writes it.
    expect(text).toMatch(/^# expected: unknown/m);
    expect(replayReproducers(setup, dir)).toEqual([
      expect.objectContaining({ problem: expect.stringMatching(/^no expected verdict/) }),
    ]);
    // The plant was on the pack's side, so conftest's verdict is the right one: written, the replay against
    // the planted setup still disagrees; against the real one it passes.
    saveReproducer(small, SEED, dir, { expected: small.conftest });
    expect(replayReproducers(planted, dir)).toEqual([expect.objectContaining({ problem: "the enforcers disagree" })]);
    expect(replayReproducers(setup, dir)).toEqual([]);
  }, 300_000);
});
