/**
 * The CrossGuard pack fuzzed as the engine loads it (issue #32, item 2), against conftest:
 *
 * - the pack is policypack/'s own entry point (index.js, its bundle, @pulumi/policy's server) in a process of
 *   its own, spoken to over gRPC as the engine speaks to it: GetAnalyzerInfo, Configure with every policy's
 *   enforcement level and the stack's --policy-pack-config (as the engine reconciles them), Analyze for
 *   each resource and AnalyzeStack for the whole set; its diagnostics are the verdict (policy name, level,
 *   message);
 * - documents become the resources a Pulumi program hands the engine (`kubernetes:<group>/<version>:<Kind>`
 *   and the object as its properties); what no program can hand it (a document that is no object, a kind or
 *   apiVersion that is no Kubernetes name) is left out of both sides, so both judge the same objects;
 * - conftest reads those objects as JSON (what the pack gets, without a YAML reading in between): one file
 *   per object for the single-document rules, and for a set the input `conftest --combine` builds
 *   ([{path, contents}, ...], checked against a real --combine run by the test);
 * - a KmsInventory document is no resource: the pack reads the stack's inventory file (kms.inventory), so an
 *   inventory case is written there and judged by AnalyzeStack's inventory rules, against conftest's
 *   findings of those rules only;
 * - multi-resource sets for the set rules (HPA ↔ Deployment, namespaces ↔ NetworkPolicies, Flux sources ↔
 *   Kustomizations/HelmReleases, Services ↔ Ingress backends, PDB ↔ workloads), coherent and mismatched;
 * - `enginePreview`: the real engine (`pulumi preview --policy-pack policypack`) over a program declaring
 *   the same objects through a render-mode Kubernetes provider.
 *
 * The single-document cases come from test/helpers/fuzz.ts (`generate`), the sets from `generateSets` here.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { stringify } from "yaml";
import { conftestTest, ConftestResult, messages } from "../../components/policy/conftest";
import { compliant } from "./corpus";
import { FuzzCase, prng, Verdict } from "./fuzz";
import { PROJECT_ROOT, tempDir } from "./tools";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const grpc = require("@grpc/grpc-js");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzerproto = require("@pulumi/pulumi/proto/analyzer_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzerrpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const emptyproto = require("google-protobuf/google/protobuf/empty_pb");

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
// Generated documents are edited at deep, loosely typed paths.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

export const PACK_DIR = path.join(PROJECT_ROOT, "policypack");
export const PACK_FIXTURES = path.resolve(__dirname, "../fixtures/pack-fuzz");

/**
 * The policy config a stack's preview passes (--policy-pack-config): PR CI pins CART-KMS-003's clock
 * (.github/workflows/pr.yml); the local stack passes none. A value is a level or {enforcementLevel?, ...}.
 */
export type PackConfig = Record<string, string | Record<string, unknown>>;

export type Level = "advisory" | "mandatory" | "disabled" | "remediate";
const LEVELS: Level[] = ["advisory", "mandatory", "disabled", "remediate"];

export interface PolicyInfo {
  name: string;
  enforcementLevel: Level;
}

export interface Diagnostic {
  policyName: string;
  level: Level;
  message: string;
}

/** A resource as the engine hands it to a policy pack. */
export interface EngineResource {
  type: string;
  name: string;
  urn: string;
  props: Obj;
}

export interface PackServer {
  policies: PolicyInfo[];
  /** Configure as the engine calls it: every policy, its level (config over its own), its properties. */
  configure(config: PackConfig): Promise<void>;
  analyze(r: EngineResource): Promise<Diagnostic[]>;
  analyzeStack(rs: EngineResource[]): Promise<Diagnostic[]>;
  /** The stack's KMS inventory file (cartorio-plataforma:kms.inventory), which the inventory rules read. */
  inventory: string;
  stop(): void;
}

/** A script preloaded into a Node process that pins Date.now (the rules' wall clock) to `now`. */
export function clockPreload(now: string): string {
  const file = path.join(tempDir("pack-clock"), "clock.cjs");
  // Only Date.now: the pack's wall clock is wallClock() (components/policy/rules.ts).
  fs.writeFileSync(file, `const t = ${Date.parse(now)};\nDate.now = () => t;\n`);
  return file;
}

/** The engine's reconciliation of a pack's policies with a stack's policy config (one entry per policy). */
export function engineConfig(
  policies: PolicyInfo[],
  config: PackConfig,
): Record<string, { level: Level; props: Record<string, unknown> }> {
  const out: Record<string, { level: Level; props: Record<string, unknown> }> = {};
  for (const p of policies) {
    const c = config[p.name];
    const given = typeof c === "string" ? { enforcementLevel: c } : (c ?? {});
    const { enforcementLevel, ...props } = given as { enforcementLevel?: Level };
    out[p.name] = { level: enforcementLevel ?? p.enforcementLevel, props };
  }
  return out;
}

/**
 * policypack/ started as the engine starts it (its package's main, index.js, in the pack's folder, which
 * serves @pulumi/policy's Analyzer and prints its port), the clock pinned, the stack's kms config pointing
 * at an inventory file of the caller's (empty until written).
 */
export async function startPack(opts: { now: string; packDir?: string }): Promise<PackServer> {
  const packDir = opts.packDir ?? PACK_DIR;
  const inventory = path.join(tempDir("pack-inventory"), "inventory.yaml");
  fs.writeFileSync(inventory, "");
  const child = spawn(
    process.execPath,
    ["--require", clockPreload(opts.now), "-e", `require("./index.js")`, "127.0.0.1:1"],
    {
      cwd: packDir,
      env: {
        ...process.env,
        // The stack's config, as the engine hands it to the pack (the inventory rules read kms.inventory).
        PULUMI_CONFIG: JSON.stringify({ "cartorio-plataforma:kms": JSON.stringify({ inventory }) }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(out.trim().split("\n")[0]);
    });
    child.once("exit", (code) => reject(new Error(`the pack exited (${code}) before serving: ${stderr}`)));
  });
  const client = new analyzerrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
  });
  const call = <T>(method: string, req: unknown): Promise<T> =>
    new Promise((resolve, reject) =>
      client[method](req, (err: Error | null, resp: T) =>
        err ? reject(new Error(`${method}: ${err.message}\n${stderr}`)) : resolve(resp),
      ),
    );
  const info = await call<{ getPoliciesList(): { getName(): string; getEnforcementlevel(): number }[] }>(
    "getAnalyzerInfo",
    new emptyproto.Empty(),
  );
  const policies = info
    .getPoliciesList()
    .map((p) => ({ name: p.getName(), enforcementLevel: LEVELS[p.getEnforcementlevel()] }));
  const descriptions = new Map<string, string>();
  for (const p of (info as Loose).getPoliciesList()) descriptions.set(p.getName(), p.getDescription());

  const diagnostics = (resp: Loose): Diagnostic[] =>
    resp.getDiagnosticsList().map((d: Loose) => {
      // The SDK reports `<description>\n<message>` (server.js makeReportViolationFun).
      const description = descriptions.get(d.getPolicyname()) ?? "";
      const raw: string = d.getMessage();
      const message = raw.startsWith(`${description}\n`) ? raw.slice(description.length + 1) : raw;
      return { policyName: d.getPolicyname(), level: LEVELS[d.getEnforcementlevel()], message };
    });
  const resourceOf = (r: EngineResource, into: Loose) => {
    into.setType(r.type);
    into.setName(r.name);
    into.setUrn(r.urn);
    into.setProperties(Struct.fromJavaScript(r.props as Loose));
    into.setOptions(new analyzerproto.AnalyzerResourceOptions());
    return into;
  };
  return {
    policies,
    inventory,
    async configure(config) {
      const req = new analyzerproto.ConfigureAnalyzerRequest();
      const map = req.getPolicyconfigMap();
      for (const [name, c] of Object.entries(engineConfig(policies, config))) {
        const pc = new analyzerproto.PolicyConfig();
        pc.setEnforcementlevel(LEVELS.indexOf(c.level));
        pc.setProperties(Struct.fromJavaScript(c.props as Loose));
        map.set(name, pc);
      }
      await call("configure", req);
    },
    async analyze(r) {
      return diagnostics(await call("analyze", resourceOf(r, new analyzerproto.AnalyzeRequest())));
    },
    async analyzeStack(rs) {
      const req = new analyzerproto.AnalyzeStackRequest();
      req.setResourcesList(rs.map((r) => resourceOf(r, new analyzerproto.AnalyzerResource())));
      return diagnostics(await call("analyzeStack", req));
    },
    stop() {
      client.close();
      child.kill("SIGKILL");
    },
  };
}

/** A Kubernetes name as the API accepts for apiVersion and kind (what a type token can carry). */
const API_VERSION = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?\/)?v[0-9]+([a-z0-9]*)$/;
const KIND = /^[A-Za-z][A-Za-z0-9]*$/;

/** The Pulumi type token of a Kubernetes object (the provider's: core/v1 for the core group), if it has one. */
export function typeToken(doc: Json): string | undefined {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return undefined;
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== "string" || typeof kind !== "string") return undefined;
  if (!API_VERSION.test(apiVersion) || !KIND.test(kind)) return undefined;
  return `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${kind}`;
}

/** The inventory the stack's kms config names: not a resource, read by the pack's inventory rules from the file. */
export const isInventory = (doc: Json) =>
  doc !== null && typeof doc === "object" && !Array.isArray(doc) && doc.kind === "KmsInventory";

/** The documents a program can declare as resources (see the header), and how many could not be. */
export function representable(docs: Json[]): { docs: Obj[]; dropped: number } {
  const kept = docs.filter((d): d is Obj => typeToken(d) !== undefined && !isInventory(d));
  return { docs: kept, dropped: docs.length - kept.length };
}

/** A list with a null item, or whose items are maps and something else, or lists and something else. */
function rewrittenList(x: Json): boolean {
  if (x === null || typeof x !== "object") return false;
  if (Array.isArray(x)) {
    const shape = (v: Json) =>
      v === null ? "null" : typeof v !== "object" ? "scalar" : Array.isArray(v) ? "list" : "map";
    const shapes = new Set(x.map(shape));
    if (shapes.has("null") || (shapes.size > 1 && (shapes.has("map") || shapes.has("list")))) return true;
    return x.some(rewrittenList);
  }
  return Object.values(x).some(rewrittenList);
}

/**
 * Objects the Kubernetes provider (v4.25) takes as they are, so what conftest reads of them is what the
 * pack gets: metadata an object with a name (its Check names an unnamed object itself,
 * `<resource name>-<random>`, which conftest can't know, and crashes on metadata that is no object), no
 * list mixing maps or lists with other items (its Check's pruneSlice crashes on those: the preview fails
 * before a policy judges anything after it, refused, never passed), and no null item in a list (it becomes
 * its schema type's zero value, "" or {}: test/policy/pack-fuzz.test.ts KNOWN_ENGINE).
 */
export const providerKeeps = (doc: Obj) => {
  const meta = doc.metadata;
  const named =
    meta !== null &&
    typeof meta === "object" &&
    !Array.isArray(meta) &&
    typeof meta.name === "string" &&
    meta.name !== "";
  return named && !rewrittenList(doc);
};

export function engineResources(id: string, docs: Obj[]): EngineResource[] {
  return docs.map((props, i) => {
    const type = typeToken(props)!;
    const name = `${id}-${i}`;
    return { type, name, urn: `urn:pulumi:fuzz::cartorio-plataforma::${type}::${name}`, props };
  });
}

/** A verdict from diagnostics: mandatory denies, advisory warns; a policy reporting another rule's message says so. */
export function verdictOf(ds: Diagnostic[], unique: boolean): Verdict {
  const deny: string[] = [];
  const warn: string[] = [];
  for (const d of ds) {
    const rule = /^(CART-[A-Z0-9]+-[0-9]{3}):/.exec(d.message)?.[1];
    const text = rule === d.policyName ? d.message : `[policy ${d.policyName}] ${d.message}`;
    if (d.level === "mandatory" || d.level === "remediate") deny.push(text);
    else if (d.level === "advisory") warn.push(text);
    else deny.push(`[level ${d.level}] ${text}`);
  }
  const tidy = (xs: string[]) => (unique ? [...new Set(xs)] : xs).sort();
  return { deny: tidy(deny), warn: tidy(warn) };
}

// ------------------------------------------------------------------------------------------------------
// Cases and the two judges
// ------------------------------------------------------------------------------------------------------

/** A case for the pack-as-wired fuzzer: `object` (each document on its own) or `set` (all at once). */
export interface PackCase {
  id: string;
  mode: "object" | "set";
  docs: Json[];
  note: string;
}

export interface PackDisagreement {
  id: string;
  mode: "object" | "set";
  note: string;
  docs: Json[];
  conftest: Verdict;
  pack: Verdict;
}

export interface Judges {
  conftest: string;
  /** --policy and --data arguments, the clock included (fuzz.ts fuzzSetup's policyArgs). */
  policyArgs: string[];
  pack: PackServer;
  /** The rules that read the stack's inventory (kinds [inventory]): the only ones the pack runs on it. */
  inventoryRules: string[];
}

export interface PackRun {
  cases: number;
  resources: number;
  /** Documents no program can declare (left out of both sides). */
  dropped: number;
  disagreements: PackDisagreement[];
  /** conftest's verdict of each case (what the rules found, agreed or not). */
  conftest: Record<string, Verdict>;
  seconds: number;
}

const same = (a: Verdict, b: Verdict) => JSON.stringify(a) === JSON.stringify(b);
const sortedVerdict = (v: Verdict, unique: boolean): Verdict => {
  const tidy = (xs: string[]) => (unique ? [...new Set(xs)] : [...xs]).sort();
  return { deny: tidy(v.deny), warn: tidy(v.warn) };
};

/** conftest over a folder of JSON inputs: file name (without .json) -> its results. */
function conftestByFile(j: Judges, dir: string, extra: string[] = []): Map<string, ConftestResult[]> {
  const run = conftestTest(j.conftest, [dir, ...j.policyArgs, ...extra], 1024 * 1024 * 1024);
  if ("problem" in run) throw new Error(run.problem);
  const out = new Map<string, ConftestResult[]>();
  for (const r of run.results) {
    const key = path.basename(r.filename).replace(/\.json$/, "");
    out.set(key, [...(out.get(key) ?? []), r]);
  }
  return out;
}

/**
 * A file whose input is what conftest --combine builds from some documents (one {path, contents} per
 * document), so that many sets are judged in one run. Wrapped in one more array: conftest judges each
 * element of a top-level array on its own (as the documents of a YAML stream).
 */
export const combinedInput = (id: string, docs: Json[]) =>
  JSON.stringify([docs.map((contents, i) => ({ path: `${id}/${i}.json`, contents }))]);

/**
 * Judges cases with both enforcers, in one conftest run: `object` cases one file per document, `set` cases
 * their combined input; the pack per resource (Analyze) and, for sets, the stack (AnalyzeStack).
 * Inventory documents of object cases go the pack's way for them: the stack's inventory file.
 */
export async function judge(cases: PackCase[], j: Judges): Promise<PackRun> {
  const t0 = process.hrtime.bigint();
  const dir = fs.mkdtempSync(path.join(tempDir("pack-fuzz"), "cases-"));
  let dropped = 0;
  let resources = 0;
  const forms = cases.map((c) => {
    const inventories = c.mode === "object" ? c.docs.filter(isInventory) : [];
    const r = representable(c.docs);
    dropped += r.dropped - inventories.length;
    resources += r.docs.length;
    if (c.mode === "set") fs.writeFileSync(path.join(dir, `${c.id}.json`), combinedInput(c.id, r.docs));
    else r.docs.forEach((d, i) => fs.writeFileSync(path.join(dir, `${c.id}~${i}.json`), JSON.stringify(d)));
    inventories.forEach((d, i) => fs.writeFileSync(path.join(dir, `${c.id}~inv${i}.json`), JSON.stringify(d)));
    return { c, docs: r.docs, inventories };
  });
  const byFile = conftestByFile(j, dir);
  const disagreements: PackDisagreement[] = [];
  const verdicts: Record<string, Verdict> = {};
  for (const { c, docs, inventories } of forms) {
    const rs = engineResources(c.id, docs);
    const ds: Diagnostic[] = [];
    let cf: Verdict;
    if (c.mode === "set") {
      for (const r of rs) ds.push(...(await j.pack.analyze(r)));
      ds.push(...(await j.pack.analyzeStack(rs)));
      cf = sortedVerdict(messages(byFile.get(c.id) ?? []), true);
    } else {
      const results: ConftestResult[] = [];
      for (let i = 0; i < rs.length; i++) {
        ds.push(...(await j.pack.analyze(rs[i])));
        results.push(...(byFile.get(`${c.id}~${i}`) ?? []));
      }
      for (let i = 0; i < inventories.length; i++) {
        ds.push(...(await inventoryDiagnostics(j, inventories[i])));
        // The pack runs only the inventory rules on the inventory: those are what conftest's are compared with.
        const m = messages(byFile.get(`${c.id}~inv${i}`) ?? []);
        const ofInventory = (xs: string[]) => xs.filter((x) => j.inventoryRules.some((r) => x.startsWith(`${r}:`)));
        results.push({ filename: "inventory", failures: ofInventory(m.deny).map((msg) => ({ msg })) });
        results.push({ filename: "inventory", warnings: ofInventory(m.warn).map((msg) => ({ msg })) });
      }
      cf = sortedVerdict(messages(results), false);
    }
    const pack = verdictOf(ds, c.mode === "set");
    verdicts[c.id] = cf;
    if (!same(cf, pack)) disagreements.push({ id: c.id, mode: c.mode, note: c.note, docs: c.docs, conftest: cf, pack });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    cases: cases.length,
    resources,
    dropped,
    disagreements,
    conftest: verdicts,
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
  };
}

let inventoryVersion = 0;
/** The inventory rules' diagnostics with `doc` as the stack's inventory file (AnalyzeStack, no resource). */
async function inventoryDiagnostics(j: Judges, doc: Json): Promise<Diagnostic[]> {
  // JSON (which a YAML reader reads as written): the very values conftest got.
  fs.writeFileSync(j.pack.inventory, JSON.stringify(doc));
  // The pack re-reads the file when its size or mtime changes: a new mtime every time.
  const t = new Date(Date.UTC(2000, 0, 1) + ++inventoryVersion * 1000);
  fs.utimesSync(j.pack.inventory, t, t);
  const ds = await j.pack.analyzeStack([]);
  fs.writeFileSync(j.pack.inventory, "");
  fs.utimesSync(j.pack.inventory, new Date(t.getTime() + 500), new Date(t.getTime() + 500));
  return ds.filter((d) => j.inventoryRules.includes(d.policyName));
}

/** fuzz.ts's cases as pack cases (each document on its own). */
export const objectCases = (cases: FuzzCase[]): PackCase[] =>
  cases.map((c) => ({ id: c.id, mode: "object", docs: c.docs as Json[], note: c.note }));

// ------------------------------------------------------------------------------------------------------
// Minimising and saving
// ------------------------------------------------------------------------------------------------------

/** Every node of a document, as paths. */
function nodes(x: Json, p: (string | number)[] = []): (string | number)[][] {
  const here = p.length ? [p] : [];
  if (x === null || typeof x !== "object") return here;
  const entries = Array.isArray(x) ? x.map((v, i) => [i, v] as const) : Object.entries(x);
  return [...here, ...entries.flatMap(([k, v]) => nodes(v, [...p, k]))];
}

/** Candidates one step smaller: a document less, or one node less (never apiVersion or kind, which make it a resource). */
function smaller(docs: Json[]): Json[][] {
  const out: Json[][] = [];
  if (docs.length > 1) docs.forEach((_, i) => out.push(docs.filter((_, k) => k !== i)));
  docs.forEach((d, i) => {
    for (const p of nodes(d)) {
      if (p.length === 1 && (p[0] === "apiVersion" || p[0] === "kind")) continue;
      const copy = structuredClone(docs);
      let parent: Loose = copy[i];
      for (const s of p.slice(0, -1)) parent = parent[s];
      const key = p[p.length - 1];
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      out.push(copy);
    }
  });
  return out;
}

const size = (docs: Json[]) => JSON.stringify(docs).length;

/** Shrinks a disagreement: the smallest one-step-smaller variant that still disagrees, until none does. */
export async function minimiseCase(d: PackDisagreement, j: Judges): Promise<PackDisagreement> {
  let current = d;
  for (let round = 0; round < 300; round++) {
    const candidates = smaller(current.docs).map((docs, i) => ({
      id: `${d.id}-s${i}`,
      mode: d.mode,
      docs,
      note: d.note,
    }));
    if (candidates.length === 0) break;
    const run = await judge(candidates, j);
    if (run.disagreements.length === 0) break;
    const best = run.disagreements.sort((a, b) => size(a.docs) - size(b.docs))[0];
    current = { ...best, id: d.id };
  }
  return current;
}

/**
 * A reproducer file (test/fixtures/pack-fuzz/<id>.json): the case, where it was found, what each enforcer
 * said then, and the verdict both must give (`expected`, null until a person decides which one was right:
 * the replay fails until then).
 */
export interface PackReproducer {
  id: string;
  mode: "object" | "set";
  found: string;
  /** Why it is kept: a known disagreement waiting for its fix, or a regression case. */
  notes: string[];
  conftest: Verdict;
  pack: Verdict;
  expected: Verdict | null;
  docs: Json[];
}

export function saveCase(d: PackDisagreement, found: string, dir = PACK_FIXTURES, notes: string[] = []): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${d.id}.json`);
  const r: PackReproducer = {
    id: d.id,
    mode: d.mode,
    found,
    notes,
    conftest: d.conftest,
    pack: d.pack,
    expected: null,
    docs: d.docs,
  };
  fs.writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}

/** The saved reproducers; throws when there are none (a replay of nothing would prove nothing). */
export function loadCases(dir = PACK_FIXTURES): PackReproducer[] {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
  if (files.length === 0)
    throw new Error(`no reproducer to replay: ${dir} is ${fs.existsSync(dir) ? "empty" : "missing"}`);
  return files.sort().map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as PackReproducer);
}

export interface PackReplay {
  id: string;
  problem: string;
  conftest: Verdict;
  pack: Verdict;
  expected: Verdict | null;
}

/** Each reproducer through both: the same verdict from both, the one it expects; `known` ids may disagree. */
export async function replayCases(j: Judges, dir = PACK_FIXTURES): Promise<PackReplay[]> {
  const saved = loadCases(dir);
  const run = await judge(
    saved.map((r) => ({ id: r.id, mode: r.mode, docs: r.docs, note: r.found })),
    j,
  );
  const out: PackReplay[] = [];
  for (const r of saved) {
    const d = run.disagreements.find((x) => x.id === r.id);
    // Agreeing, both verdicts are the one recomputed here (the pack's); disagreeing, the replay says so.
    const verdicts = d ? { conftest: d.conftest, pack: d.pack } : await agreed(r, j);
    const fail = (problem: string) => out.push({ id: r.id, problem, ...verdicts, expected: r.expected });
    if (d) fail("the enforcers disagree");
    else if (!r.expected) fail("no expected verdict (decide which enforcer is right and write it as `expected`)");
    else if (!same(sortedVerdict(r.expected, r.mode === "set"), verdicts.pack))
      fail("both enforcers agree, but not on the expected verdict");
  }
  return out;
}

async function agreed(r: PackReproducer, j: Judges): Promise<{ conftest: Verdict; pack: Verdict }> {
  const rs = engineResources(r.id, representable(r.docs).docs);
  const ds: Diagnostic[] = [];
  for (const x of rs) ds.push(...(await j.pack.analyze(x)));
  if (r.mode === "set") ds.push(...(await j.pack.analyzeStack(rs)));
  for (const inv of r.mode === "object" ? r.docs.filter(isInventory) : [])
    ds.push(...(await inventoryDiagnostics(j, inv)));
  const v = verdictOf(ds, r.mode === "set");
  return { conftest: v, pack: v };
}

// ------------------------------------------------------------------------------------------------------
// conftest --combine itself, for the check that the combined input above is what it builds
// ------------------------------------------------------------------------------------------------------

/** `conftest test --combine` over one file per document of a set: its verdict. */
export function conftestCombined(j: Judges, docs: Json[]): Verdict {
  const dir = tempDir("pack-combine");
  representable(docs).docs.forEach((d, i) => fs.writeFileSync(path.join(dir, `${i}.json`), JSON.stringify(d)));
  const run = conftestTest(j.conftest, [dir, "--combine", ...j.policyArgs]);
  if ("problem" in run) throw new Error(run.problem);
  return sortedVerdict(messages(run.results), true);
}

/** The combined-input form's verdict of the same documents (what judge() reads for a set). */
export function conftestCombinedInput(j: Judges, id: string, docs: Json[]): Verdict {
  const dir = tempDir("pack-combine-input");
  fs.writeFileSync(path.join(dir, `${id}.json`), combinedInput(id, representable(docs).docs));
  const run = conftestTest(j.conftest, [dir, ...j.policyArgs]);
  if ("problem" in run) throw new Error(run.problem);
  return sortedVerdict(messages(run.results), true);
}

// ------------------------------------------------------------------------------------------------------
// Multi-resource sets
// ------------------------------------------------------------------------------------------------------

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** The families of related objects the set rules (and the cross-references the catalogue may grow) look at. */
const FAMILIES = ["scaling", "network", "flux", "exposure", "availability"] as const;
type Family = (typeof FAMILIES)[number];

const fluxMeta = (name: string, namespace: Json = "flux-system") => ({ name, namespace });

/** A coherent family of documents in namespace `ns` (the compliant corpus's, wired to each other). */
function family(f: Family, ns: string): Obj[] {
  const c = compliant(ns) as unknown as Record<string, Loose>;
  const nsDocs = [c.namespace, c.networkpolicy];
  switch (f) {
    case "scaling":
      return [...nsDocs, c.deployment, c.statefulset, c.hpa];
    case "network":
      return [...nsDocs, c.deployment, c.cronjob];
    case "flux": {
      const helmrepo = {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "HelmRepository",
        metadata: fluxMeta("charts"),
        spec: { interval: "10m", url: "https://charts.cartorio.example" },
      };
      const release = {
        apiVersion: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: { name: "api", namespace: ns, labels: c.deployment.metadata.labels },
        spec: {
          interval: "10m",
          chart: {
            spec: { chart: "api", sourceRef: { kind: "GitRepository", name: "flux-system", namespace: "flux-system" } },
          },
        },
      };
      return [c.gitrepository, c.kustomization, ...nsDocs, release, ...(ns.endsWith("1") ? [helmrepo] : [])];
    }
    case "exposure": {
      const ingress = c.ingress;
      ingress.spec.rules = [
        {
          host: `${ns}.cartorio.example`,
          http: {
            paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "api", port: { number: 80 } } } }],
          },
        },
      ];
      c.service.spec.selector = { app: "api" };
      return [...nsDocs, c.deployment, c.service, ingress];
    }
    case "availability":
      c.pdb.spec.selector = { matchLabels: { app: "api" } };
      return [...nsDocs, c.deployment, c.pdb];
  }
}

const ofKind = (docs: Obj[], kind: string) => docs.filter((d) => d.kind === kind) as Loose[];
const isObj = (x: unknown): x is Loose => x !== null && typeof x === "object" && !Array.isArray(x);

/** One mismatch applied to a set: what it did, or undefined when the set had nothing it applies to. */
type SetOp = (r: () => number, docs: Obj[], ns: string) => string | undefined;

const SET_OPS: Record<string, SetOp> = {
  // HPA ↔ Deployment/StatefulSet (CART-SCL-002)
  "replicas on the target": (r, docs) => {
    const t = pick(r, [...ofKind(docs, "Deployment"), ...ofKind(docs, "StatefulSet")]);
    if (!t) return undefined;
    t.spec.replicas = pick(r, [3, 1, 0, null, "2", 2.5]);
    return `${t.kind} ${t.metadata?.name} replicas ${JSON.stringify(t.spec.replicas)}`;
  },
  "renamed target": (r, docs) => {
    const h = ofKind(docs, "HorizontalPodAutoscaler")[0];
    if (!isObj(h?.spec?.scaleTargetRef)) return undefined;
    h.spec.scaleTargetRef.name = pick(r, ["api-v2", "db", "API", "", null]);
    return `scaleTargetRef.name ${JSON.stringify(h.spec.scaleTargetRef.name)}`;
  },
  "retargeted kind": (r, docs) => {
    const h = ofKind(docs, "HorizontalPodAutoscaler")[0];
    if (!isObj(h?.spec?.scaleTargetRef)) return undefined;
    h.spec.scaleTargetRef.kind = pick(r, ["StatefulSet", "deployment", "ReplicaSet", "Rollout", null]);
    if (h.spec.scaleTargetRef.kind === "StatefulSet" && r() < 0.7) h.spec.scaleTargetRef.name = "db";
    return `scaleTargetRef ${JSON.stringify(h.spec.scaleTargetRef)}`;
  },
  "target reference emptied": (r, docs) => {
    const h = ofKind(docs, "HorizontalPodAutoscaler")[0];
    if (!h) return undefined;
    const v = pick(r, [null, {}, "api", [], undefined]);
    if (v === undefined) delete h.spec.scaleTargetRef;
    else h.spec.scaleTargetRef = v;
    return `scaleTargetRef ${JSON.stringify(v)}`;
  },
  // Namespaces ↔ NetworkPolicies (CART-NET-003)
  "default deny loosened": (r, docs) => {
    const np = ofKind(docs, "NetworkPolicy")[0];
    if (!np) return undefined;
    const how = pick(r, ["selector", "types", "ingress rule", "egress rule", "empty rules", "null selector"]);
    if (how === "selector") np.spec.podSelector = { matchLabels: { app: "api" } };
    if (how === "types") np.spec.policyTypes = pick(r, [["Ingress"], ["Egress"], [], null]);
    if (how === "ingress rule") np.spec.ingress = [{}];
    if (how === "egress rule") np.spec.egress = [{ to: [{ podSelector: {} }] }];
    if (how === "empty rules") Object.assign(np.spec, { ingress: [], egress: [] });
    if (how === "null selector") np.spec.podSelector = null;
    return `NetworkPolicy ${how}`;
  },
  "policy in another namespace": (r, docs, ns) => {
    const np = ofKind(docs, "NetworkPolicy")[0];
    if (!np) return undefined;
    const v = pick(r, [`${ns}-outro`, "default", "kube-system", null, undefined]);
    if (v === undefined) delete np.metadata.namespace;
    else np.metadata.namespace = v;
    return `NetworkPolicy namespace ${JSON.stringify(v)}`;
  },
  "workload elsewhere": (r, docs, ns) => {
    const w = pick(r, [...ofKind(docs, "Deployment"), ...ofKind(docs, "CronJob"), ...ofKind(docs, "StatefulSet")]);
    if (!w) return undefined;
    const v = pick(r, [`${ns}-b`, "default", "flux-system", "kube-system", "", null, undefined]);
    if (v === undefined) delete w.metadata.namespace;
    else w.metadata.namespace = v;
    return `${w.kind} namespace ${JSON.stringify(v)}`;
  },
  "namespace renamed": (r, docs, ns) => {
    const n = ofKind(docs, "Namespace")[0];
    if (!n) return undefined;
    n.metadata.name = pick(r, [`${ns}-novo`, "kube-system", "", null]);
    return `Namespace name ${JSON.stringify(n.metadata.name)}`;
  },
  // Flux sources ↔ Kustomizations and HelmReleases (CART-GIT-001/002)
  "foreign source": (r, docs, ns) => {
    const kind = pick(r, ["GitRepository", "OCIRepository", "HelmRepository", "Bucket"]);
    const name = pick(r, ["outra-fonte", "flux-system"]);
    const namespace = pick(r, ["flux-system", ns]);
    const url = kind === "OCIRepository" ? "oci://ghcr.io/atacante/manifests" : "https://github.com/atacante/manifests";
    docs.push({
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind,
      metadata: fluxMeta(name, namespace),
      spec: { interval: "1m", url, ...(kind === "GitRepository" ? { ref: { branch: "main" } } : {}) },
    });
    if (r() < 0.7)
      docs.push({
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: fluxMeta("extra", namespace),
        spec: {
          interval: "10m",
          path: "./",
          prune: true,
          sourceRef: { kind, name, ...(r() < 0.5 ? { namespace } : {}) },
        },
      });
    return `foreign ${kind} ${namespace}/${name}`;
  },
  "source reference changed": (r, docs) => {
    const consumers = [...ofKind(docs, "Kustomization"), ...ofKind(docs, "HelmRelease")];
    const k = pick(r, consumers);
    if (!k) return undefined;
    const ref = k.kind === "Kustomization" ? k.spec.sourceRef : k.spec.chart?.spec?.sourceRef;
    if (!ref) return undefined;
    const how = pick(r, ["name", "namespace", "no namespace", "kind", "chartRef", "null"]);
    if (how === "name") ref.name = "outra-fonte";
    if (how === "namespace") ref.namespace = "cartorio";
    if (how === "no namespace") delete ref.namespace;
    if (how === "kind") ref.kind = pick(r, ["OCIRepository", "HelmRepository", "Bucket", "gitrepository"]);
    if (how === "chartRef" && k.kind === "HelmRelease")
      k.spec.chartRef = { kind: "OCIRepository", name: "flux-system", namespace: "flux-system" };
    if (how === "null") {
      if (k.kind === "Kustomization") k.spec.sourceRef = null;
      else k.spec.chart.spec.sourceRef = null;
    }
    return `${k.kind} ${k.metadata?.name} sourceRef ${how}`;
  },
  "institutional sync moved": (r, docs) => {
    const g = ofKind(docs, "GitRepository").find((x) => x.metadata?.name === "flux-system");
    if (!g) return undefined;
    const how = pick(r, ["url", "namespace", "name"]);
    if (how === "url") g.spec.url = "https://github.com/atacante/infraestrutura";
    if (how === "namespace") g.metadata.namespace = "cartorio";
    if (how === "name") g.metadata.name = "flux-system-2";
    return `GitRepository flux-system ${how} changed`;
  },
  // Services ↔ Ingress backends, PDB ↔ workloads
  "backend renamed": (r, docs) => {
    const i = ofKind(docs, "Ingress")[0];
    const backend = i?.spec?.rules?.[0]?.http?.paths?.[0]?.backend;
    if (!backend) return undefined;
    backend.service.name = pick(r, ["api-v2", "", "outro"]);
    return `Ingress backend ${backend.service.name}`;
  },
  "service exposed": (r, docs) => {
    const s = ofKind(docs, "Service")[0];
    if (!s) return undefined;
    s.spec.type = pick(r, ["NodePort", "LoadBalancer", "ExternalName"]);
    return `Service type ${s.spec.type}`;
  },
  "selector mismatched": (r, docs) => {
    const x = pick(r, [...ofKind(docs, "PodDisruptionBudget"), ...ofKind(docs, "Service")]);
    if (!x) return undefined;
    if (x.kind === "Service") x.spec.selector = { app: "outro" };
    else x.spec.selector = pick(r, [{ matchLabels: { app: "outro" } }, {}, null]);
    return `${x.kind} selector ${JSON.stringify(x.spec.selector)}`;
  },
  "budget blocks evictions": (r, docs) => {
    const p = ofKind(docs, "PodDisruptionBudget")[0];
    if (!p) return undefined;
    Object.assign(p.spec, pick(r, [{ maxUnavailable: 0 }, { minAvailable: "100%" }, { maxUnavailable: "0%" }]));
    return `PDB ${JSON.stringify(p.spec)}`;
  },
  // Any family
  "partner missing": (r, docs) => {
    if (docs.length < 2) return undefined;
    const i = Math.floor(r() * docs.length);
    const [gone] = docs.splice(i, 1);
    return `without ${gone.kind} ${(gone.metadata as Loose)?.name}`;
  },
  duplicate: (r, docs) => {
    const d = structuredClone(pick(r, docs));
    if (r() < 0.5) (d.metadata as Loose).name = `${(d.metadata as Loose).name}-copia`;
    docs.push(d);
    return `duplicate ${d.kind} ${(d.metadata as Loose)?.name}`;
  },
};

/**
 * `n` seeded multi-resource cases: one or two families of related objects (each in a namespace of its own,
 * or sharing one), coherent or with one to three mismatches; about one in six left coherent.
 */
export function generateSets(seed: number, n: number): PackCase[] {
  const r = prng(seed);
  const ops = Object.keys(SET_OPS);
  const cases: PackCase[] = [];
  for (let i = 0; i < n; i++) {
    const id = `s${seed}-${String(i).padStart(5, "0")}`;
    const ns = `${id}-${i % 2}`;
    const fams = [pick(r, FAMILIES), ...(r() < 0.4 ? [pick(r, FAMILIES)] : [])];
    // A second family shares the namespace half the time: objects of both see each other.
    const docs: Obj[] = fams.flatMap((f, k) => family(f, k === 0 || r() < 0.5 ? ns : `${ns}-b`));
    // Identical documents (the namespace of two families) once: two resources of one object are a duplicate op's job.
    const unique = [...new Map(docs.map((d) => [JSON.stringify(d), d])).values()];
    const did: string[] = [`families ${fams.join("+")}`];
    const count = r() < 1 / 6 ? 0 : 1 + Math.floor(r() * 3);
    for (let m = 0; m < count; m++) {
      const op = pick(r, ops);
      const what = SET_OPS[op](r, unique, ns);
      if (what) did.push(`${op}: ${what}`);
    }
    cases.push({ id, mode: "set", docs: unique as Json[], note: did.join("; ") });
  }
  return cases;
}

// ------------------------------------------------------------------------------------------------------
// The real engine
// ------------------------------------------------------------------------------------------------------

export interface EngineRun {
  seconds: number;
  status: number | null;
  /** What the pack reported through the engine (policy events), as a verdict (each message once). */
  verdict: Verdict;
  /** The program's folder (the preview's output in preview.jsonl). */
  dir: string;
  /** The engine's error diagnostics ("preview failed" when a mandatory policy is violated). */
  errors: string[];
  output: string;
}

/**
 * `pulumi preview --policy-pack policypack` with the toolchain's CLI, over a program that declares the
 * given resources (each with its type token, through a render-mode Kubernetes provider, so no cluster) in
 * a file backend of its own. The pack's clock is pinned (NODE_OPTIONS --require), its config is
 * `config` (--policy-pack-config) and the stack's kms.inventory an empty file.
 */
export function enginePreview(opts: {
  cli: string;
  resources: EngineResource[];
  now: string;
  config: PackConfig;
}): EngineRun {
  const dir = tempDir("pack-engine");
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    stringify({ name: "cartorio-plataforma", runtime: { name: "nodejs", options: { typescript: false } } }),
  );
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "pack-fuzz", main: "index.js" }));
  fs.writeFileSync(
    path.join(dir, "index.js"),
    `// The sampled objects as a program declares them: the Kubernetes provider's resources, by type token.
const pulumi = require("@pulumi/pulumi");
const k8s = require("@pulumi/kubernetes");
const provider = new k8s.Provider("render", { renderYamlToDirectory: "rendered" });
for (const r of require("./resources.json")) new pulumi.CustomResource(r.type, r.name, r.props, { provider });
`,
  );
  fs.writeFileSync(path.join(dir, "resources.json"), JSON.stringify(opts.resources));
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  const inventory = path.join(dir, "inventory.yaml");
  fs.writeFileSync(inventory, "");
  fs.writeFileSync(
    path.join(dir, "Pulumi.fuzz.yaml"),
    stringify({ config: { "cartorio-plataforma:kms": { inventory } } }),
  );
  const configFile = path.join(dir, "policy-config.json");
  fs.writeFileSync(configFile, JSON.stringify(opts.config));
  fs.mkdirSync(path.join(dir, "state"));
  const env = {
    ...process.env,
    PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "pack-fuzz",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
    NODE_OPTIONS: `--require ${clockPreload(opts.now)}`,
    PULUMI_ENABLE_STREAMING_JSON_PREVIEW: "true",
  };
  const t0 = Date.now();
  const run = (...args: string[]) =>
    spawnSync(opts.cli, [...args, "--non-interactive"], {
      cwd: dir,
      env,
      encoding: "utf8",
      timeout: 300_000,
      maxBuffer: 512 * 1024 * 1024,
    });
  const init = run("stack", "init", "fuzz");
  if (init.status !== 0) throw new Error(`pulumi stack init failed: ${init.stdout}${init.stderr}`);
  // Engine events as JSON lines (policy events among them): the CLI's streaming JSON preview.
  const res = run(
    "preview",
    "--stack",
    "fuzz",
    "--policy-pack",
    PACK_DIR,
    "--policy-pack-config",
    configFile,
    "--json",
  );
  // Kept beside the program (CARTORIO_KEEP_TEMP=1 keeps the folder) for a look at what the engine did.
  fs.writeFileSync(path.join(dir, "preview.jsonl"), `${res.stdout}\n${res.stderr}`);
  const ds: Diagnostic[] = [];
  const errors: string[] = [];
  for (const line of (res.stdout ?? "").split("\n").filter((l) => l.startsWith("{"))) {
    const e = JSON.parse(line);
    const p = e.policyEvent;
    // The engine prints `<description>\n<message>\n`.
    if (p)
      ds.push({
        policyName: p.policyName,
        level: p.enforcementLevel,
        message: p.message.replace(/^[^\n]*\n/, "").trimEnd(),
      });
    if (e.diagnosticEvent?.severity === "error") errors.push(e.diagnosticEvent.message.trim());
  }
  return {
    seconds: (Date.now() - t0) / 1000,
    status: res.status,
    verdict: verdictOf(ds, true),
    dir,
    errors,
    output: `${res.stdout}${res.stderr}`,
  };
}
