/**
 * npm run evidence -- --stack <stack> [--outputs FILE] [--declared DIR] [--out DIR]
 *
 * The evidence of one deployment, for the corregedoria, from the same run: writes
 * evidence/<stack>/<UTC timestamp>-<commit>/ with report.json (schema cartorio.digital/evidencia/v1,
 * components/evidence/schema.ts), report.html (Portuguese, self-contained) and report.json.sig (signed in
 * the HSM with the inventory's evidence-signing key; npm run evidence:verify checks it). Every part is
 * collected or marked "not run" with the reason. Reads the stack's outputs (pulumi stack output, or
 * --outputs), the rulebook over the repository and what the stack declared (--declared, default
 * .local/declared for local) on both enforcers, and, in cluster mode, the live cluster. The HSM PIN comes
 * from the environment variable kms.pinEnv names, and nothing secret is written: the files are checked for
 * the PIN and the state passphrase before they are kept. Exit 0 written, 1 refused (nothing written).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { loadStackFile } from "../components/config/load";
import { renderHtml } from "../components/evidence/html";
import { collected, EvidenceReport, notRun, SCHEMA_ID, validateReport } from "../components/evidence/schema";
import { SIGNATURE_SCHEMA, SignatureFile } from "../components/evidence/signature";
import { cryptoperiodEnd, expiryReport } from "../components/keys/expiry";
import { inspectKey, pinFromEnv, signWithKey, validateTokens } from "../components/keys/hsm";
import { loadInventory } from "../components/keys/inventory";
import { keyLabel } from "../components/keys/keyid";
import { failureText } from "../components/keys/slots";
import { kubeconfigPath } from "../components/platform/cluster";
import { apiReader } from "../components/platform/kubeapi";
import { audit, readLiveObjects } from "../components/policy/audit";
import { loadCatalogue } from "../components/policy/catalogue";
import { conftestTest, messages } from "../components/policy/conftest";
import {
  evaluateLevels,
  exceptionActive,
  exceptionDaysLeft,
  K8sObject,
  RuleContext,
  scopeText,
  wallClock,
} from "../components/policy/rules";
import { PROJECT_ROOT } from "./operator";

const { values } = parseArgs({
  options: {
    stack: { type: "string" },
    outputs: { type: "string" },
    declared: { type: "string" },
    out: { type: "string", default: path.join(PROJECT_ROOT, "evidence") },
  },
  strict: true,
});

/** The checkout's own rulebook (the command may run on another checkout than the one it was built from). */
const CATALOGUE_FILE = path.join(PROJECT_ROOT, "policies/catalogue.yaml");
const sha256 = (b: Buffer | string) => "sha256:" + createHash("sha256").update(b).digest("hex");
const git = (...args: string[]) => execFileSync("git", args, { cwd: PROJECT_ROOT, encoding: "utf8" }).trim();

/** Who approved: the CI's record of it when there is one (GitHub Actions: the actor who triggered or approved the run). */
function approval(env = process.env): EvidenceReport["approval"] {
  const runUrl =
    env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
      ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
      : null;
  for (const v of ["CARTORIO_APPROVED_BY", "GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR"])
    if (env[v]) return { approvedBy: env[v]!, source: `environment ${v}`, runUrl };
  return { approvedBy: null, source: "no CI approval in this run's environment (a local run)", runUrl };
}

function stackOutputs(stack: string): Record<string, unknown> {
  if (values.outputs) return JSON.parse(fs.readFileSync(values.outputs, "utf8"));
  const cli = process.env.PULUMI_CLI ?? "pulumi";
  const res = spawnSync(cli, ["stack", "output", "--stack", stack, "--json"], { cwd: PROJECT_ROOT, encoding: "utf8" });
  if (res.error) throw new Error(`${cli} could not run (${res.error.message}): set PULUMI_CLI, or pass --outputs`);
  if (res.status !== 0) throw new Error(`pulumi stack output --stack ${stack} failed: ${res.stderr.trim()}`);
  return JSON.parse(res.stdout);
}

/** Every YAML document under the inputs (files or folders), as conftest reads them. */
function documents(inputs: string[]): K8sObject[] {
  const files = inputs.flatMap((i) =>
    fs.statSync(i).isDirectory()
      ? (fs.readdirSync(i, { recursive: true }) as string[])
          .filter((f) => /\.ya?ml$/.test(f))
          .map((f) => path.join(i, f))
      : [i],
  );
  return files.flatMap((f) =>
    parseAllDocuments(fs.readFileSync(f, "utf8"))
      .map((d) => d.toJS() as K8sObject)
      .filter((d) => d !== null && d !== undefined),
  );
}

const ruleOf = (msg: string) => /^(CART-[A-Z0-9]+-\d{3}):/.exec(msg)?.[1] ?? "(unattributed)";

function rulebook(inputs: string[], ctx: RuleContext): EvidenceReport["rulebook"] {
  const catalogue = loadCatalogue(CATALOGUE_FILE);
  const rel = inputs.map((i) => path.relative(PROJECT_ROOT, i) || ".");
  const run = conftestTest(
    "conftest",
    [...inputs, "--combine", "--policy", path.join(PROJECT_ROOT, "policies"), "--data", CATALOGUE_FILE],
    64 << 20,
  );
  if ("problem" in run) return notRun(run.problem);
  const conftest = messages(run.results);
  const docs = documents(inputs);
  const pack = evaluateLevels(docs, catalogue, "set", ctx);
  const by = (f: { deny: string[]; warn: string[] }, id: string) => {
    const deny = [...new Set(f.deny.filter((m) => ruleOf(m) === id))].sort();
    const warn = [...new Set(f.warn.filter((m) => ruleOf(m) === id))].sort();
    return { deny: deny.length, warn: warn.length, messages: [...deny, ...warn] };
  };
  const rules = catalogue.rules.map((r) => {
    const c = by(conftest, r.id);
    const p = by(pack, r.id);
    const agree = c.deny === p.deny && c.warn === p.warn && c.messages.join("\n") === p.messages.join("\n");
    return { id: r.id, title: r.title, level: r.enforcement, conftest: c, pack: p, agree };
  });
  const now = ctx.now ?? Date.now();
  // In force as both enforcers judge it (exceptionActive), days as npm run local lists them.
  const exceptions = catalogue.exceptions.map((e) => ({
    rule: e.rule,
    scope: scopeText(e),
    owner: e.owner,
    reason: e.reason,
    expires: e.expires,
    daysLeft: exceptionDaysLeft(e, now),
    active: exceptionActive(e, now),
  }));
  return collected({
    catalogueVersion: catalogue.version,
    catalogueDigest: sha256(fs.readFileSync(CATALOGUE_FILE)),
    inputs: rel,
    documents: docs.length,
    rules,
    exceptions,
    mandatoryFindings: rules.reduce((n, r) => n + Math.max(r.conftest.deny, r.pack.deny), 0),
    enforcersAgree: rules.every((r) => r.agree),
  });
}

async function main(): Promise<number> {
  if (!values.stack) throw new Error("usage: npm run evidence -- --stack <stack> [--outputs FILE] [--declared DIR]");
  const stack = values.stack;
  const cfg = loadStackFile(PROJECT_ROOT, stack);
  const configFile = `Pulumi.${stack}.yaml`;
  const sha = git("rev-parse", "HEAD");
  const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
  const outputs = stackOutputs(stack) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const ctx: RuleContext = { ...wallClock(), exceptions: loadCatalogue(CATALOGUE_FILE).exceptions };
  const now = new Date(ctx.now!);
  const cluster = cfg.kubernetes.mode === "cluster";
  const kube = cluster
    ? { kubeconfig: kubeconfigPath(cfg.kubernetes, PROJECT_ROOT), context: cfg.kubernetes.context }
    : undefined;
  const noCluster = `stack ${stack} renders manifests (kubernetes.mode render): there is no cluster to read`;

  // The rulebook over what the change proposes and what the stack declared.
  const inventoryFile = path.resolve(PROJECT_ROOT, cfg.kms.inventory);
  // What the stack declared: its rendered manifests in render mode; for local in cluster mode, what
  // npm run local read back from the state (.local/declared).
  const declared =
    values.declared ??
    (!cluster
      ? path.resolve(PROJECT_ROOT, cfg.kubernetes.renderDirectory)
      : stack === "local"
        ? path.join(PROJECT_ROOT, ".local/declared")
        : undefined);
  const inputs = [
    ...["manifests", "clusters", "infrastructure"].map((d) => path.join(PROJECT_ROOT, d)),
    inventoryFile,
    ...(declared ? [declared] : []),
  ].filter((i) => fs.existsSync(i));

  let auditPart: EvidenceReport["audit"] = notRun(noCluster);
  if (kube) {
    try {
      const objects = await readLiveObjects(apiReader(kube));
      if (typeof objects === "string") auditPart = notRun(`the cluster could not be read: ${objects}`);
      else {
        const r = audit(objects, loadCatalogue(CATALOGUE_FILE), ctx);
        auditPart = collected({
          where: `context ${kube.context || "(current)"} of ${path.relative(PROJECT_ROOT, kube.kubeconfig) || kube.kubeconfig}`,
          objects: r.objects,
          deny: r.deny,
          warn: r.warn,
          findings: Object.entries(r.byNamespace).flatMap(([namespace, fs]) => fs.map((f) => ({ namespace, ...f }))),
        });
      }
    } catch (e) {
      auditPart = notRun(`the cluster could not be read: ${(e as Error).message}`);
    }
  }

  // HSM and keys: the PIN is read here and never written.
  const pin = pinFromEnv(cfg.kms.pinEnv);
  const inventory = loadInventory(inventoryFile);
  let hsm: EvidenceReport["hsm"] = notRun("features.keys is off in this stack");
  let keys: EvidenceReport["keys"] = notRun("features.keys is off in this stack");
  if (cfg.features.keys) {
    if (pin === undefined)
      throw new Error(
        `set the HSM user PIN in the environment variable ${cfg.kms.pinEnv} (kms.pinEnv): the report is signed in the HSM`,
      );
    hsm = collected({
      tokens: validateTokens(cfg.kms.module, inventory.tokens, pin).map((v) => ({
        name: v.name,
        label: v.label,
        serial: v.serial ?? null,
        slotId: v.slotId ?? null,
        ok: v.ok,
        problems: v.ok ? [] : failureText(v),
      })),
    });
    const expiry = new Map(expiryReport(inventory, now).map((e) => [e.label, e]));
    const tokenOf = (name: string) => inventory.tokens.find((t) => t.name === name)!;
    keys = collected({
      warnDays: 90,
      keys: inventory.keys.map((k) => {
        const label = keyLabel(k);
        const e = expiry.get(label);
        const ends = cryptoperiodEnd(k.activatedOn, k.cryptoperiodDays);
        let record: ReturnType<typeof inspectKey>["record"];
        if (k.state === "active") {
          const t = tokenOf(k.token);
          record = inspectKey(cfg.kms.module, { label: t.label, serial: t.serial }, k, pin).record;
        }
        return {
          label,
          purpose: k.purpose,
          algorithm: k.algorithm === "EC" ? `EC ${k.curve}` : `RSA ${k.size}`,
          token: k.token,
          state: k.state,
          activatedOn: k.activatedOn,
          endsOn: new Date(ends).toISOString().slice(0, 10),
          daysLeft: Math.floor((ends - now.getTime()) / 86_400_000),
          cryptoperiod: k.state === "retired" ? ("retired" as const) : e!.status,
          fingerprint: record?.fingerprint ?? null,
          attestation: record
            ? {
                alwaysSensitive: record.alwaysSensitive,
                neverExtractable: record.neverExtractable,
                local: record.local,
              }
            : null,
        };
      }),
    });
  }
  const signingKey = inventory.keys.find((k) => k.purpose === "evidence-signing" && k.state === "active");
  if (!signingKey)
    throw new Error(
      `${cfg.kms.inventory}: no active key with purpose evidence-signing; add one (see configs/kms/local.yaml, key evidencias)`,
    );
  if (pin === undefined)
    throw new Error(`set the HSM user PIN in the environment variable ${cfg.kms.pinEnv} (kms.pinEnv)`);
  const signToken = inventory.tokens.find((t) => t.name === signingKey.token)!;
  const tokenRef = { label: signToken.label, serial: signToken.serial };
  const signerRecord = inspectKey(cfg.kms.module, tokenRef, signingKey, pin).record;
  if (!signerRecord)
    throw new Error(
      `key ${keyLabel(signingKey)} is not on token '${signToken.label}' yet: deploy the stack first (pulumi up creates it)`,
    );

  let hpa: EvidenceReport["hpa"] = notRun(cfg.features.scaling ? noCluster : "features.scaling is off in this stack");
  if (kube && cfg.features.scaling) {
    const args = [
      "describe",
      "hpa",
      cfg.workload.deployment,
      "-n",
      cfg.workload.namespace,
      "--kubeconfig",
      kube.kubeconfig,
    ];
    if (kube.context) args.push("--context", kube.context);
    const res = spawnSync("kubectl", args, { encoding: "utf8" });
    hpa =
      res.status === 0
        ? collected({
            name: cfg.workload.deployment,
            namespace: cfg.workload.namespace,
            describe: res.stdout.trimEnd(),
          })
        : notRun(`kubectl describe hpa failed: ${(res.stderr || res.error?.message || "").trim()}`);
  }

  const c = outputs.capacity;
  const capacity: EvidenceReport["capacity"] = c
    ? collected({
        ok: c.ok,
        reasons: c.reasons ?? [],
        peakRps: c.input.peakRps,
        baselineRps: c.input.baselineRps,
        replicaThroughputRps: c.input.replicaThroughputRps,
        throughputSource: c.input.throughputSource ?? "config",
        minReplicas: c.input.minReplicas,
        maxReplicas: c.input.maxReplicas,
        neededAtPeak: c.neededAtPeak,
        neededAtBaseline: c.neededAtBaseline,
        secondsToScale: c.secondsToScale ?? null,
        timeline: c.timeline ?? [],
      })
    : notRun("features.scaling is off in this stack (no capacity plan)");

  const lt = outputs.loadtest?.result;
  const loadTest: EvidenceReport["loadTest"] = lt
    ? collected({
        passed: lt.passed,
        p95Ms: lt.p95Ms,
        p99Ms: lt.p99Ms,
        errorRate: lt.errorRate,
        achievedRps: lt.achievedRps,
        requests: lt.requests,
        thresholds: lt.thresholds,
      })
    : notRun(cfg.features.loadtest ? "the stack has no load test result" : "features.loadtest is off in this stack");

  const rev = outputs.gitops?.syncedRevision;
  const flux: EvidenceReport["flux"] = rev
    ? collected({ revision: rev, source: "Flux Kustomization Ready at this revision when the deployment ended" })
    : notRun(cfg.features.gitops ? noCluster : "features.gitops is off in this stack");

  const report = validateReport(
    {
      schema: SCHEMA_ID,
      generatedAt: now.toISOString(),
      commit: { sha, dirty },
      approval: approval(),
      stack: { name: stack, configFile, configDigest: sha256(fs.readFileSync(path.join(PROJECT_ROOT, configFile))) },
      rulebook: rulebook(inputs, ctx),
      audit: auditPart,
      hsm,
      keys,
      hpa,
      capacity,
      loadTest,
      flux,
      signer: {
        keyLabel: keyLabel(signingKey),
        token: signToken.name,
        algorithm: "ECDSA-P256-SHA256",
        fingerprint: signerRecord.fingerprint,
      },
    },
    "the report built",
  );
  const json = Buffer.from(JSON.stringify(report, null, 2) + "\n");
  const { signature, record } = signWithKey(cfg.kms.module, tokenRef, signingKey, pin, json);
  if (record.fingerprint !== signerRecord.fingerprint)
    throw new Error("the signing key changed while the report was built");
  const sig: SignatureFile = {
    schema: SIGNATURE_SCHEMA,
    keyLabel: report.signer.keyLabel,
    fingerprint: record.fingerprint,
    algorithm: "ECDSA-P256-SHA256",
    signature: signature.toString("base64"),
  };
  const files: Record<string, Buffer> = {
    "report.json": json,
    "report.html": Buffer.from(renderHtml(report)),
    "report.json.sig": Buffer.from(JSON.stringify(sig, null, 2) + "\n"),
  };
  // Nothing secret leaves this process: refuse (writing nothing) if a secret value shows up in a file.
  // (A value the repository itself publishes is no secret: the local stack's passphrase is its token's label.)
  const published =
    fs.readFileSync(inventoryFile, "utf8") + fs.readFileSync(path.join(PROJECT_ROOT, configFile), "utf8");
  const secrets = [pin, process.env.PULUMI_CONFIG_PASSPHRASE].filter(
    (s): s is string => !!s && s.length >= 4 && !published.includes(s),
  );
  for (const [name, body] of Object.entries(files))
    if (secrets.some((s) => body.includes(s)))
      throw new Error(`${name} would contain a secret value; nothing was written`);

  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const dir = path.join(values.out!, stack, `${stamp}-${sha.slice(0, 12)}`);
  const tmp = `${dir}.partial`;
  fs.mkdirSync(tmp, { recursive: true });
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), body);
  fs.renameSync(tmp, dir);
  const parts = (["rulebook", "audit", "hsm", "keys", "hpa", "capacity", "loadTest", "flux"] as const).map(
    (k) => `${k} ${report[k].status}`,
  );
  console.log(
    `evidence: ${path.relative(process.cwd(), dir) || dir} (${parts.join(", ")}); signed with ${sig.keyLabel} ${sig.fingerprint}`,
  );
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    console.error(`error: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
