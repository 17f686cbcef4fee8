/**
 * npm run evidence -- --stack <stack> [--outputs FILE] [--declared DIR] [--out DIR] [--genesis]
 *     [--sync-timeout SECONDS]
 *
 * The evidence of one deployment, for the corregedoria, from the same run: writes
 * <evidence.directory>/<stack>/<UTC timestamp>-<sequence>-<commit>/ with report.json (schema
 * cartorio.digital/evidencia/v2, components/evidence/schema.ts), report.html (Portuguese, self-contained)
 * and report.json.sig (signed in the HSM with the evidence-signing key the stack's trust anchor lists;
 * npm run evidence:verify checks it). The report joins the stack's hash chain after the newest report in
 * that folder; with none there, only --genesis starts a chain (a runner that lost the chain must not start
 * a second one silently). In cluster mode it first waits, with progress, until Flux reports the report's
 * commit applied, and records what runs (pods and image digests); a report written before that says so
 * (flux.converged false), and evidence:verify refuses it. Every part is collected or marked "not run" with
 * the reason. The HSM PIN comes from kms.pinEnv, and nothing secret is written: the files are checked for
 * the PIN and the state passphrase, with no exemption, before they are kept. Exit 0 written, 1 refused
 * (nothing written).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { loadStackFile } from "../../components/config/load";
import { anchorKeyFor, loadAnchor } from "../../components/evidence/anchor";
import { durationSeconds, syncStatus, waitForSync } from "../../components/gitops/sync";
import { FLUX_NAMESPACE, FLUX_SYNC_NAME } from "../../components/gitops/flux";
import { nextLink } from "../../components/evidence/verify";
import { breakGlassOf, readMergeRecord } from "../../components/evidence/merge";
import { renderHtml } from "../../components/evidence/html";
import { collected, EvidenceReport, notRun, SCHEMA_ID, validateReport } from "../../components/evidence/schema";
import { SIGNATURE_SCHEMA, SignatureFile } from "../../components/evidence/signature";
import { cryptoperiodEnd, expiryReport } from "../../components/keys/expiry";
import { inspectInventory, pinFromEnv, signWithKey, validateTokens } from "../../components/keys/hsm";
import { loadInventory } from "../../components/keys/inventory";
import { keyLabel } from "../../components/keys/keyid";
import { failureText } from "../../components/keys/slots";
import { kubeconfigPath } from "../../components/platform/cluster";
import { canonical } from "../../components/platform/canonical";
import { apiReader } from "../../components/platform/kubeapi";
import { audit, readLiveObjects } from "../../components/policy/audit";
import { loadCatalogue } from "../../components/policy/catalogue";
import { conftestTest, messages } from "../../components/policy/conftest";
import {
  evaluateLevels,
  exceptionActive,
  exceptionDaysLeft,
  K8sObject,
  RuleContext,
  scopeText,
  wallClock,
} from "../../components/policy/rules";
import { PROJECT_ROOT } from "./operator";

const { values } = parseArgs({
  options: {
    stack: { type: "string" },
    outputs: { type: "string" },
    declared: { type: "string" },
    out: { type: "string" },
    genesis: { type: "boolean", default: false },
    "sync-timeout": { type: "string" },
    // The commit deployed, when it is not this checkout's HEAD: the ensaio rehearsal deploys the merge commit
    // its GitHub-like flow made of HEAD's tree (on producao, the deploy job's checkout is that commit).
    revision: { type: "string" },
    // How the commit reached main (components/evidence/merge.ts): the deploy job reads it from GitHub, the
    // rehearsal from its merge helper. It decides the breakGlass part; without it, that part is not run.
    merge: { type: "string" },
  },
  strict: true,
});

/** The checkout's own rulebook (the command may run on another checkout than the one it was built from). */
const CATALOGUE_FILE = path.join(PROJECT_ROOT, "policies/catalogue.yaml");
/** A pod as the evidence reads it. */
interface LivePod {
  metadata: { name: string };
  spec: { containers?: { name: string; image: string }[] };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; imageID?: string; ready?: boolean }[];
  };
}

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
  if (!values.stack)
    throw new Error(
      "usage: npm run evidence -- --stack <stack> [--outputs FILE] [--declared DIR] [--revision SHA] [--merge FILE]",
    );
  const stack = values.stack;
  const cfg = loadStackFile(PROJECT_ROOT, stack);
  const configFile = `Pulumi.${stack}.yaml`;
  const sha = values.revision ?? git("rev-parse", "HEAD");
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new Error(`--revision ${sha}: expected a full 40-hex commit id`);
  // Read first: a bad record stops the command before anything is collected or signed.
  const merge = values.merge ? readMergeRecord(path.resolve(values.merge), sha) : undefined;
  const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
  const outputs = stackOutputs(stack) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const ctx: RuleContext = { ...wallClock(), exceptions: loadCatalogue(CATALOGUE_FILE).exceptions };
  const now = new Date(ctx.now!);
  const cluster = cfg.kubernetes.mode === "cluster";
  const kube = cluster
    ? { kubeconfig: kubeconfigPath(cfg.kubernetes, PROJECT_ROOT), context: cfg.kubernetes.context }
    : undefined;
  const noCluster = `stack ${stack} renders manifests (kubernetes.mode render): there is no cluster to read`;

  // The chain: after the newest report of this stack; a new chain only when asked.
  const stackDir = path.join(path.resolve(PROJECT_ROOT, values.out ?? cfg.evidence.directory), stack);
  const chain = nextLink(stackDir);
  if (chain.sequence === 1 && !values.genesis)
    throw new Error(
      `${stackDir} holds no evidence report of stack ${stack}, so this one would start a new chain: fetch the stack's chain first (docs/evidence.md), or pass --genesis if this is the stack's first report`,
    );

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

  // What runs: first until Flux reports this commit applied (re-read from the cluster, never the stack's
  // outputs, which may name an older revision), so the audit and the pods below are of the converged state.
  let flux: EvidenceReport["flux"] = notRun(cfg.features.gitops ? noCluster : "features.gitops is off in this stack");
  if (kube && cfg.features.gitops) {
    const timeoutSeconds = Number(values["sync-timeout"] ?? durationSeconds(cfg.gitops.syncTimeout));
    const t0 = Date.now();
    const target = { ...kube, namespace: FLUX_NAMESPACE, name: FLUX_SYNC_NAME, revision: sha, timeoutSeconds };
    try {
      const s = await waitForSync(target, (line) =>
        console.error(`evidence: waiting for Flux to apply ${sha.slice(0, 12)}: ${line}`),
      );
      flux = collected({
        expected: sha,
        revision: s.appliedRevision!,
        converged: true,
        detail: `GitRepository ${s.source.detail}; Kustomization ${s.kustomization.detail}`,
        waitedSeconds: Math.round(s.seconds),
        source: `Kustomization ${FLUX_NAMESPACE}/${FLUX_SYNC_NAME} status.lastAppliedRevision`,
      });
    } catch (e) {
      const status = await syncStatus(target).catch(() => undefined);
      flux = collected({
        expected: sha,
        revision: status?.appliedRevision ?? "",
        converged: false,
        detail: (e as Error).message.split("\n").slice(0, 3).join(" "),
        waitedSeconds: Math.round((Date.now() - t0) / 1000),
        source: `Kustomization ${FLUX_NAMESPACE}/${FLUX_SYNC_NAME} status.lastAppliedRevision`,
      });
      console.error(
        `evidence: Flux did not apply ${sha} within ${timeoutSeconds}s; the report says so (flux.converged false) and will not verify`,
      );
    }
  }
  let running: EvidenceReport["running"] = notRun(noCluster);
  if (kube) {
    const ns = cfg.workload.namespace;
    const pods = await apiReader(kube)<{ items: LivePod[] }>(`/api/v1/namespaces/${ns}/pods`).catch(
      (e: Error) => e.message,
    );
    running =
      typeof pods === "string"
        ? notRun(`the pods of namespace ${ns} could not be read: ${pods}`)
        : collected({
            namespace: ns,
            pods: pods.items.map((p) => ({
              name: p.metadata.name,
              phase: p.status?.phase ?? "Unknown",
              ready: (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
              containers: (p.spec.containers ?? []).map((c) => {
                const st = (p.status?.containerStatuses ?? []).find((x) => x.name === c.name);
                return { name: c.name, image: c.image, imageID: st?.imageID || null, ready: st?.ready ?? false };
              }),
            })),
          });
  }

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
  // The report is signed in the HSM: the PIN is needed whatever the features say.
  if (pin === undefined)
    throw new Error(
      `set the HSM user PIN in the environment variable ${cfg.kms.pinEnv} (kms.pinEnv): the report is signed in the HSM`,
    );
  // Every key as it is on its token, judged as adoption judges it (the same inspection as kms:sync).
  const inspected = new Map(inspectInventory(cfg.kms.module, inventory, pin).map((i) => [i.label, i]));
  if (cfg.features.keys) {
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
    keys = collected({
      warnDays: 90,
      keys: inventory.keys.map((k) => {
        const label = keyLabel(k);
        const e = expiry.get(label);
        const ends = cryptoperiodEnd(k.activatedOn, k.cryptoperiodDays);
        const found = inspected.get(label)!;
        const record = found.record;
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
          present: found.present,
          problems: found.problems,
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

  // The signer: an active evidence-signing key, present and conforming, that the trust anchor lists for now.
  const anchorFile = path.resolve(PROJECT_ROOT, cfg.evidence.anchor);
  const anchorRel = path.relative(PROJECT_ROOT, anchorFile);
  const anchor = loadAnchor(anchorFile);
  const candidates = inventory.keys.filter((k) => k.purpose === "evidence-signing" && k.state === "active");
  if (!candidates.length)
    throw new Error(
      `${cfg.kms.inventory}: no active key with purpose evidence-signing; add one (see configs/kms/local.yaml, key evidencias)`,
    );
  const refusals: string[] = [];
  const signingKey = candidates.find((k) => {
    const found = inspected.get(keyLabel(k))!;
    if (!found.record) return !refusals.push(`${keyLabel(k)} is not on its token yet (pulumi up creates it)`);
    if (found.problems.length) return !refusals.push(`${keyLabel(k)} does not conform: ${found.problems.join("; ")}`);
    const { problems } = anchorKeyFor(
      anchor,
      anchorRel,
      { keyLabel: keyLabel(k), fingerprint: found.record.fingerprint },
      now.toISOString(),
    );
    return problems.length ? !refusals.push(problems.join("; ")) : true;
  });
  if (!signingKey)
    throw new Error(
      `no evidence-signing key can sign: ${refusals.join("; ")}. Run npm run evidence:anchor -- --stack ${stack} and merge the anchor's PR (docs/evidence.md)`,
    );
  const signerRecord = inspected.get(keyLabel(signingKey))!.record!;
  const signToken = inventory.tokens.find((t) => t.name === signingKey.token)!;
  const tokenRef = { label: signToken.label, serial: signToken.serial };

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
    // Its status (what it read, what it wants) and its decisions, as data beside the description.
    const json = (a: string[]) => {
      const r = spawnSync("kubectl", [...a, "-o", "json", ...args.slice(3)], { encoding: "utf8" });
      if (r.status !== 0)
        throw new Error(`kubectl ${a.join(" ")} failed: ${(r.stderr || r.error?.message || "").trim()}`);
      return JSON.parse(r.stdout);
    };
    try {
      if (res.status !== 0)
        throw new Error(`kubectl describe hpa failed: ${(res.stderr || res.error?.message || "").trim()}`);
      const h = json(["get", "hpa", cfg.workload.deployment]);
      const events = json([
        "get",
        "events",
        `--field-selector=involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=${cfg.workload.deployment},reason=SuccessfulRescale`,
      ]);
      type Metric = {
        resource?: {
          name: string;
          current?: { averageUtilization?: number };
          target?: { averageUtilization?: number };
        };
      };
      const targets = new Map<string, number | undefined>(
        ((h.spec.metrics ?? []) as Metric[]).map((m) => [
          m.resource?.name ?? "",
          m.resource?.target?.averageUtilization,
        ]),
      );
      hpa = collected({
        name: cfg.workload.deployment,
        namespace: cfg.workload.namespace,
        describe: res.stdout.trimEnd(),
        replicas: {
          current: h.status.currentReplicas ?? 0,
          desired: h.status.desiredReplicas ?? 0,
          min: h.spec.minReplicas ?? 1,
          max: h.spec.maxReplicas,
        },
        currentMetrics: ((h.status.currentMetrics ?? []) as Metric[])
          .filter((m) => m.resource)
          .map((m) => ({
            resource: m.resource!.name,
            utilization: m.resource!.current?.averageUtilization ?? null,
            target: targets.get(m.resource!.name) ?? null,
          })),
        decisions: (
          events.items as {
            message: string;
            count?: number;
            lastTimestamp?: string;
            eventTime?: string;
            metadata: { creationTimestamp: string };
          }[]
        )
          .map((e) => ({
            at: e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp,
            message: e.message,
            count: e.count ?? 1,
          }))
          .sort((a, b) => a.at.localeCompare(b.at)),
      });
    } catch (e) {
      hpa = notRun((e as Error).message);
    }
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

  // The admission webhook as the API server holds it, and the rules the stack gave OPA.
  let admission: EvidenceReport["admission"] = notRun(
    cfg.admission.enabled
      ? noCluster
      : "admission.enabled is off in this stack: the cluster does not judge what it admits",
  );
  if (kube && cfg.admission.enabled) {
    const o = outputs.admission as { server: string; webhook: string; rulesDigest: string } | undefined;
    if (!o) admission = notRun(`stack ${stack} has no admission output: run pulumi up first`);
    else {
      const args = ["get", "validatingwebhookconfiguration", o.webhook, "-o", "json", "--kubeconfig", kube.kubeconfig];
      if (kube.context) args.push("--context", kube.context);
      const res = spawnSync("kubectl", args, { encoding: "utf8" });
      if (res.status !== 0)
        admission = notRun(
          `kubectl get validatingwebhookconfiguration ${o.webhook} failed: ${(res.stderr || res.error?.message || "").trim()}`,
        );
      else {
        const live = JSON.parse(res.stdout) as {
          webhooks: { failurePolicy: string; namespaceSelector?: { matchExpressions?: { values?: string[] }[] } }[];
        };
        admission = collected({
          server: o.server,
          webhook: o.webhook,
          rulesDigest: o.rulesDigest,
          configurationDigest: sha256(canonical(live.webhooks)),
          failurePolicy: live.webhooks.map((w) => w.failurePolicy).join(","),
          exemptNamespaces: live.webhooks.flatMap(
            (w) => w.namespaceSelector?.matchExpressions?.flatMap((m) => m.values ?? []) ?? [],
          ),
        });
      }
    }
  }

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
      running,
      admission,
      breakGlass: merge
        ? collected(breakGlassOf(merge))
        : notRun(
            "no merge record was given (--merge): how this commit reached main, and whether the checks were bypassed, is not known to this report, so no answer is claimed",
          ),
      chain,
      anchor: { file: anchorRel, digest: sha256(fs.readFileSync(anchorFile)) },
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
  // Nothing secret leaves this process: refuse (writing nothing) if a secret value shows up in a file. No
  // exemption: a stack whose secret equals a name the report prints must change the secret. (Values under 4
  // characters are not searched: PKCS#11 PINs are at least 4, and shorter ones would match at random.)
  const secrets = [pin, process.env.PULUMI_CONFIG_PASSPHRASE].filter((s): s is string => !!s && s.length >= 4);
  for (const [name, body] of Object.entries(files))
    if (secrets.some((s) => body.includes(s)))
      throw new Error(`${name} would contain a secret value; nothing was written`);

  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  // The sequence makes the name unique in the chain: two reports in one second (or one commit) never collide.
  const dir = path.join(stackDir, `${stamp}-${String(chain.sequence).padStart(6, "0")}-${sha.slice(0, 12)}`);
  if (fs.existsSync(dir))
    throw new Error(
      `${dir} exists: another report took sequence ${chain.sequence} meanwhile; nothing was written, run again`,
    );
  const tmp = `${dir}.partial`;
  fs.mkdirSync(tmp, { recursive: true });
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(tmp, name), body);
  fs.renameSync(tmp, dir);
  const parts = (
    ["rulebook", "audit", "hsm", "keys", "hpa", "capacity", "loadTest", "flux", "running", "admission"] as const
  ).map((k) => `${k} ${report[k]?.status ?? "absent"}`);
  console.log(
    `evidence: ${path.relative(process.cwd(), dir) || dir} (${parts.join(", ")}); sequence ${chain.sequence} of stack ${stack}; signed with ${sig.keyLabel} ${sig.fingerprint}`,
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
