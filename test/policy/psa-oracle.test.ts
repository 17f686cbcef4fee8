/**
 * The third oracle (test/helpers/fuzz.ts): the embedded cluster's own Pod Security admission, the reference
 * implementation of the Pod Security Standards the catalogue claims to cover. Seeded workloads of every
 * pod-bearing kind (pod level against container level, values equal to unset, init and ephemeral containers,
 * YAML 1.1 look-alike strings) are judged by conftest, by the pack's logic, and, as pods, server-side dry run,
 * by Pod Security admission in a namespace that enforces `restricted` and one that enforces `baseline`. For
 * every catalogue rule mapped to a control of the standard (`podSecurity`) the three must agree; a
 * disagreement fails, and its minimised reproducer is saved under test/fixtures/psa-fuzz/, which this test
 * replays (each with the verdict its header expects). No OPA webhook is installed: Pod Security judges alone.
 * The cluster is required: without its binaries this fails, never skips. `npm run fuzz:psa` runs a long one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadCatalogue } from "../../components/policy/catalogue";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import {
  apiCaller,
  fuzzSetup,
  generatePss,
  loadReproducers,
  minimisePsa,
  PSA_FIXTURES,
  PSA_REASONS,
  preparePsaCluster,
  PsaSetup,
  pssRules,
  replayPsaReproducers,
  runPsaCases,
  savePsaReproducer,
  YAML11_STRINGS,
} from "../helpers/fuzz";
import { PROJECT_ROOT, tempDir, toolsBin } from "../helpers/tools";

/** Fixed, so a failure reproduces (npm run fuzz:psa -- --seed 20261207 --cases 3000). */
const SEED = 20261207;
const CASES = 3000;
let cluster: TestCluster;
let setup: PsaSetup;

describe("Pod Security admission as the third oracle", () => {
  beforeAll(async () => {
    const conftest = path.join(toolsBin(), "conftest");
    if (!fs.existsSync(conftest)) throw new Error(`conftest is not built at ${conftest}`);
    cluster = await startTestCluster({ flux: false, alive: false });
    const api = await apiCaller(cluster.kubeconfig, cluster.context);
    await preparePsaCluster(api);
    setup = { ...fuzzSetup(conftest, PROJECT_ROOT, loadCatalogue()), api };
  }, 180_000);
  afterAll(async () => cluster?.stop());

  it("every control of the standard is mapped to a catalogue rule", () => {
    const rules = pssRules(setup.catalogue);
    const mapped = new Set(rules.flatMap((r) => r.controls.map((c) => `${c.level}: ${c.control}`)));
    expect([...mapped].sort()).toEqual(Object.keys(PSA_REASONS).sort());
    expect(rules.map((r) => r.id)).toEqual(
      Array.from({ length: 14 }, (_, i) => `CART-PSS-${String(i + 1).padStart(3, "0")}`),
    );
  });

  it(`${CASES} seeded cases: conftest, the pack and Pod Security admission agree on every mapped rule`, async () => {
    const cases = generatePss(SEED, CASES);
    const run = await runPsaCases(cases, setup);
    const kinds = [...new Set(run.disagreements.map((d) => d.kind))];
    // One minimised reproducer per kind of disagreement (a few at most), for the next run to replay.
    const saved: string[] = [];
    for (const kind of kinds.slice(0, 3)) {
      const d = run.disagreements.find((x) => x.kind === kind)!;
      const { small, disagreements } = await minimisePsa(cases.find((c) => c.id === d.id)!, kind, setup);
      saved.push(savePsaReproducer(small, disagreements, SEED));
    }
    expect(
      run.disagreements
        .slice(0, 10)
        .map((d) => ({ case: d.id, kind: d.kind, level: d.level, note: d.note, psa: d.reasons })),
      `minimised reproducers saved: ${saved.join(", ")}`,
    ).toEqual([]);

    const judged = run.judgements.filter((j) => !("invalid" in j.psa));
    const why = [...run.invalid.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
    console.log(
      `psa oracle: ${CASES} cases in ${run.seconds.toFixed(1)} s, ${judged.length} judged by Pod Security, ` +
        `${CASES - judged.length} refused by the API's validation first (${why.map(([r, n]) => `${n}× ${r}`).join("; ")})`,
    );
    // The comparison means something only if Pod Security judged most cases, both ways, at both levels, for
    // every reason the rulebook maps, on every kind, with init and ephemeral containers among them.
    expect(judged.length).toBeGreaterThan(CASES * 0.8);
    for (const level of ["baseline", "restricted"] as const) {
      const refused = judged.filter((j) => !("invalid" in j.psa) && j.psa[level].length > 0).length;
      expect(refused, level).toBeGreaterThan(judged.length * 0.1);
      expect(judged.length - refused, level).toBeGreaterThan(judged.length * 0.1);
    }
    // At either level (restricted replaces baseline's hostPath and capabilities checks with its own).
    const reasons = new Set(
      judged.flatMap((j) => ("invalid" in j.psa ? [] : [...j.psa.baseline, ...j.psa.restricted])),
    );
    // hostProcess is Windows-only: the API refuses it on a pod that is not (hostNetwork, every container alike).
    for (const [control, rs] of Object.entries(PSA_REASONS).filter(([c]) => c !== "baseline: HostProcess"))
      expect(
        rs.some((r) => reasons.has(r)),
        `Pod Security refused a case for ${control}`,
      ).toBe(true);
    const texts = judged.map((j) => j.text).join("\n");
    for (const kind of ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"])
      expect(texts).toContain(`kind: ${kind}\n`);
    expect(judged.filter((j) => j.text.includes("ephemeralContainers:")).length).toBeGreaterThan(100);
    expect(judged.filter((j) => j.note.includes("pod.initContainers.0.")).length).toBeGreaterThan(100);
    // Pod level against container level, and YAML 1.1 look-alikes kept as strings (quoted in the case's text).
    expect(judged.filter((j) => j.note.includes(" + pod.*.")).length).toBeGreaterThan(100);
    for (const s of YAML11_STRINGS) expect(texts, s).toContain(`"${s}"`);
  }, 300_000);

  it("the saved reproducers get from the three oracles the verdict each expects (an empty or missing corpus fails)", async () => {
    const corpus = loadReproducers(PSA_FIXTURES);
    expect(corpus.length).toBeGreaterThanOrEqual(7);
    expect(await replayPsaReproducers(setup)).toEqual([]);
    const empty = tempDir("psa-empty");
    await expect(replayPsaReproducers(setup, empty)).rejects.toThrow(/no reproducer to replay: .* is empty/);
    // One reproducer whose expected verdict is changed: the oracles agree, and the replay fails.
    const [first] = corpus;
    const dir = tempDir("psa-expected");
    fs.writeFileSync(
      path.join(dir, `${first.id}.yaml`),
      first.text.replace(/^# expected: .*$/m, '# expected: {"rules":["CART-XXX-000"],"baseline":[],"restricted":[]}'),
    );
    expect(await replayPsaReproducers(setup, dir)).toEqual([
      expect.objectContaining({ id: first.id, problem: "the oracles agree, but not on the expected verdict" }),
    ]);
  }, 120_000);

  it("a planted disagreement is found, minimised and saved, and its replay fails until decided (the oracle can fail)", async () => {
    // The rulebook (both enforcers alike) planted to allow SYS_ADMIN: Pod Security still refuses it.
    const raw = fs.readFileSync(path.join(PROJECT_ROOT, "policies/catalogue.yaml"), "utf8");
    const planted = raw.replace(
      "allowedAddedCapabilities: [NET_BIND_SERVICE]",
      "allowedAddedCapabilities: [NET_BIND_SERVICE, SYS_ADMIN]",
    );
    expect(planted).not.toBe(raw);
    const file = path.join(tempDir("psa-planted"), "catalogue.yaml");
    fs.writeFileSync(file, planted);
    const catalogue = loadCatalogue(file);
    const plantedSetup: PsaSetup = {
      ...setup,
      catalogue,
      policyArgs: setup.policyArgs.map((a) => (a.endsWith("policies/catalogue.yaml") ? file : a)),
    };
    const cases = generatePss(SEED, 400);
    const run = await runPsaCases(cases, plantedSetup);
    const kind = "CART-PSS-007: the rulebook admits, Pod Security refuses";
    expect(run.disagreements.map((d) => d.kind)).toContain(kind);
    const d = run.disagreements.find((x) => x.kind === kind)!;
    const original = cases.find((c) => c.id === d.id)!;
    const { small, disagreements } = await minimisePsa(original, kind, plantedSetup);
    expect(small.mutations.length).toBeLessThanOrEqual(original.mutations.length);
    expect(small.note).toContain("SYS_ADMIN");
    expect(disagreements.map((x) => x.kind)).toContain(kind);
    const dir = tempDir("psa-repro");
    const saved = fs.readFileSync(savePsaReproducer(small, disagreements, SEED, dir), "utf8");
    expect(saved).toMatch(/^# Found by the Pod Security oracle \(seed 20261207, case p20261207-\d{5}/);
    expect(saved).toMatch(/^# expected: unknown/m);
    // Undecided: the replay fails; decided as Pod Security says (the plant was the rulebook's), it passes with
    // the real rulebook and still fails with the planted one.
    const [undecided] = await replayPsaReproducers(setup, dir);
    expect(undecided).toMatchObject({ problem: expect.stringMatching(/^no expected verdict/) });
    savePsaReproducer(small, disagreements, SEED, dir, { expected: undecided.got });
    expect(await replayPsaReproducers(setup, dir)).toEqual([]);
    expect(await replayPsaReproducers(plantedSetup, dir)).toEqual([
      expect.objectContaining({ problem: "the oracles disagree" }),
    ]);
    expect(stringify(undecided.got)).toContain("unrestricted capabilities");
  }, 180_000);
});
