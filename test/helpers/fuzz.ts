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
 *
 * The second half of the file is the third oracle: the cluster's own Pod Security admission against both
 * enforcers, on the rules the catalogue maps to the Pod Security Standards (test/policy/psa-oracle.test.ts,
 * `npm run fuzz:psa`; reproducers in test/fixtures/psa-fuzz/).
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import type { Catalogue } from "../../components/policy/catalogue";
import { conftestTest, messages } from "../../components/policy/conftest";
import { evaluateLevels, K8sObject, RuleContext } from "../../components/policy/rules";
import { podMetaRoot, podRoot } from "../../components/policy/shapes";
import { compliant } from "./corpus";
import { eventually, tempDir } from "./tools";

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

const OPS = [
  "null",
  "wrong-type",
  "empty-map",
  "empty-list",
  "remove",
  "extra-key",
  "unicode",
  "huge",
  "base64",
  "yaml11",
] as const;
export type Op = (typeof OPS)[number];

const isMap = (x: Json | undefined): x is { [k: string]: Json } => !!x && typeof x === "object" && !Array.isArray(x);

/**
 * Puts a string YAML 1.1 reads as another type (yes, ~, 0x1F, 1e3 …) where Kubernetes keeps strings: a label,
 * an annotation, a container's env value or args. Returns where; undefined when the document has no such place.
 */
function yaml11(r: () => number, doc: Json): string | undefined {
  if (!isMap(doc)) return undefined;
  const s = pick(r, YAML11_STRINGS);
  const where = pick(r, ["labels", "annotations", "env", "args"]);
  if (where === "labels" || where === "annotations") {
    if (!isMap(doc.metadata)) return undefined;
    if (!isMap(doc.metadata[where])) doc.metadata[where] = {};
    (doc.metadata[where] as { [k: string]: Json })["cartorio.digital/revisado"] = s;
    return `metadata.${where}.cartorio.digital/revisado=${s}`;
  }
  let pod: Json = doc;
  for (const seg of podRoot(String(doc.kind))) pod = isMap(pod) ? pod[seg] : null;
  const c = isMap(pod) && Array.isArray(pod.containers) ? pod.containers[0] : null;
  if (!isMap(c)) return undefined;
  if (where === "env") c.env = [{ name: "VALOR", value: s }];
  else c.args = [s, "--flag", s];
  return `containers[0].${where}=${s}`;
}

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
    case "yaml11": {
      const where = yaml11(r, doc);
      if (where) return `yaml11 ${where}`;
      parent[key] = pick(r, YAML11_STRINGS);
      break;
    }
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

// ---------------------------------------------------------------- Pod Security admission: the third oracle

/**
 * The third oracle: the API server's own Pod Security admission (k8s.io/pod-security-admission, the reference
 * implementation of the Pod Security Standards). Every case is a workload of one of the pod-bearing kinds,
 * made from a compliant base by a few mutations of the fields the standard lists (pod level against
 * container level, values equal to unset, init and ephemeral containers, YAML 1.1 look-alike strings).
 * Its pod (the template's metadata and spec, or the Pod itself) is sent, server-side dry run, to a namespace
 * that enforces `restricted` and to one that enforces `baseline`; the reasons Pod Security admission gives
 * are compared, rule by rule, with the verdicts of conftest and the pack for every catalogue rule that maps to
 * a control of the standard (catalogue `podSecurity`). Reproducers live in test/fixtures/psa-fuzz/.
 */
export const PSA_FIXTURES = path.resolve(__dirname, "../fixtures/psa-fuzz");

export type PssLevel = "baseline" | "restricted";
export const PSS_LEVELS: PssLevel[] = ["baseline", "restricted"];

/**
 * The reasons Pod Security admission gives (the ForbiddenReason of k8s.io/pod-security-admission
 * policy/check_*.go, v0.37), by the standard's control as the catalogue names it ("level: control").
 */
export const PSA_REASONS: Record<string, string[]> = {
  "baseline: HostProcess": ["hostProcess"],
  "baseline: Host Namespaces": ["host namespaces"],
  "baseline: Privileged Containers": ["privileged"],
  "baseline: Capabilities": ["non-default capabilities"],
  "baseline: HostPath Volumes": ["hostPath volumes"],
  "baseline: Host Ports": ["hostPort"],
  "baseline: Host Probes / Lifecycle Hooks": ["probe or lifecycle host"],
  "baseline: AppArmor": ["forbidden AppArmor profile", "forbidden AppArmor profiles"],
  "baseline: SELinux": ["seLinuxOptions"],
  "baseline: /proc Mount Type": ["procMount"],
  "baseline: Seccomp": ["seccompProfile"],
  "baseline: Sysctls": ["forbidden sysctls"],
  "restricted: /proc Mount Type": ["procMount"],
  "restricted: Volume Types": ["restricted volume types"],
  "restricted: Privilege Escalation": ["allowPrivilegeEscalation != false"],
  "restricted: Running as Non-root": ["runAsNonRoot != true"],
  "restricted: Running as Non-root user": ["runAsUser=0"],
  "restricted: Seccomp": ["seccompProfile"],
  "restricted: Capabilities": ["unrestricted capabilities"],
};

/** A catalogue rule mapped to the standard: its controls, and the level it is judged at (the highest). */
export interface PssRule {
  id: string;
  level: PssLevel;
  controls: { level: PssLevel; control: string }[];
}

/** The catalogue's rules that map to a Pod Security control (`podSecurity`). */
export function pssRules(catalogue: Catalogue): PssRule[] {
  return catalogue.rules
    .filter((r) => r.podSecurity && r.enforcement !== "disabled")
    .map((r) => ({
      id: r.id,
      controls: r.podSecurity!,
      level: r.podSecurity!.some((c) => c.level === "restricted") ? "restricted" : "baseline",
    }));
}

/** The digest-pinned image of the base workloads (CART-IMG-001/002 pass). */
const PSS_IMAGE = `registry.cartorio.example/cartorio/api@sha256:${"4f".repeat(32)}`;
const PSS_LABELS = {
  "app.kubernetes.io/name": "psa",
  "app.kubernetes.io/part-of": "cartorio-plataforma",
  "cartorio.digital/owner": "time-seguranca",
  "cartorio.digital/data-classification": "interno",
};
/** The workload kinds whose pods the fuzzer builds. */
export const POD_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"] as const;

const safeContext = (): Json => ({
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
});
/** A container of each list, compliant with the whole rulebook and valid for the API. */
const BASE_CONTAINERS: Record<string, () => Json> = {
  containers: () => ({
    name: "app",
    image: PSS_IMAGE,
    ports: [{ name: "http", containerPort: 8080 }],
    resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "64Mi" } },
    readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
    livenessProbe: { httpGet: { path: "/healthz", port: "http" } },
    securityContext: safeContext(),
  }),
  // No probes or lifecycle hooks: the API refuses them on an init container that is not a sidecar.
  initContainers: () => ({
    name: "init",
    image: PSS_IMAGE,
    resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "64Mi" } },
    securityContext: safeContext(),
  }),
  // No ports, probes, hooks or resources: the API refuses them on an ephemeral container.
  ephemeralContainers: () => ({ name: "debug", image: PSS_IMAGE, securityContext: safeContext() }),
};

/** A compliant workload of `kind` named `name`: what every Pod Security case starts from. */
export function pssBase(kind: string, name: string): Json {
  const spec: { [k: string]: Json } = {
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
    initContainers: [BASE_CONTAINERS.initContainers()],
    containers: [BASE_CONTAINERS.containers()],
    volumes: [{ name: "tmp", emptyDir: {} }],
  };
  const metadata = { name, namespace: "psa", labels: { ...PSS_LABELS } };
  const template = { metadata: { labels: { app: name } }, spec };
  const selector = { matchLabels: { app: name } };
  switch (kind) {
    case "Pod":
      return { apiVersion: "v1", kind, metadata: { ...metadata, labels: { ...PSS_LABELS, app: name } }, spec };
    case "Job":
      spec.restartPolicy = "Never";
      return { apiVersion: "batch/v1", kind, metadata, spec: { template } };
    case "CronJob":
      spec.restartPolicy = "Never";
      return {
        apiVersion: "batch/v1",
        kind,
        metadata,
        spec: { schedule: "0 3 * * *", jobTemplate: { spec: { template } } },
      };
    case "StatefulSet":
      return { apiVersion: "apps/v1", kind, metadata, spec: { serviceName: name, selector, template } };
    default:
      return { apiVersion: "apps/v1", kind, metadata, spec: { selector, template } };
  }
}

/** Strings YAML 1.1 reads as another type (bool, null, int, float, timestamp): they must stay strings. */
export const YAML11_STRINGS = ["yes", "on", "no", "off", "y", "~", "0x1F", "1e3", "2026-12-06"];
/** Those a label value may hold (the API refuses "~"). */
const YAML11_LABELS = YAML11_STRINGS.filter((s) => s !== "~");

/** Removes the field (as opposed to setting it to null). */
const REMOVE = { "<remove>": true } as const;
type Value = Json | typeof REMOVE;

/**
 * One field of a base workload set: where (the pod spec, the pod's metadata, or the document), what. A pod
 * spec path that starts with "*" sets the rest of the path in every container of every list.
 */
export interface FieldSet {
  scope: "pod" | "podMeta" | "doc";
  path: Path;
  value: Value;
}
/** A mutation: one field, or several that only together make the case (the pod says one thing, its containers another). */
export type PodMutation = FieldSet | { all: FieldSet[] };
const fieldSets = (m: PodMutation): FieldSet[] => ("all" in m ? m.all : [m]);

const SECCOMP: Value[] = [
  { type: "RuntimeDefault" },
  { type: "Unconfined" },
  { type: "Localhost", localhostProfile: "perfis/cartorio.json" },
  null,
  REMOVE,
];
const APPARMOR: Value[] = [
  { type: "RuntimeDefault" },
  { type: "Unconfined" },
  { type: "Localhost", localhostProfile: "cartorio" },
  null,
];
const SELINUX: Value[] = [
  { type: "container_t" },
  { type: "container_engine_t" },
  { type: "spc_t" },
  { type: "" },
  { user: "sysadm_u" },
  { user: "" },
  { role: "sysadm_r" },
  { role: "" },
  { level: "s0:c123,c456" },
  {},
  null,
];
const SYSCTLS: Value[] = [
  [],
  null,
  [{ name: "net.ipv4.tcp_syncookies", value: "1" }],
  [{ name: "net.ipv4.tcp_rmem", value: "4096 87380 6291456" }],
  [{ name: "net.ipv4.tcp_notsent_lowat", value: "16384" }],
  [{ name: "net.ipv4.tcp_slow_start_after_idle", value: "0" }],
  [{ name: "kernel.msgmax", value: "65536" }],
  [{ name: "net.core.somaxconn", value: "1024" }],
];
const VOLUMES: Value[] = [
  [],
  null,
  [{ name: "tmp", emptyDir: {} }],
  [
    { name: "tmp", emptyDir: {} },
    { name: "host", hostPath: { path: "/var/run" } },
  ],
  [{ name: "nfs", nfs: { server: "nfs.cartorio.example", path: "/dados" } }],
  [{ name: "img", image: { reference: PSS_IMAGE } }],
  [{ name: "csi", csi: { driver: "secrets-store.csi.k8s.io" } }],
  [
    {
      name: "eph",
      ephemeral: {
        volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
      },
    },
  ],
  [{ name: "dados", persistentVolumeClaim: { claimName: "dados" } }],
  [{ name: "api", projected: { sources: [{ configMap: { name: "api" } }] } }],
  [{ name: "git", gitRepo: { repository: "https://example.invalid/r.git" } }],
];
const HOST_PROCESS: Value[] = [{ hostProcess: true }, { hostProcess: false }, { hostProcess: null }, null];

/** Fields of the pod spec, with the values the generator tries (unsafe, safe, and equal to unset). */
const POD_FIELDS: [Path, Value[]][] = [
  [["hostNetwork"], [true, false, null]],
  [["hostPID"], [true, false, null]],
  [["hostIPC"], [true, false, null]],
  [
    ["securityContext", "runAsNonRoot"],
    [true, false, null, REMOVE],
  ],
  [
    ["securityContext", "runAsUser"],
    [0, 1000, null, REMOVE],
  ],
  [["securityContext", "seccompProfile"], SECCOMP],
  [["securityContext", "appArmorProfile"], APPARMOR],
  [["securityContext", "seLinuxOptions"], SELINUX],
  [["securityContext", "sysctls"], SYSCTLS],
  [["securityContext", "windowsOptions"], HOST_PROCESS],
  [["securityContext"], [null, {}]],
  [["volumes"], VOLUMES],
  // A user namespace: root in the container is not root on the node, and the standard relaxes accordingly.
  [["hostUsers"], [false, true, null]],
];

/** Fields of a container, with the lists they apply to ("c" containers, "i" init, "e" ephemeral). */
const CONTAINER_FIELDS: [Path, Value[], string][] = [
  [["securityContext", "privileged"], [true, false, null], "cie"],
  [["securityContext", "allowPrivilegeEscalation"], [true, false, null, REMOVE], "cie"],
  [
    ["securityContext", "capabilities"],
    [
      { drop: ["ALL"] },
      { drop: [] },
      { drop: ["all"] },
      { drop: ["NET_RAW"] },
      { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
      { drop: ["ALL"], add: ["CHOWN"] },
      { drop: ["ALL"], add: ["SYS_ADMIN"] },
      { drop: ["ALL"], add: [] },
      { drop: ["ALL"], add: null },
      { drop: null },
      { add: ["NET_BIND_SERVICE"] },
      {},
      null,
    ],
    "cie",
  ],
  [["securityContext", "runAsNonRoot"], [true, false, null, REMOVE], "cie"],
  [["securityContext", "runAsUser"], [0, 1000, null], "cie"],
  [["securityContext", "seccompProfile"], SECCOMP, "cie"],
  [["securityContext", "appArmorProfile"], APPARMOR, "cie"],
  [["securityContext", "seLinuxOptions"], SELINUX, "cie"],
  [["securityContext", "procMount"], ["Default", "Unmasked", null, ""], "cie"],
  [["securityContext", "windowsOptions"], HOST_PROCESS, "cie"],
  [["securityContext"], [null, {}], "cie"],
  [
    ["ports"],
    [
      [{ name: "http", containerPort: 8080, hostPort: 0 }],
      [{ name: "http", containerPort: 8080, hostPort: 8080 }],
      [{ name: "http", containerPort: 8080, hostPort: null }],
      [],
      null,
    ],
    "ci",
  ],
  [
    ["readinessProbe"],
    [
      { httpGet: { path: "/readyz", port: 8080, host: "" } },
      { httpGet: { path: "/readyz", port: 8080, host: "10.0.0.1" } },
      { tcpSocket: { port: 8080, host: "169.254.169.254" } },
      { tcpSocket: { port: 8080, host: null } },
    ],
    "c",
  ],
  [
    ["lifecycle"],
    [
      { preStop: { httpGet: { path: "/drain", port: 8080, host: "metadata.google.internal" } } },
      { postStart: { tcpSocket: { port: 8080, host: "" } } },
      { preStop: { sleep: { seconds: 1 } } },
    ],
    "c",
  ],
  [["env"], YAML11_STRINGS.map((v) => [{ name: "VALOR", value: v }]), "cie"],
  [["args"], YAML11_STRINGS.map((v) => [v, "--flag", v]), "cie"],
];

const LIST_OF: Record<string, string> = { c: "containers", i: "initContainers", e: "ephemeralContainers" };

/**
 * Pod level against container level: the pod's value and every container's, one safe and the other not (or
 * equal to unset), as the standard resolves them (a container's setting wins, except where the pod's own
 * unsafe value is refused by itself).
 */
const CONFLICTS: [Path, Value, Value][] = [
  [["securityContext", "runAsNonRoot"], false, true],
  [["securityContext", "runAsNonRoot"], true, false],
  [["securityContext", "runAsNonRoot"], null, true],
  [["securityContext", "runAsUser"], 0, 1000],
  [["securityContext", "runAsUser"], 1000, 0],
  [["securityContext", "seccompProfile"], { type: "Unconfined" }, { type: "RuntimeDefault" }],
  [["securityContext", "seccompProfile"], { type: "RuntimeDefault" }, { type: "Unconfined" }],
  [["securityContext", "seccompProfile"], null, { type: "RuntimeDefault" }],
  [["securityContext", "appArmorProfile"], { type: "Unconfined" }, { type: "RuntimeDefault" }],
  [["securityContext", "appArmorProfile"], { type: "RuntimeDefault" }, { type: "Unconfined" }],
  [["securityContext", "seLinuxOptions"], { type: "spc_t" }, { type: "container_t" }],
  [["securityContext", "seLinuxOptions"], { type: "container_t" }, { type: "spc_t" }],
  [["securityContext", "windowsOptions"], { hostProcess: true }, { hostProcess: false }],
];

/** In a user namespace (hostUsers: false), what the standard relaxes: non-root, runAsUser 0, /proc mount. */
const USER_NAMESPACE: FieldSet[][] = [
  [{ scope: "pod", path: ["*", "securityContext", "procMount"], value: "Unmasked" }],
  [{ scope: "pod", path: ["securityContext", "runAsUser"], value: 0 }],
  [{ scope: "pod", path: ["*", "securityContext", "runAsUser"], value: 0 }],
  [{ scope: "pod", path: ["securityContext", "runAsNonRoot"], value: REMOVE }],
  [{ scope: "pod", path: ["securityContext", "runAsNonRoot"], value: false }],
];

function pssMutation(r: () => number): PodMutation {
  const where = r();
  if (where < 0.03) {
    const hostUsers = pick(r, [false, false, true, null]);
    return { all: [{ scope: "pod", path: ["hostUsers"], value: hostUsers }, ...pick(r, USER_NAMESPACE)] };
  }
  if (where < 0.12) {
    const [p, pod, containers] = pick(r, CONFLICTS);
    return {
      all: [
        { scope: "pod", path: p, value: pod },
        { scope: "pod", path: ["*", ...p], value: containers },
      ],
    };
  }
  if (where < 0.3) {
    const [p, values] = pick(r, POD_FIELDS);
    return { scope: "pod", path: p, value: pick(r, values) };
  }
  if (where < 0.85) {
    const [p, values, lists] = pick(r, CONTAINER_FIELDS);
    // Containers most often; init and ephemeral containers each about one time in four.
    const letters = lists.split("");
    const list = LIST_OF[letters.length > 1 && r() < 0.5 ? "c" : pick(r, letters)];
    return { scope: "pod", path: [list, 0, ...p], value: pick(r, values) };
  }
  if (where < 0.93) {
    // AppArmor by annotation, for a container of the base (the API refuses one naming no container).
    const name = pick(r, ["app", "init"]);
    return {
      scope: "podMeta",
      path: ["annotations", `container.apparmor.security.beta.kubernetes.io/${name}`],
      value: pick(r, ["runtime/default", "unconfined", "localhost/cartorio", "", null]),
    };
  }
  // YAML 1.1 look-alikes in labels and annotations, of the pod and of the document.
  const doc = r() < 0.5;
  const annotation = r() < 0.5;
  return {
    scope: doc ? "doc" : "podMeta",
    path: doc
      ? ["metadata", annotation ? "annotations" : "labels", "cartorio.digital/revisado"]
      : [annotation ? "annotations" : "labels", "cartorio.digital/revisado"],
    value: pick(r, annotation ? YAML11_STRINGS : YAML11_LABELS),
  };
}

const describeValue = (v: Value) => (v === REMOVE ? "<removed>" : JSON.stringify(v));
const describeSet = (m: FieldSet) =>
  `${m.scope === "doc" ? "" : `${m.scope}.`}${m.path.join(".")}=${describeValue(m.value)}`;
export const describeMutation = (m: PodMutation) => fieldSets(m).map(describeSet).join(" + ");

/** A Pod Security case: the base kind and the mutations that make it from pssBase. */
export interface PssCase extends FuzzCase {
  kind: string;
  mutations: PodMutation[];
}

/** The workload a case describes: pssBase(kind) with its mutations applied in order. */
export function applyMutations(kind: string, id: string, mutations: PodMutation[]): Json {
  const doc = pssBase(kind, id);
  const expand = (m: FieldSet): FieldSet[] => {
    if (m.path[0] !== "*") return [m];
    // Every container of every list the pod has at this point.
    let pod: Json = doc;
    for (const seg of podRoot(kind)) pod = pod && typeof pod === "object" ? (pod as Record<string, Json>)[seg] : null;
    const lists = Object.keys(BASE_CONTAINERS).filter((l) => Array.isArray((pod as Record<string, Json> | null)?.[l]));
    return lists.flatMap((l) =>
      ((pod as Record<string, Json[]>)[l] ?? []).map((_, i) => ({ ...m, path: [l, i, ...m.path.slice(1)] })),
    );
  };
  for (const m of mutations.flatMap(fieldSets).flatMap(expand)) {
    const root = m.scope === "pod" ? podRoot(kind) : m.scope === "podMeta" ? podMetaRoot(kind) : [];
    const full = [...root, ...m.path];
    let cur = doc as Record<string | number, Json>;
    for (let i = 0; i < full.length - 1; i++) {
      const seg = full[i];
      let next = cur[seg];
      if (next === null || typeof next !== "object") {
        // A container a mutation names is the base container of its list; any other parent an empty map.
        const list = full[i - 1];
        next =
          typeof seg === "number" && typeof list === "string" && BASE_CONTAINERS[list]
            ? BASE_CONTAINERS[list]()
            : typeof full[i + 1] === "number"
              ? []
              : {};
        cur[seg] = next;
      }
      cur = next as Record<string | number, Json>;
    }
    const key = full[full.length - 1];
    if (m.value === REMOVE) delete cur[key];
    else cur[key] = structuredClone(m.value) as Json;
  }
  return doc;
}

/** A case id Kubernetes accepts as a Pod's name. */
const podName = (id: string) => id.toLowerCase().replace(/[^a-z0-9-]/g, "-");

function pssCase(id: string, kind: string, mutations: PodMutation[], note?: string): PssCase {
  return {
    id,
    kind,
    mutations,
    docs: [applyMutations(kind, podName(id), mutations)],
    note: note ?? `${kind}: ${mutations.map(describeMutation).join("; ")}`,
  };
}

/** `n` Pod Security cases from `seed`: a kind of POD_KINDS, 1-4 mutations of the fields the standard lists. */
export function generatePss(seed: number, n: number): PssCase[] {
  const r = prng(seed);
  const out: PssCase[] = [];
  for (let i = 0; i < n; i++) {
    const kind = pick(r, POD_KINDS);
    const mutations = Array.from({ length: 1 + Math.floor(r() * 4) }, () => pssMutation(r));
    out.push(pssCase(`p${seed}-${String(i).padStart(5, "0")}`, kind, mutations));
  }
  return out;
}

/** The Pod of a workload, as its controller would make it: the template's metadata and spec. */
export function podOfWorkload(doc: Json, name: string, namespace: string): { [k: string]: Json } {
  const kind = String((doc as { kind?: unknown }).kind);
  const at = (p: string[]) =>
    p.reduce<Json>((x, k) => (x && typeof x === "object" ? (x as Record<string, Json>)[k] : null), doc);
  const meta = (at(podMetaRoot(kind)) ?? {}) as Record<string, Json>;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: meta.labels ?? null, annotations: meta.annotations ?? null },
    spec: structuredClone(at(podRoot(kind))),
  };
}

/** The API server's answer to a request. */
export interface ApiAnswer {
  status: number;
  body: { message?: string; reason?: string; [k: string]: unknown };
}
/** A request to the API server (JSON in, JSON out). */
export type ApiCall = (method: string, path: string, body?: unknown, contentType?: string) => Promise<ApiAnswer>;

/** Requests through a kubeconfig's certificates, kept alive and at most `sockets` at a time. */
export async function apiCaller(kubeconfig: string, context: string, sockets = 8): Promise<ApiCall> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  kc.setCurrentContext(context);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`kubeconfig ${kubeconfig}: no cluster for context ${context}`);
  const tls: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const agent = new https.Agent({ keepAlive: true, maxSockets: sockets, ca: tls.ca, cert: tls.cert, key: tls.key });
  return (method, p, body, contentType = "application/json") =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        `${server}${p}`,
        {
          method,
          agent,
          headers: { ...(tls.headers ?? {}), "content-type": contentType, accept: "application/json" },
          timeout: 30_000,
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (text += c));
          res.on("end", () => {
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
            } catch {
              resolve({ status: res.statusCode ?? 0, body: { message: text } });
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${p}: no answer in 30 s`)));
      req.on("error", reject);
      req.end(data);
    });
}

/** Runs `fn` over `items`, at most `width` at a time. */
async function pool<T, R>(items: T[], width: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/**
 * The reasons of a Pod Security refusal: `pods "x" is forbidden: violates PodSecurity "restricted:latest":
 * reason (detail), reason (detail)`, split at the commas outside parentheses.
 */
export function psaReasons(message: string): string[] {
  const m = /violates PodSecurity "[^"]*": ([\s\S]*)$/.exec(message);
  if (!m) return [];
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  const text = m[1];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth = Math.max(0, depth - 1);
    else if (depth === 0 && text.startsWith(", ", i)) {
      items.push(text.slice(start, i));
      start = i + 2;
    }
  }
  items.push(text.slice(start));
  return [...new Set(items.map((s) => s.replace(/ \([\s\S]*$/, "").trim()))].sort();
}

/** What Pod Security admission said of a case's pod at each level, or why the API refused it before. */
export type PsaVerdict = { invalid: string } | Record<PssLevel, string[]>;

/** The namespaces the oracle sends pods to: `enforce` ones, and ephemeral ones (labelled after the pods are made). */
export interface PsaNamespaces {
  enforce: Record<PssLevel, string>;
  ephemeral: Record<PssLevel, string>;
}

export const PSA_NAMESPACES: PsaNamespaces = {
  enforce: { baseline: "psa-baseline", restricted: "psa-restricted" },
  ephemeral: { baseline: "psa-eph-baseline", restricted: "psa-eph-restricted" },
};

const enforceLabels = (level: PssLevel | null) => ({
  "pod-security.kubernetes.io/enforce": level,
  "pod-security.kubernetes.io/enforce-version": level ? "latest" : null,
});

/** Waits until `check` is true, polling every 200 ms, or throws naming `what`. */
const until = (what: string, seconds: number, check: () => Promise<boolean>) =>
  eventually(what, seconds, async () => ((await check()) ? true : undefined), 200);

/**
 * Makes the oracle's namespaces: two that enforce restricted and baseline, two (unlabelled for now) for
 * pods with ephemeral containers, each with its default ServiceAccount (pods are refused until it exists).
 * No ValidatingWebhookConfiguration may be installed: the cluster's OPA webhook would judge the pods too.
 */
export async function preparePsaCluster(api: ApiCall, ns: PsaNamespaces = PSA_NAMESPACES): Promise<void> {
  const hooks = await api("GET", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations");
  if (hooks.status !== 200) throw new Error(`cannot list webhooks: ${hooks.body.message}`);
  const items = (hooks.body.items ?? []) as { metadata: { name: string } }[];
  if (items.length)
    throw new Error(
      `webhooks installed (${items.map((i) => i.metadata.name).join(", ")}): Pod Security must judge alone`,
    );
  for (const level of PSS_LEVELS)
    for (const [name, labels] of [
      [ns.enforce[level], enforceLabels(level)],
      [ns.ephemeral[level], {}],
    ] as const) {
      const res = await api("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, labels },
      });
      if (res.status !== 201 && res.status !== 409) throw new Error(`namespace ${name}: ${res.body.message}`);
      await until(
        `the ServiceAccount ${name}/default`,
        60,
        async () => (await api("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200,
      );
    }
}

const hasEphemeral = (pod: { [k: string]: Json }) => {
  const e = (pod.spec as Record<string, Json> | null)?.ephemeralContainers;
  return Array.isArray(e) && e.length > 0;
};

/** A level's verdict from the API's answer: admitted, refused by Pod Security (its reasons), or invalid. */
function verdictOf(res: ApiAnswer): string[] | { invalid: string } {
  if (res.status >= 200 && res.status < 300) return [];
  const msg = String(res.body.message ?? "");
  if (res.status === 403 && msg.includes("violates PodSecurity")) return psaReasons(msg);
  return { invalid: `${res.status} ${msg}`.slice(0, 300) };
}

/**
 * Pod Security admission's verdicts on the pods of `docs` (by case id), in both levels. A pod without
 * ephemeral containers is created (dry run) in each enforcing namespace. One with them cannot be created so
 * (the API refuses ephemeral containers on create): it is created for real without them in a namespace that
 * enforces nothing, the namespace is then labelled, and the ephemeral containers are added (dry run) through
 * the ephemeralcontainers subresource, which Pod Security judges with the whole pod.
 */
export async function psaVerdicts(
  docs: { id: string; doc: Json }[],
  api: ApiCall,
  ns: PsaNamespaces = PSA_NAMESPACES,
): Promise<Map<string, PsaVerdict>> {
  const out = new Map<string, PsaVerdict>();
  const pods = docs.map(({ id, doc }) => ({ id, pod: podOfWorkload(doc, podName(id), "") }));
  const plain = pods.filter((p) => !hasEphemeral(p.pod));
  const withEphemeral = pods.filter((p) => hasEphemeral(p.pod));
  const record = (id: string, level: PssLevel, v: string[] | { invalid: string }) => {
    const had = out.get(id);
    if (had && "invalid" in had) return;
    if (!Array.isArray(v)) out.set(id, v);
    else out.set(id, { ...(had as Record<PssLevel, string[]>), [level]: v });
  };
  await pool(
    plain.flatMap((p) => PSS_LEVELS.map((level) => ({ ...p, level }))),
    8,
    async ({ id, pod, level }) => {
      const namespace = ns.enforce[level];
      const body = { ...pod, metadata: { ...(pod.metadata as object), namespace } };
      record(id, level, verdictOf(await api("POST", `/api/v1/namespaces/${namespace}/pods?dryRun=All`, body)));
    },
  );
  if (withEphemeral.length) {
    // Unlabel, make the pods without their ephemeral containers, label, then add them (dry run). The pods are
    // real: named for this batch, so a case of the same id in another batch (a minimised one) is another pod.
    const batch = ++ephemeralBatches;
    const made = new Set<string>();
    for (const level of PSS_LEVELS) await labelNamespace(api, ns.ephemeral[level], null);
    await pool(
      withEphemeral.flatMap((p) => PSS_LEVELS.map((level) => ({ ...p, level }))),
      8,
      async ({ id, pod, level }) => {
        const namespace = ns.ephemeral[level];
        const spec = { ...(pod.spec as object), ephemeralContainers: undefined };
        const body = {
          ...pod,
          metadata: { ...(pod.metadata as object), name: `${podName(id)}-b${batch}`, namespace },
          spec,
        };
        const res = await api("POST", `/api/v1/namespaces/${namespace}/pods`, body);
        if (res.status === 201) made.add(`${level}/${id}`);
        else record(id, level, { invalid: `${res.status} ${String(res.body.message)}`.slice(0, 300) });
      },
    );
    for (const level of PSS_LEVELS) await labelNamespace(api, ns.ephemeral[level], level);
    await pool(
      withEphemeral
        .flatMap((p) => PSS_LEVELS.map((level) => ({ ...p, level })))
        .filter((x) => made.has(`${x.level}/${x.id}`)),
      8,
      async ({ id, pod, level }) => {
        const namespace = ns.ephemeral[level];
        const name = `${podName(id)}-b${batch}`;
        const live = await api("GET", `/api/v1/namespaces/${namespace}/pods/${name}`);
        const body = live.body as { spec: Record<string, unknown> };
        body.spec.ephemeralContainers = (pod.spec as Record<string, Json>).ephemeralContainers;
        const res = await api(
          "PUT",
          `/api/v1/namespaces/${namespace}/pods/${name}/ephemeralcontainers?dryRun=All`,
          body,
        );
        record(id, level, verdictOf(res));
      },
    );
  }
  return out;
}

/** Batches of pods with ephemeral containers made so far by this process (their pods' names carry it). */
let ephemeralBatches = 0;

/** Sets (or, with null, removes) a namespace's enforce label, and waits until Pod Security acts on it. */
async function labelNamespace(api: ApiCall, name: string, level: PssLevel | null): Promise<void> {
  const res = await api(
    "PATCH",
    `/api/v1/namespaces/${name}`,
    { metadata: { labels: enforceLabels(level) } },
    "application/merge-patch+json",
  );
  if (res.status !== 200) throw new Error(`label ${name}: ${res.body.message}`);
  // A privileged pod, dry run: refused once the label is seen, admitted once it is gone.
  const probe = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "psa-probe", namespace: name },
    spec: { hostPID: true, containers: [{ name: "c", image: PSS_IMAGE }] },
  };
  await until(`Pod Security to see ${name} ${level ?? "unlabelled"}`, 30, async () => {
    const v = verdictOf(await api("POST", `/api/v1/namespaces/${name}/pods?dryRun=All`, probe));
    return Array.isArray(v) && (level === null ? v.length === 0 : v.length > 0);
  });
}

/** What the rulebook (both enforcers) and Pod Security admission said of one case. */
export interface PsaJudgement {
  id: string;
  note: string;
  text: string;
  /** Mapped rules denied, by each enforcer. */
  conftest: string[];
  pack: string[];
  psa: PsaVerdict;
}

/** One rule on which the rulebook and Pod Security admission disagree at one level. */
export interface PsaDisagreement {
  id: string;
  note: string;
  text: string;
  rule: string;
  level: PssLevel;
  /** Whether the rulebook (both enforcers, or the one named) denies. */
  rulebook: string;
  /** Pod Security admission's reasons at that level. */
  reasons: string[];
  /** "CART-PSS-004: the rulebook denies, Pod Security admits": the kind of disagreement (levels aside). */
  kind: string;
}

/**
 * Compares one judgement, rule by rule. At a level at or above a rule's own, the rule denies exactly when
 * Pod Security gives a reason of one of its controls at that level or below; at a lower level (a restricted
 * rule in a baseline namespace) Pod Security's reason implies the rule denies. Every reason must belong to
 * some rule, and the two enforcers must agree with each other.
 */
export function comparePsa(j: PsaJudgement, rules: PssRule[]): PsaDisagreement[] {
  if ("invalid" in j.psa) return [];
  const out: PsaDisagreement[] = [];
  const base = { id: j.id, note: j.note, text: j.text };
  const rank = (l: PssLevel) => PSS_LEVELS.indexOf(l);
  for (const rule of rules) {
    const c = j.conftest.includes(rule.id);
    const p = j.pack.includes(rule.id);
    if (c !== p) {
      out.push({
        ...base,
        rule: rule.id,
        level: rule.level,
        rulebook: c ? "conftest denies, the pack admits" : "the pack denies, conftest admits",
        reasons: j.psa[rule.level],
        kind: `${rule.id}: the enforcers disagree`,
      });
      continue;
    }
    for (const level of PSS_LEVELS) {
      const reasons = j.psa[level];
      const own = rule.controls
        .filter((x) => rank(x.level) <= rank(level))
        .flatMap((x) => PSA_REASONS[`${x.level}: ${x.control}`] ?? []);
      const psaDenies = reasons.some((r) => own.includes(r));
      const equivalent = rank(rule.level) <= rank(level);
      if (psaDenies === c || (!equivalent && c)) continue;
      out.push({
        ...base,
        rule: rule.id,
        level,
        rulebook: c ? "denies" : "admits",
        reasons,
        kind: `${rule.id}: the rulebook ${c ? "denies" : "admits"}, Pod Security ${psaDenies ? "refuses" : "admits"}`,
      });
    }
  }
  const known = new Set(rules.flatMap((r) => r.controls.flatMap((x) => PSA_REASONS[`${x.level}: ${x.control}`] ?? [])));
  for (const level of PSS_LEVELS)
    for (const reason of j.psa[level].filter((x) => !known.has(x)))
      out.push({
        ...base,
        rule: "<none>",
        level,
        rulebook: "has no rule for it",
        reasons: j.psa[level],
        kind: `no rule maps Pod Security's "${reason}"`,
      });
  return out;
}

/** The rule ids of a verdict's denials, among `ids`. */
const deniedAmong = (v: Verdict, ids: Set<string>) =>
  [...new Set(v.deny.map((m) => /^(CART-[A-Z0-9]+-\d{3}):/.exec(m)?.[1] ?? ""))].filter((x) => ids.has(x)).sort();

export interface PsaSetup extends FuzzSetup {
  api: ApiCall;
  namespaces?: PsaNamespaces;
}

export interface PsaRun {
  cases: number;
  /** Cases the API refused before Pod Security judged them (its own validation), by the first words of why. */
  invalid: Map<string, number>;
  judgements: PsaJudgement[];
  disagreements: PsaDisagreement[];
  seconds: number;
}

/** The cases through conftest, the pack and Pod Security admission (both levels), compared rule by rule. */
export async function runPsaCases(cases: FuzzCase[], s: PsaSetup): Promise<PsaRun> {
  const t0 = process.hrtime.bigint();
  const rules = pssRules(s.catalogue);
  const ids = new Set(rules.map((r) => r.id));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cartorio-psa-fuzz-"));
  const texts = new Map(cases.map((c) => [c.id, caseText(c)]));
  for (const [id, text] of texts) fs.writeFileSync(path.join(dir, `${id}.yaml`), text);
  const rego = conftestVerdicts(s.conftest, dir, s.policyArgs);
  fs.rmSync(dir, { recursive: true, force: true });
  const psa = await psaVerdicts(
    cases.map((c) => ({ id: c.id, doc: c.docs[0] })),
    s.api,
    s.namespaces,
  );
  const invalid = new Map<string, number>();
  const judgements: PsaJudgement[] = [];
  for (const c of cases) {
    const text = texts.get(c.id)!;
    const v = psa.get(c.id) ?? { invalid: "no answer" };
    if ("invalid" in v) {
      const why = v.invalid
        .replace(/^\d+ [^:]*: /, "")
        .replace(/\[|\]/g, "")
        .split(":")[0]
        .slice(0, 60);
      invalid.set(why, (invalid.get(why) ?? 0) + 1);
    }
    judgements.push({
      id: c.id,
      note: c.note,
      text,
      conftest: deniedAmong(rego[c.id] ?? { deny: [], warn: [] }, ids),
      pack: deniedAmong(packVerdict(text, s.catalogue, s.ctx), ids),
      psa: v,
    });
  }
  const disagreements = judgements.flatMap((j) => comparePsa(j, rules));
  return {
    cases: cases.length,
    invalid,
    judgements,
    disagreements,
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
  };
}

/**
 * Shrinks a disagreeing case: drops its mutations one at a time (all candidates of a round in one batch) while
 * a disagreement of the same kind remains. The result is the compliant base plus the fewest mutations.
 */
export async function minimisePsa(
  c: PssCase,
  kind: string,
  s: PsaSetup,
): Promise<{ small: PssCase; disagreements: PsaDisagreement[] }> {
  let current = c;
  for (let round = 0; round < 8 && current.mutations.length > 1; round++) {
    const candidates = current.mutations.map((_, i) =>
      pssCase(
        `${c.id}-m${round}${i}`,
        c.kind,
        current.mutations.filter((__, j) => j !== i),
      ),
    );
    const run = await runPsaCases(candidates, s);
    const still = candidates.find((x) => run.disagreements.some((d) => d.id === x.id && d.kind === kind));
    if (!still) break;
    current = still;
  }
  // Judged once more under its own name: what its header reports.
  const small = pssCase(c.id, c.kind, current.mutations);
  return { small, disagreements: (await runPsaCases([small], s)).disagreements };
}

const PSA_UNDECIDED =
  "unknown (decide whether the rulebook or Pod Security admission is right, fix the rulebook or map the rule " +
  'differently, and write here {"rules": [mapped rules denied], "baseline": [reasons], "restricted": [reasons]})';

/** What a Pod Security reproducer must get: the mapped rules both enforcers deny, and Pod Security's reasons. */
export interface PsaExpected {
  rules: string[];
  baseline: string[];
  restricted: string[];
}

/**
 * Saves a minimised disagreement under test/fixtures/psa-fuzz/; returns its path. `# expected:` is unknown
 * unless given: which side was right is a person's call, and the replay fails until it is written.
 */
export function savePsaReproducer(
  c: FuzzCase,
  ds: PsaDisagreement[],
  seed: number,
  dir = PSA_FIXTURES,
  opts: { expected?: PsaExpected; notes?: string[] } = {},
): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${c.id}.yaml`);
  const header = [
    `# Found by the Pod Security oracle (seed ${seed}, case ${c.id}: ${c.note}), minimised.`,
    ...ds.map((d) => `# disagreement: ${d.kind} (${d.level}; Pod Security's reasons: ${JSON.stringify(d.reasons)})`),
    `# expected: ${opts.expected ? JSON.stringify(opts.expected) : PSA_UNDECIDED}`,
    ...(opts.notes ?? []).map((n) => `# ${n}`),
  ].join("\n");
  fs.writeFileSync(file, `${header}\n${caseText(c)}`);
  return file;
}

export interface PsaReplayFailure {
  id: string;
  problem: string;
  got?: PsaExpected;
  disagreements?: string[];
}

/** The Pod Security reproducers of `dir`: each must be judged alike by the three oracles, as its header expects. */
export async function replayPsaReproducers(s: PsaSetup, dir = PSA_FIXTURES): Promise<PsaReplayFailure[]> {
  const saved = loadReproducers(dir);
  const cases: FuzzCase[] = saved.map((r) => ({
    id: r.id,
    note: "replay",
    docs: parseAllDocuments(r.text, { version: "1.1" }).map((d) => d.toJS() as Json),
  }));
  const run = await runPsaCases(cases, s);
  return saved.flatMap((r) => {
    const j = run.judgements.find((x) => x.id === r.id)!;
    const m = /^# expected: (\{.*\})$/m.exec(r.text);
    if ("invalid" in j.psa) return [{ id: r.id, problem: `the API refused it before Pod Security: ${j.psa.invalid}` }];
    const got: PsaExpected = { rules: j.conftest, baseline: j.psa.baseline, restricted: j.psa.restricted };
    const ds = run.disagreements.filter((d) => d.id === r.id).map((d) => d.kind);
    if (ds.length) return [{ id: r.id, problem: "the oracles disagree", got, disagreements: ds }];
    if (!m) return [{ id: r.id, problem: "no expected verdict in its header (# expected: {...})", got }];
    const want = JSON.parse(m[1]) as PsaExpected;
    const norm = (x: PsaExpected) =>
      JSON.stringify({
        rules: [...x.rules].sort(),
        baseline: [...x.baseline].sort(),
        restricted: [...x.restricted].sort(),
      });
    return norm(want) === norm(got)
      ? []
      : [{ id: r.id, problem: "the oracles agree, but not on the expected verdict", got }];
  });
}
