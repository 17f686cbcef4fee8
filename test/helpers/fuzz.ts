/**
 * Differential fuzzing of the two enforcers: documents mutated from the compliant corpus with nulls, wrong
 * types, empty maps and lists, missing and extra keys, unicode, huge values, base64 variants and
 * multi-document streams, judged by the real conftest (policies/*.rego) and by the pack's logic
 * (components/policy/rules.ts) in one batch each; any difference in verdict, level or message is a
 * disagreement, minimised (fields removed while it persists) and saved as a fixture the parity corpus
 * keeps. Seeded and reproducible: the same seed gives the same cases. Used by the fuzz test
 * (test/policy/fuzz.test.ts) and `npm run fuzz:policy`.
 *
 * A reproducer (test/fixtures/policy-fuzz/<case>.yaml) is the minimised YAML under a header: where it was
 * found and what each enforcer said then (`# conftest:`, `# pack:`), and `# expected:`, the verdict both
 * must give, as JSON {deny, warn}. The fuzzer cannot know which enforcer was right, so it writes
 * `# expected: unknown …`, and the replay fails until a person fixes the wrong enforcer and writes the
 * verdict. The replay fails too when the folder is missing or empty (loadReproducers).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import type { Catalogue } from "../../components/policy/catalogue";
import { conftestTest, messages } from "../../components/policy/conftest";
import { evaluateLevels, K8sObject, RuleContext } from "../../components/policy/rules";
import { compliant } from "./corpus";
import { tempDir } from "./tools";

export const FUZZ_FIXTURES = path.resolve(__dirname, "../fixtures/policy-fuzz");

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Every node of a document (objects, arrays and scalars), as paths. */
function nodes(x: Json, p: Path = []): Path[] {
  const here = p.length ? [p] : [];
  if (x === null || typeof x !== "object") return here;
  const entries = Array.isArray(x) ? x.map((v, i) => [i, v] as const) : Object.entries(x);
  return [...here, ...entries.flatMap(([k, v]) => nodes(v, [...p, k]))];
}

function get(doc: Json, p: Path): Json {
  let cur: Json = doc;
  for (const s of p) cur = (cur as Record<string | number, Json>)[s];
  return cur;
}

function parentOf(doc: Json, p: Path): Record<string | number, Json> {
  return get(doc, p.slice(0, -1)) as Record<string | number, Json>;
}

const UNICODE = ["ação", "ñ", "\u202eevil", "zero\u200bwidth", "😀", "Ǆ", "İ", "\u0000nul", "ＡＬＬ", "true"];
const HUGE = [1e300, -1e300, 2 ** 53 + 2, 2 ** 31, -1, 0.5, 1.2345678901234568e20];
const PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbc\n-----END EC PRIVATE KEY-----\n";

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** Values of another JSON type than `v`'s (wrong types), or edge values of the same type. */
function wrongValue(r: () => number, v: Json): Json {
  const options: Json[] = [null, true, false, 0, 1, "", "x", [], {}, ["ALL"], { a: "b" }, "false", "0", "null"];
  const wrong = options.filter((o) => typeof o !== typeof v || Array.isArray(o) !== Array.isArray(v));
  return pick(r, wrong.length ? wrong : options);
}

function base64Variant(r: () => number): string {
  const pem = Buffer.from(PEM).toString("base64");
  return pick(r, [
    pem,
    pem.replace(/=+$/, ""), // no padding
    pem.replace(/\+/g, "-").replace(/\//g, "_"), // URL-safe alphabet
    pem.replace(/(.{20})/g, "$1\n"), // wrapped
    ` ${pem} `,
    Buffer.from("not a key").toString("base64"),
    "%%%not base64%%%",
    "",
    Buffer.from(PEM.replace("EC ", "")).toString("base64"),
    Buffer.from(`prefix\n${PEM}`).toString("base64"),
  ]);
}

export type Op =
  | "null"
  | "wrong-type"
  | "empty-map"
  | "empty-list"
  | "remove"
  | "extra-key"
  | "unicode"
  | "huge"
  | "base64";
const OPS: Op[] = ["null", "wrong-type", "empty-map", "empty-list", "remove", "extra-key", "unicode", "huge", "base64"];

/** Applies one mutation at a random node; returns what it did. */
function mutate(r: () => number, doc: Json): string {
  const all = nodes(doc);
  if (all.length === 0) return "nothing to mutate";
  const p = pick(r, all);
  const op = pick(r, OPS);
  const parent = parentOf(doc, p);
  const key = p[p.length - 1];
  const at = p.join(".");
  switch (op) {
    case "null":
      parent[key] = null;
      break;
    case "wrong-type":
      parent[key] = wrongValue(r, get(doc, p));
      break;
    case "empty-map":
      parent[key] = {};
      break;
    case "empty-list":
      parent[key] = [];
      break;
    case "remove":
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case "extra-key": {
      const target = get(doc, p);
      if (target && typeof target === "object" && !Array.isArray(target))
        target[pick(r, ["extra", "hostPort", "privileged", "host", "add", "name", "ação", ""])] = wrongValue(r, 0);
      else if (Array.isArray(target)) target.push(wrongValue(r, {}));
      // Keys stay short: YAML writes a key over 1024 characters in explicit form, which conftest's parser refuses.
      else parent[key] = { [String(target).slice(0, 64)]: target };
      break;
    }
    case "unicode":
      parent[key] = pick(r, UNICODE);
      break;
    case "huge":
      parent[key] = r() < 0.5 ? pick(r, HUGE) : "x".repeat(10_000);
      break;
    case "base64":
      parent[key] = base64Variant(r);
      break;
  }
  return `${op} ${at}`;
}

export interface FuzzCase {
  id: string;
  /** The file's documents (a stream when more than one; null is an empty document). */
  docs: Json[];
  note: string;
}

/** `n` cases from `seed`: 1-3 mutations of one compliant document; about one in eight a multi-document stream. */
export function generate(seed: number, n: number): FuzzCase[] {
  const r = prng(seed);
  const kinds = Object.keys(compliant("x"));
  const cases: FuzzCase[] = [];
  for (let i = 0; i < n; i++) {
    const id = `z${seed}-${String(i).padStart(5, "0")}`;
    const doc = structuredClone(compliant(id)[pick(r, kinds)]) as unknown as Json;
    const did: string[] = [];
    const count = 1 + Math.floor(r() * 3);
    for (let m = 0; m < count; m++) did.push(mutate(r, doc));
    let docs: Json[] = [doc];
    if (r() < 0.125) {
      // Streams: empty documents, scalars and lists among real ones.
      const other = structuredClone(compliant(`${id}-b`)[pick(r, kinds)]) as unknown as Json;
      docs = pick(r, [
        [doc, null],
        [null, doc, other],
        [doc, ["a", "b"]],
        [doc, "texto"],
        [doc, 42],
        [doc, other],
      ]);
      did.push(`stream of ${docs.length}`);
    }
    cases.push({ id, docs, note: did.join("; ") });
  }
  return cases;
}

/** Strings a type-preserving mutation writes: empty, mutable tags, foreign registries, YAML 1.1 look-alikes. */
const TYPED_STRINGS = [
  "",
  "latest",
  "docker.io/library/nginx:latest",
  `docker.io/library/nginx@sha256:${"a".repeat(64)}`,
  "registry.cartorio.example/cartorio/x:1.0",
  "yes",
  "0x1F",
  "2026-12-06",
  "Unconfined",
  "SYS_ADMIN",
  "ação",
];

/**
 * `n` cases whose mutations keep every value's type (a string stays a string, a boolean is flipped, a number
 * changed, a node removed): what the API server can decode, so its admission sees them. The other
 * generator's type changes are refused by the API before any admission runs.
 */
export function generateTyped(seed: number, n: number): FuzzCase[] {
  const r = prng(seed);
  const kinds = Object.keys(compliant("x"));
  const cases: FuzzCase[] = [];
  for (let i = 0; i < n; i++) {
    const id = `t${seed}-${String(i).padStart(5, "0")}`;
    const doc = structuredClone(compliant(id)[pick(r, kinds)]) as unknown as Json;
    const did: string[] = [];
    for (let m = 0, count = 1 + Math.floor(r() * 3); m < count; m++) {
      // Never apiVersion, kind or metadata.name: the object must stay the same object.
      const all = nodes(doc).filter(
        (p) => !["apiVersion", "kind"].includes(String(p[0])) && p.join(".") !== "metadata.name",
      );
      if (all.length === 0) break;
      const p = pick(r, all);
      const parent = parentOf(doc, p);
      const key = p[p.length - 1];
      const v = parent[key];
      let op: string;
      if (r() < 0.3) {
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key];
        op = "remove";
      } else if (typeof v === "string") {
        parent[key] = pick(r, TYPED_STRINGS);
        op = "string";
      } else if (typeof v === "boolean") {
        parent[key] = !v;
        op = "flip";
      } else if (typeof v === "number") {
        parent[key] = pick(r, [0, 1, -1, 65535]);
        op = "number";
      } else continue;
      did.push(`${op} ${p.join(".")}`);
    }
    cases.push({ id, docs: [doc], note: did.join("; ") });
  }
  return cases;
}

/** A case as the file both enforcers read: YAML 1.1 scalars quoted as both parsers need (yes/no/on/off). */
export function caseText(c: FuzzCase): string {
  return c.docs.map((d) => stringify(d, { version: "1.1" })).join("---\n");
}

export interface Verdict {
  deny: string[];
  warn: string[];
}

/** The pack's logic over a file's text, document by document, as conftest reads it. */
export function packVerdict(text: string, catalogue: Catalogue, ctx: RuleContext): Verdict {
  const docs = parseAllDocuments(text, { version: "1.1" }).map((d) => d.toJS({ maxAliasCount: -1 }) as K8sObject);
  const deny: string[] = [];
  const warn: string[] = [];
  for (const d of docs) {
    const v = evaluateLevels([d], catalogue, "object", ctx);
    deny.push(...v.deny);
    warn.push(...v.warn);
  }
  return { deny: deny.sort(), warn: warn.sort() };
}

/** The real conftest over a directory of case files: file name -> verdict. */
export function conftestVerdicts(conftest: string, dir: string, policyArgs: string[]): Record<string, Verdict> {
  const run = conftestTest(conftest, [dir, ...policyArgs], 1024 * 1024 * 1024);
  if ("problem" in run) throw new Error(run.problem);
  const out: Record<string, Verdict> = {};
  for (const r of run.results) {
    const { deny, warn } = messages([r]);
    out[path.basename(r.filename, ".yaml")] = { deny: deny.sort(), warn: warn.sort() };
  }
  return out;
}

export interface Disagreement {
  id: string;
  note: string;
  text: string;
  conftest: Verdict;
  pack: Verdict;
}

export interface FuzzRun {
  cases: number;
  disagreements: Disagreement[];
  /** Cases per second through both enforcers (writing the files included). */
  casesPerSecond: number;
}

export interface FuzzSetup {
  conftest: string;
  /** The data file that holds the fixed time (data.clock.now), for conftest runs beyond policyArgs. */
  clockFile: string;
  policyArgs: string[];
  catalogue: Catalogue;
  ctx: RuleContext;
}

const same = (a: Verdict, b: Verdict) => JSON.stringify(a) === JSON.stringify(b);

/** Runs the cases through both enforcers, in one batch each. */
export function runCases(cases: FuzzCase[], s: FuzzSetup): FuzzRun {
  const t0 = process.hrtime.bigint();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartorio-fuzz-"));
  const texts = new Map(cases.map((c) => [c.id, caseText(c)]));
  for (const [id, text] of texts) fs.writeFileSync(path.join(dir, `${id}.yaml`), text);
  const rego = conftestVerdicts(s.conftest, dir, s.policyArgs);
  const disagreements: Disagreement[] = [];
  for (const c of cases) {
    const text = texts.get(c.id)!;
    const pack = packVerdict(text, s.catalogue, s.ctx);
    const cf = rego[c.id] ?? { deny: [], warn: [] };
    if (!same(cf, pack)) disagreements.push({ id: c.id, note: c.note, text, conftest: cf, pack });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { cases: cases.length, disagreements, casesPerSecond: cases.length / seconds };
}

/** Every document with one node removed (or a stream with one document less): the next smaller candidates. */
function smaller(docs: Json[]): Json[][] {
  const out: Json[][] = [];
  if (docs.length > 1) docs.forEach((_, i) => out.push(docs.filter((_, j) => j !== i)));
  docs.forEach((d, i) => {
    for (const p of nodes(d)) {
      const copy = structuredClone(docs);
      const parent = parentOf(copy[i], p);
      const key = p[p.length - 1];
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      out.push(copy);
    }
  });
  return out;
}

/**
 * Shrinks a disagreement: tries every one-node-smaller variant in one conftest batch, keeps the smallest
 * that still disagrees, and repeats until none does.
 */
export function minimise(d: Disagreement, s: FuzzSetup): Disagreement {
  let docs = parseAllDocuments(d.text, { version: "1.1" }).map((x) => x.toJS() as Json);
  let current = d;
  for (let round = 0; round < 200; round++) {
    const candidates = smaller(docs).map((c, i) => ({ id: `${d.id}-s${i}`, docs: c, note: d.note }));
    if (candidates.length === 0) break;
    const run = runCases(candidates, s);
    if (run.disagreements.length === 0) break;
    const best = run.disagreements.sort((a, b) => a.text.length - b.text.length)[0];
    current = { ...best, id: d.id };
    docs = parseAllDocuments(best.text, { version: "1.1" }).map((x) => x.toJS() as Json);
  }
  return current;
}

/**
 * What a reproducer must get from both enforcers today. `unknown` when the fuzzer saved it: which enforcer
 * was right is a person's call, and until the verdict is written into the file its replay fails.
 */
export type Expected = Verdict | "unknown";

export interface SaveOptions {
  /** The verdict both enforcers must give (default unknown: the replay fails until someone decides it). */
  expected?: Verdict;
  /** More header lines (without "# "): where the reproducer comes from, what it covers. */
  notes?: string[];
}

const UNDECIDED =
  "unknown (decide which enforcer is right, fix the other, and write the verdict both must give here as JSON)";

/**
 * Saves a minimised disagreement as a fixture (test/fixtures/policy-fuzz/ by default); returns its path.
 * Its header says where it was found, what each enforcer said then, and the verdict both must give
 * (`# expected:`), which the replay checks.
 */
export function saveReproducer(d: Disagreement, seed: number, dir = FUZZ_FIXTURES, opts: SaveOptions = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${d.id}.yaml`);
  const header = [
    `# Found by the policy fuzzer (seed ${seed}, case ${d.id}: ${d.note}), minimised.`,
    `# conftest: ${JSON.stringify(d.conftest)}`,
    `# pack:     ${JSON.stringify(d.pack)}`,
    `# expected: ${opts.expected ? JSON.stringify(opts.expected) : UNDECIDED}`,
    ...(opts.notes ?? []).map((n) => `# ${n}`),
  ].join("\n");
  fs.writeFileSync(file, `${header}\n${d.text}`);
  return file;
}

/** A saved reproducer: its case id (the file's name), its text, and the verdict its header expects. */
export interface Reproducer {
  id: string;
  file: string;
  text: string;
  expected: Expected;
}

/** The header's `# expected:` verdict; unknown when absent, undecided or not a verdict. */
export function expectedVerdict(text: string): Expected {
  const m = /^# expected: (\{.*\})$/m.exec(text);
  if (!m) return "unknown";
  try {
    const v = JSON.parse(m[1]) as Verdict;
    const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === "string");
    return strings(v.deny) && strings(v.warn) ? { deny: [...v.deny].sort(), warn: [...v.warn].sort() } : "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * The reproducers saved in `dir`. Throws when there are none (the folder missing or empty): a replay of
 * nothing would pass while proving nothing.
 */
export function loadReproducers(dir = FUZZ_FIXTURES): Reproducer[] {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")) : [];
  if (files.length === 0)
    throw new Error(
      `no reproducer to replay: ${dir} is ${fs.existsSync(dir) ? "empty" : "missing"} (the corpus is committed; ` +
        "the fuzzer adds to it)",
    );
  return files.sort().map((f) => {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    return { id: path.basename(f, ".yaml"), file: path.join(dir, f), text, expected: expectedVerdict(text) };
  });
}

/** A reproducer that fails its replay, and why. */
export interface ReplayFailure {
  id: string;
  problem: string;
  conftest: Verdict;
  pack: Verdict;
  expected: Expected;
}

/** The time both enforcers judge at in a fuzz run, fixed so no verdict depends on the day it runs. */
export const FUZZ_CLOCK = "2026-12-01T00:00:00Z";

/** Both enforcers as a fuzz run uses them: conftest with the catalogue and a fixed clock, the pack's logic with the same. */
export function fuzzSetup(conftest: string, projectRoot: string, catalogue: Catalogue): FuzzSetup {
  const clock = path.join(tempDir("fuzz-clock"), "clock.yaml");
  fs.writeFileSync(clock, stringify({ clock: { now: FUZZ_CLOCK } }));
  return {
    conftest,
    clockFile: clock,
    policyArgs: [
      "--policy",
      path.join(projectRoot, "policies"),
      "--data",
      path.join(projectRoot, "policies/catalogue.yaml"),
      "--data",
      clock,
    ],
    catalogue,
    ctx: { now: Date.parse(FUZZ_CLOCK), exceptions: catalogue.exceptions },
  };
}

/**
 * The saved reproducers through both enforcers: each must get the same verdict from both, and that verdict
 * must be the one its header expects. Throws when there is no reproducer (loadReproducers).
 */
export function replayReproducers(s: FuzzSetup, dir = FUZZ_FIXTURES): ReplayFailure[] {
  const saved = loadReproducers(dir);
  const rego = conftestVerdicts(s.conftest, dir, s.policyArgs);
  return saved.flatMap((r) => {
    const pack = packVerdict(r.text, s.catalogue, s.ctx);
    const cf = rego[r.id] ?? { deny: [], warn: [] };
    const failure = (problem: string) => [{ id: r.id, problem, conftest: cf, pack, expected: r.expected }];
    if (!same(cf, pack)) return failure("the enforcers disagree");
    if (r.expected === "unknown") return failure("no expected verdict in its header (# expected: {...})");
    if (!same(cf, r.expected)) return failure("both enforcers agree, but not on the expected verdict");
    return [];
  });
}
