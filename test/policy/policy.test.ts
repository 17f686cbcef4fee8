/**
 * One rulebook, two enforcers: the real conftest binary with policies/*.rego and
 * the pack's rule logic (components/policy/rules.ts) give the same verdicts, word
 * for word, on the whole corpus (test/helpers/corpus.ts).
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { audit, auditedObjects } from "../../components/policy/audit";
import { loadCatalogue } from "../../components/policy/catalogue";
import { ConftestResult, conftestTest, messages } from "../../components/policy/conftest";
import { evaluateLevels, K8sObject, RULE_IDS, SET_RULES } from "../../components/policy/rules";
import { catalogueDataRego, DATA_REGO } from "../../scripts/ops/policy-data";
import { compliant, corpus, Fixture } from "../helpers/corpus";
import { fuzzSetup } from "../helpers/fuzz";
import { PROJECT_ROOT, tempDir, toolsBin } from "../helpers/tools";

const conftest = path.join(toolsBin(), "conftest");
const catalogue = loadCatalogue();
/**
 * Both enforcers as the fuzzer sets them up: the catalogue, and a fixed time (FUZZ_CLOCK) to judge
 * cryptoperiods and exceptions at, so no verdict depends on the day the tests run (the real inventory's
 * calendar is `npm run kms:expiry`'s job). conftest reads it as data.clock.now from clockFile.
 */
const { ctx: CTX, policyArgs: POLICY_ARGS, clockFile } = fuzzSetup(conftest, PROJECT_ROOT, catalogue);

function runConftest(args: string[]): ConftestResult[] {
  if (!fs.existsSync(conftest)) throw new Error(`conftest is not built at ${conftest}: run scripts/toolchain/build.sh`);
  const run = conftestTest(conftest, [...args, ...POLICY_ARGS]);
  if ("problem" in run) throw new Error(run.problem);
  return run.results;
}

const ruleOf = (msg: string) =>
  /^(warn )?(CART-[A-Z0-9]+-\d{3}):/.exec(msg)?.slice(1).join("") ?? `<no rule id> ${msg}`;

/** fixture id -> sorted messages, from both enforcers; a warning (advisory rule) is prefixed "warn ". */
let rego: Record<string, string[]>;
let pack: Record<string, string[]>;
const levelled = (r: ConftestResult) =>
  [...(r.failures ?? []).map((x) => x.msg), ...(r.warnings ?? []).map((x) => `warn ${x.msg}`)].sort();
const packLevelled = (docs: K8sObject[], mode: "object" | "set") => {
  const v = evaluateLevels(docs, catalogue, mode, CTX);
  return [...v.deny, ...v.warn.map((m) => `warn ${m}`)].sort();
};
let fixtures: Fixture[];

const ENFORCE = "pod-security.kubernetes.io/enforce";
/**
 * The corpus's Namespaces as the platform declares them (components/scaling/objects.ts): enforcing Pod Security
 * restricted (CART-PSS-016). Only where the labels are a map without that label; the rest stay as they are.
 */
function enforcingRestricted(f: Fixture): Fixture {
  const docs = f.docs.map((d) => {
    const labels = d?.kind === "Namespace" ? d.metadata?.labels : undefined;
    if (!labels || typeof labels !== "object" || Array.isArray(labels) || ENFORCE in labels) return d;
    return { ...d, metadata: { ...d.metadata, labels: { ...labels, [ENFORCE]: "restricted" } } };
  });
  return { ...f, docs };
}

/** What the Pod Security oracle found (test/fixtures/psa-fuzz/), and CART-PSS-016, for the word-for-word parity. */
function podSecurityFixtures(): Fixture[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const workload = (id: string, edit: (pod: any, template: any) => void, note: string): Fixture => {
    const d = structuredClone(compliant(id).deployment) as K8sObject;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const template = (d.spec as any).template;
    edit(template.spec, template);
    return { id, mode: "object", docs: [d], note };
  };
  const namespace = (id: string, extra: Record<string, string>, note: string, name = id): Fixture => {
    const ns = compliant(id).namespace;
    return {
      id,
      mode: "object",
      docs: [{ ...ns, metadata: { name, labels: { ...ns.metadata!.labels!, ...extra } } }],
      note,
    };
  };
  return [
    namespace("pss016-none", {}, "violates CART-PSS-016 (no enforce label)"),
    namespace("pss016-baseline", { [ENFORCE]: "baseline" }, "violates CART-PSS-016 (baseline is not restricted)"),
    namespace("pss016-restricted", { [ENFORCE]: "restricted" }, "compliant namespace enforcing restricted"),
    namespace("pss016-kube-system", {}, "compliant kube-system (exempt from CART-PSS-016)", "kube-system"),
    namespace("pss016-flux-system", {}, "compliant flux-system (CART-PSS-016 excepted)", "flux-system"),
    workload("pss004-zero", (pod) => (pod.containers[0].ports[0].hostPort = 0), "compliant: hostPort 0 is unset"),
    workload(
      "pss004-host-network",
      (pod) => (pod.hostNetwork = true),
      "violates CART-PSS-004 (hostNetwork sets hostPort to the containerPort)",
    ),
    workload(
      "pss006-pod-false",
      (pod) => {
        pod.securityContext.runAsNonRoot = false;
        for (const x of [...pod.containers, ...pod.initContainers]) x.securityContext.runAsNonRoot = true;
      },
      "violates CART-PSS-006 (the pod's runAsNonRoot false)",
    ),
    workload(
      "pss006-user-namespace",
      (pod) => {
        pod.hostUsers = false;
        pod.securityContext.runAsUser = 0;
        delete pod.securityContext.runAsNonRoot;
      },
      "compliant: a user namespace may run as root",
    ),
    workload(
      "pss008-pod-unconfined",
      (pod) => {
        pod.securityContext.seccompProfile = { type: "Unconfined" };
        for (const x of [...pod.containers, ...pod.initContainers])
          x.securityContext.seccompProfile = { type: "RuntimeDefault" };
      },
      "violates CART-PSS-008 (the pod's own profile)",
    ),
    workload(
      "pss010-empty",
      (_, template) => (template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/api"] = ""),
      "compliant: an empty AppArmor annotation is unset",
    ),
  ];
}

describe("rulebook parity (conftest vs the pack's logic)", () => {
  beforeAll(() => {
    fixtures = [...corpus().map(enforcingRestricted), ...podSecurityFixtures()];
    const dir = tempDir("corpus");
    const objectIds = fixtures.filter((f) => f.mode === "object");
    fs.mkdirSync(path.join(dir, "objects"));
    for (const f of objectIds) fs.writeFileSync(path.join(dir, "objects", `${f.id}.yaml`), stringify(f.docs[0]));

    rego = {};
    pack = {};
    // Single documents: one conftest run over every file, verdicts per file.
    for (const r of runConftest([path.join(dir, "objects")])) {
      rego[path.basename(r.filename, ".yaml")] = levelled(r);
    }
    for (const f of objectIds) pack[f.id] = packLevelled(f.docs, "object");

    // Sets of documents: conftest --combine per fixture, every rule.
    for (const f of fixtures.filter((x) => x.mode === "set")) {
      const sub = path.join(dir, "sets", f.id);
      fs.mkdirSync(sub, { recursive: true });
      f.docs.forEach((d, i) => fs.writeFileSync(path.join(sub, `doc-${i}.yaml`), stringify(d)));
      const [combined] = runConftest([sub, "--combine"]);
      rego[f.id] = levelled(combined);
      pack[f.id] = packLevelled(f.docs, "set");
    }
  });

  it("every catalogue rule exists on both sides, and nothing else does", () => {
    const regoRules = fs
      .readdirSync(path.join(PROJECT_ROOT, "policies"))
      .filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego"))
      .flatMap((f) => [
        ...fs
          .readFileSync(path.join(PROJECT_ROOT, "policies", f), "utf8")
          .matchAll(/^deny_(cart_[a-z0-9]+_\d{3}) contains/gm),
      ])
      .map((m) => m[1].toUpperCase().replace(/_/g, "-"));
    const ids = catalogue.rules.map((r) => r.id).sort();
    expect([...new Set(regoRules)].sort()).toEqual(ids);
    expect(RULE_IDS).toEqual(ids);
    for (const r of catalogue.rules) expect(r.kinds.includes("set"), r.id).toBe(r.id in SET_RULES);
  });

  it("the verdict matrix (fixture × rule id) is identical", () => {
    const matrix = (m: Record<string, string[]>) =>
      Object.fromEntries(fixtures.map((f) => [f.id, [...new Set((m[f.id] ?? []).map(ruleOf))].sort()]));
    expect(Object.keys(rego).sort()).toEqual(fixtures.map((f) => f.id).sort());
    expect(matrix(rego)).toEqual(matrix(pack));
  });

  it("the messages are identical, word for word", () => {
    const differing = fixtures.filter((f) => JSON.stringify(rego[f.id]) !== JSON.stringify(pack[f.id]));
    expect(differing.map((f) => ({ fixture: f.id, note: f.note, conftest: rego[f.id], pack: pack[f.id] }))).toEqual([]);
  });

  it("the corpus holds, for every rule, a compliant case and a violating one", () => {
    const compliantIds = fixtures.filter((f) => f.note.startsWith("compliant")).map((f) => f.id);
    for (const id of compliantIds) expect(rego[id], fixtures.find((f) => f.id === id)!.note).toEqual([]);
    // CART-EXC-001 judges the catalogue's exceptions, not documents: "exceptions" below covers it.
    for (const rule of catalogue.rules.filter((r) => r.id !== "CART-EXC-001")) {
      const failing = fixtures.filter((f) =>
        rego[f.id].some((m) => m.startsWith(`${rule.id}:`) || m.startsWith(`warn ${rule.id}:`)),
      );
      expect(failing.length, `no fixture violates ${rule.id}`).toBeGreaterThan(0);
      expect(
        fixtures.filter((f) => f.note === `violates ${rule.id}` || f.note.startsWith(`violates ${rule.id} `)).length,
        rule.id,
      ).toBeGreaterThan(0);
    }
    const mutations = fixtures.filter((f) => f.id.startsWith("m-"));
    expect(mutations.length).toBeGreaterThan(300);
    // Most single-field mutations of compliant documents are caught by some rule.
    expect(mutations.filter((f) => rego[f.id].length > 0).length).toBeGreaterThan(100);
  });

  it("every message starts with its rule id", () => {
    for (const msgs of Object.values(rego)) for (const m of msgs) expect(m).toMatch(/^(warn )?CART-[A-Z0-9]+-\d{3}: /);
  });
});

describe("CART-PSS-016 in the live audit", () => {
  it("reports a namespace that does not enforce restricted, under its own name; kube-system and flux-system (excepted) pass", () => {
    const ns = (name: string, labels: Record<string, string> = {}) => {
      // The corpus's labels without its enforce label: each case says its own.
      const { [ENFORCE]: _enforce, ...base } = compliant(name).namespace.metadata!.labels!;
      return { metadata: { name, uid: name, labels: { ...base, ...labels } } };
    };
    const objects = auditedObjects([
      {
        kind: "Namespace",
        items: [
          ns("cartorio", { [ENFORCE]: "restricted" }),
          ns("legado", { [ENFORCE]: "baseline" }),
          ns("kube-system"),
          ns("flux-system"),
          ns("sem-rotulo"),
        ] as never[],
      },
    ]);
    const report = audit(objects, catalogue, CTX);
    const pss016 = Object.entries(report.byNamespace).flatMap(([where, fs]) =>
      fs
        .filter((f) => f.message.startsWith("CART-PSS-016"))
        .map((f) => `${where}: ${f.level} ${f.message.split(";")[0]}`),
    );
    expect(pss016.sort()).toEqual([
      "legado: deny CART-PSS-016: Namespace legado: enforces Pod Security baseline, not restricted",
      "sem-rotulo: deny CART-PSS-016: Namespace sem-rotulo: does not enforce Pod Security (no enforce label)",
    ]);
  });
});

describe("the Rego rules", () => {
  it("pass their unit tests (conftest verify)", () => {
    const out = execFileSync(conftest, ["verify", ...POLICY_ARGS, "--no-color"], { encoding: "utf8" });
    expect(out).toMatch(/(\d+) tests, \1 passed, 0 warnings, 0 failures/);
    expect(Number(/(\d+) tests/.exec(out)![1])).toBeGreaterThanOrEqual(catalogue.rules.length);
  });

  it("pass on the repository's manifests, key inventories and the Flux path", () => {
    const targets = ["manifests", "clusters", "infrastructure", "configs/kms"].map((p) => path.join(PROJECT_ROOT, p));
    const results = runConftest(targets);
    expect(results.flatMap((r) => r.failures ?? [])).toEqual([]);
    expect(results.length).toBeGreaterThan(4);
  });

  it("npm run policy:check, the PR's command, passes on the repository and fails on a seeded violation", () => {
    const script = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")).scripts["policy:check"];
    expect(script).toBe("bash scripts/with-node.sh node scripts/ops/run.mjs policy-check");
    const copy = tempDir("policy-check");
    for (const d of ["manifests", "clusters", "infrastructure", "configs", "policies"])
      fs.cpSync(path.join(PROJECT_ROOT, d), path.join(copy, d), { recursive: true });
    // As the PR's conftest job runs it (with --root on the copy, so a violation can be seeded there).
    const run = () =>
      spawnSync(
        process.execPath,
        [
          path.join(PROJECT_ROOT, "scripts/ops/run.mjs"),
          "policy-check",
          "--root",
          copy,
          "--data",
          clockFile,
          "--output",
          "github",
        ],
        { cwd: PROJECT_ROOT, encoding: "utf8", env: { ...process.env, PATH: `${toolsBin()}:${process.env.PATH}` } },
      );
    const clean = run();
    expect(clean.stdout).not.toMatch(/::error/);
    expect(clean.status, clean.stdout + clean.stderr).toBe(0);
    // A Deployment that also sets spec.replicas: a set rule (CART-SCL-002), which only --combine sees.
    const dep = path.join(copy, "manifests/cartorio-api/deployment.yaml");
    fs.writeFileSync(dep, fs.readFileSync(dep, "utf8").replace(/^spec:\n/m, "spec:\n  replicas: 2\n"));
    const seeded = run();
    expect(seeded.status).toBe(1);
    expect(seeded.stdout).toMatch(
      /::error file=.*::CART-SCL-002: Deployment cartorio\/cartorio-api: sets spec\.replicas \(2\)/,
    );
  });

  it("judge what a stack applied (scripts/ops/declared.mjs) without secret values, and keep its shape", () => {
    // A state export as the engine writes it: a Secret whose whole data map is one secret value.
    const SECRET_SIG = "4dabf18193072939515e22adb298388d";
    const exported = {
      deployment: {
        resources: [
          {
            type: "kubernetes:core/v1:Secret",
            outputs: {
              apiVersion: "v1",
              kind: "Secret",
              metadata: { name: "flux-system", namespace: "flux-system" },
              data: { [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:abc" },
            },
          },
        ],
      },
    };
    const out = tempDir("declared");
    const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, "scripts/ops/declared.mjs"), out], {
      input: JSON.stringify(exported),
      encoding: "utf8",
    });
    expect(res.status, res.stderr).toBe(0);
    const text = fs.readFileSync(path.join(out, "secret-flux-system-flux-system.json"), "utf8");
    expect(text).not.toContain("v1:abc");
    expect(JSON.parse(text).metadata.annotations["cartorio.digital/declared-redacted"]).toBe("data");
    expect(runConftest([out]).flatMap((r) => (r.failures ?? []).map((f) => f.msg))).toEqual([]);
  });

  it("judge what the API stored, whatever YAML 1.1 would make of it: label and annotation strings such as yes, on, ~, 0x1F", () => {
    // As after a label put by hand on the HPA and pulumi refresh: the API stored strings.
    const tricky = ["yes", "on", "no", "off", "y", "~", "0x1F", "1e3", "2026-12-06"];
    const exported = {
      deployment: {
        resources: [
          {
            type: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
            outputs: {
              apiVersion: "autoscaling/v2",
              kind: "HorizontalPodAutoscaler",
              metadata: {
                name: "cartorio-api",
                namespace: "cartorio",
                labels: {
                  "app.kubernetes.io/name": "cartorio-api",
                  "app.kubernetes.io/part-of": "cartorio-plataforma",
                  "cartorio.digital/owner": "time-aplicacao",
                  "cartorio.digital/data-classification": "confidencial",
                  ...Object.fromEntries(tricky.map((v, i) => [`cartorio.digital/revisado-${i}`, v])),
                },
                annotations: Object.fromEntries(tricky.map((v, i) => [`cartorio.digital/nota-${i}`, v])),
              },
              spec: {
                minReplicas: 3,
                maxReplicas: 20,
                scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "cartorio-api" },
              },
            },
          },
        ],
      },
    };
    const out = tempDir("declared-yaml11");
    const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, "scripts/ops/declared.mjs"), out], {
      input: JSON.stringify(exported),
      encoding: "utf8",
    });
    expect(res.status, res.stderr).toBe(0);
    const msgs = runConftest([out]).flatMap((r) => (r.failures ?? []).map((f) => f.msg));
    expect(msgs.filter((m) => m.startsWith("CART-K8S-002"))).toEqual([]);
  });

  it("report a document without kind and an unknown kind instead of passing them", () => {
    const dir = tempDir("badkind");
    fs.writeFileSync(
      path.join(dir, "a.yaml"),
      "apiVersion: v1\nmetadata: {name: sem-kind}\n---\napiVersion: v1\nkind: Confimap\nmetadata: {name: typo}\n",
    );
    const msgs = runConftest([dir]).flatMap((r) => (r.failures ?? []).map((x) => x.msg));
    expect(msgs).toContain("CART-K8S-001: <no kind> sem-kind: the document has no kind");
    expect(msgs).toContain(
      "CART-K8S-001: Confimap typo: kind Confimap is not in the rulebook; fix the spelling or add it to parameters.knownKinds",
    );
  });

  it("that cannot be loaded give a problem with conftest's own words, never an empty verdict", () => {
    const dir = tempDir("conftest-broken");
    fs.writeFileSync(path.join(dir, "doc.yaml"), "kind: Pod\n");
    fs.mkdirSync(path.join(dir, "policies"));
    fs.writeFileSync(path.join(dir, "policies/broken.rego"), "package main\ndeny[msg] { syntax error\n");
    const run = conftestTest(conftest, [path.join(dir, "doc.yaml"), "--policy", path.join(dir, "policies")]);
    expect("problem" in run && run.problem).toMatch(/no JSON result \(exit 1: .*rego_parse_error/s);
    const ok = conftestTest(conftest, [path.join(dir, "doc.yaml"), ...POLICY_ARGS]);
    expect("results" in ok && ok.results).toHaveLength(1);
  });

  it("run without --data too, from the generated copy of the catalogue, which is up to date", () => {
    expect(fs.readFileSync(DATA_REGO, "utf8"), "run npm run policy:data").toBe(catalogueDataRego());
    const verify = execFileSync(conftest, ["verify", "--policy", path.join(PROJECT_ROOT, "policies"), "--no-color"], {
      encoding: "utf8",
    });
    expect(verify).toMatch(/(\d+) tests, \1 passed, 0 warnings, 0 failures/);
    // The bare command still catches a violation: nothing passes for lack of parameters.
    const dir = tempDir("nodata");
    fs.writeFileSync(
      path.join(dir, "svc.yaml"),
      "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: cartorio}\nspec: {type: NodePort}\n",
    );
    const res = spawnSync(conftest, ["test", dir, "--policy", path.join(PROJECT_ROOT, "policies"), "--no-color"], {
      encoding: "utf8",
    });
    expect(res.status).toBe(1);
    expect(res.stdout).toContain("CART-NET-001: Service cartorio/api: type NodePort exposes the service on every node");
    expect(res.stdout).toContain("CART-LGPD-001: Service cartorio/api: lacks the label cartorio.digital/owner");
  });
});

describe("exceptions (catalogue.exceptions), honoured alike by both enforcers", () => {
  /** A catalogue copy with the given exceptions, for conftest --data; the pack's side gets the same list. */
  function withExceptions(exceptions: unknown[]) {
    const file = path.join(tempDir("exceptions"), "catalogue.yaml");
    const doc = { catalogue: { ...catalogue, exceptions } };
    fs.writeFileSync(file, stringify(doc));
    return { file, list: loadCatalogue(file).exceptions };
  }
  const base = { owner: "time-infraestrutura", reason: "digests cannot be read from this network yet" };
  // Two workloads whose image is tag-pinned: one in flux-system, one in cartorio.
  function docs(): K8sObject[] {
    const c = compliant("cartorio");
    const dep = (ns: string, name: string) => {
      const d = structuredClone(c.deployment) as K8sObject;
      d.metadata = { ...d.metadata, name, namespace: ns };
      const pod = (d.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec;
      pod.containers[0].image = "ghcr.io/fluxcd/source-controller:v1.9.5";
      return d;
    };
    return [dep("flux-system", "source-controller"), dep("cartorio", "cartorio-api")];
  }
  function both(exceptions: unknown[]) {
    const { file, list } = withExceptions(exceptions);
    const dir = tempDir("exception-docs");
    docs().forEach((d, i) => fs.writeFileSync(path.join(dir, `doc-${i}.yaml`), stringify(d)));
    const run = conftestTest(conftest, [
      dir,
      "--combine",
      "--policy",
      path.join(PROJECT_ROOT, "policies"),
      "--data",
      file,
      "--data",
      clockFile,
    ]);
    if ("problem" in run) throw new Error(run.problem);
    const regoMsgs = messages(run.results).deny.sort();
    const packMsgs = evaluateLevels(docs(), catalogue, "set", { now: CTX.now, exceptions: list }).deny;
    return {
      rego: regoMsgs.filter((m) => /CART-(IMG|EXC)/.test(m)),
      pack: packMsgs.filter((m) => /CART-(IMG|EXC)/.test(m)),
    };
  }
  const flux =
    "CART-IMG-001: Deployment flux-system/source-controller: container api image ghcr.io/fluxcd/source-controller:v1.9.5 is not pinned by digest";
  const api =
    "CART-IMG-001: Deployment cartorio/cartorio-api: container api image ghcr.io/fluxcd/source-controller:v1.9.5 is not pinned by digest";

  it("without exceptions, both report both findings", () => {
    const r = both([]);
    expect(r.rego).toEqual([api, flux].sort());
    expect(r.pack).toEqual(r.rego);
  });

  it("an exception in force hides exactly the findings in its scope, on both", () => {
    const r = both([
      { ...base, rule: "CART-IMG-001", scope: { namespace: "flux-system", kind: "Deployment" }, expires: "2027-03-01" },
    ]);
    expect(r.rego).toEqual([api]);
    expect(r.pack).toEqual(r.rego);
  });

  it("a scope by name, or another rule's exception, hides nothing else", () => {
    const r = both([
      { ...base, rule: "CART-IMG-001", scope: { name: "outro" }, expires: "2027-03-01" },
      { ...base, rule: "CART-IMG-002", scope: { namespace: "flux-system" }, expires: "2027-03-01" },
    ]);
    expect(r.rego).toEqual([api, flux].sort());
    expect(r.pack).toEqual(r.rego);
  });

  it("an expired exception excepts nothing and is itself a violation (CART-EXC-001), on both", () => {
    // The test clock is 2026-12-01: an exception whose expiry day is that day is over.
    const r = both([
      { ...base, rule: "CART-IMG-001", scope: { namespace: "flux-system", kind: "Deployment" }, expires: "2026-12-01" },
    ]);
    expect(r.rego).toEqual(
      [
        api,
        flux,
        "CART-EXC-001: exception to CART-IMG-001 (namespace flux-system, kind Deployment) owned by time-infraestrutura expired on 2026-12-01: fix the findings, or renew it with a new reason and date",
      ].sort(),
    );
    expect(r.pack).toEqual(r.rego);
  });

  it("the catalogue refuses an exception without scope, reason or a real rule", () => {
    expect(() =>
      withExceptions([{ ...base, rule: "CART-XYZ-001", scope: {}, reason: "curta", expires: "2027-02-30" }]),
    ).toThrow(
      /exceptions\.0\.scope: expected a scope[\s\S]*exceptions\.0\.reason: expected a reason[\s\S]*exceptions\.0\.expires: expected a real date[\s\S]*exceptions\.0\.rule: CART-XYZ-001 is not a rule/,
    );
  });
});
