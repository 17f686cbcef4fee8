/**
 * The evidence report (npm run evidence, npm run evidence:verify) from a stack the real engine deployed:
 * keys made on a SoftHSM2 token by `pulumi up`, the stack's trust anchor written from that token
 * (npm run evidence:anchor), reports signed there with the evidence-signing key the anchor lists, chained,
 * and verified with the anchor alone — with no HSM and no cluster — as the corregedoria would.
 * The HTML is opened in headless Chromium (Debian's chromium): no console message (the page's CSP turns
 * any outside reference into one), and a screenshot under .local/.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { renderHtml } from "../../components/evidence/html";
import { fingerprintOfPem } from "../../components/evidence/anchor";
import { EvidenceReport, validateReport } from "../../components/evidence/schema";
import { engineProject, EngineProject, PASSPHRASE, USER_PIN } from "../helpers/engine";
import { projectCommand, runEvidence } from "../helpers/evidence";
import { PROJECT_ROOT, requireTool, tempDir } from "../helpers/tools";

const STACK = "evidencia";

/** Opens a page in headless Chromium: its console messages, and a screenshot at `png`. */
function chromium(file: string, png: string): { console: string[]; status: number | null; stderr: string } {
  const bin = requireTool("chromium", "apt-get install chromium (Debian)");
  const res = spawnSync(
    bin,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--enable-logging=stderr",
      "--v=0",
      `--screenshot=${png}`,
      "--window-size=1200,2400",
      `file://${file}`,
    ],
    { encoding: "utf8", timeout: 120_000, env: { ...process.env, HOME: tempDir("chromium-home") } },
  );
  return {
    console: res.stderr.split("\n").filter((l) => l.includes(":CONSOLE")),
    status: res.status,
    stderr: res.stderr,
  };
}

describe("evidence report", () => {
  let project: EngineProject;
  let dir: string;
  let report: EvidenceReport;

  beforeAll(async () => {
    project = await engineProject();
    const stack = await project.stack(STACK);
    await stack.up();
    dir = runEvidence(project, STACK, await stack.outputs());
    report = JSON.parse(fs.readFileSync(path.join(dir, "report.json"), "utf8"));
  }, 600_000);

  it("writes evidence/<stack>/<UTC>-<sequence>-<commit>/ with a report that validates against its schema", () => {
    const sha = spawnSync("git", ["rev-parse", "HEAD"], { cwd: project.dir, encoding: "utf8" }).stdout.trim();
    expect(path.basename(dir)).toMatch(new RegExp(`^\\d{8}T\\d{6}Z-000001-${sha.slice(0, 12)}$`));
    expect(fs.readdirSync(dir).sort()).toEqual(["report.html", "report.json", "report.json.sig"]);
    expect(report.chain).toEqual({ sequence: 1, previous: null });
    expect(report.anchor.file).toBe(".local/evidencias/local.yaml");
    expect(() => validateReport(report)).not.toThrow();
    expect(report.commit).toEqual({ sha, dirty: false });
    expect(report.stack.name).toBe(STACK);
    // The rulebook ran on both enforcers, every catalogue rule listed, and they agree.
    expect(report.rulebook.status).toBe("collected");
    if (report.rulebook.status === "collected") {
      expect(report.rulebook.data.rules.length).toBeGreaterThan(30);
      expect(report.rulebook.data.enforcersAgree).toBe(true);
      expect(report.rulebook.data.exceptions.length).toBeGreaterThan(0);
    }
    // Keys from the HSM: the evidence key among them, with its attestation attributes read from the token.
    expect(report.keys.status).toBe("collected");
    if (report.keys.status === "collected") {
      const key = report.keys.data.keys.find((k) => k.purpose === "evidence-signing")!;
      expect(key.attestation).toEqual({ alwaysSensitive: true, neverExtractable: true, local: true });
      // Every key as inspected on the token, like kms:sync and adoption judge it.
      expect(report.keys.data.keys.map((k) => [k.present, k.problems])).toEqual(
        report.keys.data.keys.map(() => ["yes", []]),
      );
      expect(key.fingerprint).toBe(report.signer.fingerprint);
    }
    expect(report.hsm.status === "collected" && report.hsm.data.tokens.every((t) => t.ok)).toBe(true);
    expect(report.capacity.status).toBe("collected");
    // Schema validation is strict: an unknown field or a bad status fails.
    expect(() => validateReport({ ...report, extra: 1 })).toThrow(/extra|Unrecognized/);
    expect(() => validateReport({ ...report, audit: { status: "passed" } })).toThrow(/audit/);
  });

  it("shows a part that did not run as not run, never as passed", () => {
    // A render stack: no cluster to audit, no HPA to describe, no Flux; the load test is off.
    for (const k of ["audit", "hpa", "flux", "loadTest", "running", "breakGlass"] as const)
      expect(report[k].status).toBe("not run");
    const html = fs.readFileSync(path.join(dir, "report.html"), "utf8");
    expect(html.match(/Não executado/g)!.length).toBeGreaterThanOrEqual(8);
    const section = (title: string) => html.slice(html.indexOf(`<h2>${title}</h2>`)).split("<h2>")[1];
    for (const t of [
      "Teste de carga mais recente",
      "Auditoria do cluster em execução",
      "Sincronização GitOps (Flux)",
    ]) {
      expect(section(t)).toContain("Não executado");
      expect(section(t)).not.toContain("Conforme");
    }
  });

  it("holds no PIN, passphrase or private key in any file (the secret scan has no exemption)", () => {
    for (const f of fs.readdirSync(dir)) {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      expect(text).not.toContain(USER_PIN);
      expect(text).not.toContain(PASSPHRASE);
      expect(text).not.toMatch(/PRIVATE KEY|BEGIN OPENSSH/);
    }
  });

  it("verifies with the trust anchor, and fails when one byte of report.json changes", () => {
    const ok = projectCommand(project, "evidence-verify", [dir]);
    expect(ok.stdout + ok.stderr).toMatch(
      /^verified: .* \(sequence 1 of stack evidencia; signed by evidencias-v1 SHA256:\S+, in the trust anchor \.local\/evidencias\/local\.yaml\)/,
    );
    expect(ok.status).toBe(0);
    const bytes = fs.readFileSync(path.join(dir, "report.json"));
    const copy = tempDir("evidence-tampered");
    for (const f of fs.readdirSync(dir)) fs.copyFileSync(path.join(dir, f), path.join(copy, f));
    // One byte: a digit of the commit's timestamp-independent field, the stack's config digest.
    const i = bytes.indexOf(Buffer.from('"configDigest": "sha256:')) + 24;
    const tampered = Buffer.from(bytes);
    tampered[i] = tampered[i] === 0x30 ? 0x31 : 0x30;
    fs.writeFileSync(path.join(copy, "report.json"), tampered);
    const bad = projectCommand(project, "evidence-verify", [copy]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/NOT verified[\s\S]*signature does not match report\.json/);
  });

  it("refuses a forged report re-signed with a fresh key published in the cluster's ConfigMap", () => {
    // The attack: change the commit, sign with a new key, and publish that key where the old verifier
    // looked (ConfigMap cartorio-kms-inventory). The anchor in the repository does not list it.
    const forger = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = forger.publicKey.export({ type: "spki", format: "pem" }).toString();
    const fp = fingerprintOfPem(pem);
    const copy = tempDir("evidence-forged");
    const forged = {
      ...report,
      commit: { sha: "f".repeat(40), dirty: false },
      signer: { ...report.signer, fingerprint: fp },
    };
    const bytes = Buffer.from(JSON.stringify(forged, null, 2) + "\n");
    fs.writeFileSync(path.join(copy, "report.json"), bytes);
    const sig = JSON.parse(fs.readFileSync(path.join(dir, "report.json.sig"), "utf8"));
    const signature = sign("sha256", bytes, { key: forger.privateKey, dsaEncoding: "ieee-p1363" });
    fs.writeFileSync(
      path.join(copy, "report.json.sig"),
      JSON.stringify({ ...sig, fingerprint: fp, signature: signature.toString("base64") }),
    );
    const inventory = JSON.stringify({
      keys: [{ label: report.signer.keyLabel, purpose: "evidence-signing", fingerprint: fp, publicKey: pem }],
    });
    fs.writeFileSync(
      path.join(copy, "configmap.yaml"),
      stringify({
        kind: "ConfigMap",
        metadata: { name: "cartorio-kms-inventory" },
        data: { "inventory.json": inventory },
      }),
    );
    const bad = projectCommand(project, "evidence-verify", [copy]);
    expect(bad.stderr).toContain(`key evidencias-v1 (${fp}) is not in the trust anchor .local/evidencias/local.yaml`);
    expect(bad.status).toBe(1);
    // The old way in is gone: there is no option to take keys from a ConfigMap.
    const old = projectCommand(project, "evidence-verify", [copy, "--inventory", path.join(copy, "configmap.yaml")]);
    expect(old.stderr).toMatch(/Unknown option '--inventory'/);
    expect(old.status).not.toBe(0);
  });

  it("chains three reports, verifies the chain with no HSM and no cluster, and names the gap when one is deleted", async () => {
    const outputs = await (await project.stack(STACK)).outputs();
    const second = runEvidence(project, STACK, outputs);
    const third = runEvidence(project, STACK, outputs);
    const r3 = JSON.parse(fs.readFileSync(path.join(third, "report.json"), "utf8")) as EvidenceReport;
    expect(r3.chain.sequence).toBe(3);
    expect(r3.chain.previous?.folder).toBe(path.basename(second));
    // An auditor's machine: no SoftHSM2 configuration, no PIN, no kubeconfig that answers.
    const auditor = Object.fromEntries(
      Object.entries({ ...process.env, ...project.env }).filter(([k]) => !/^(SOFTHSM2_CONF|CARTORIO_HSM_PIN)$/.test(k)),
    ) as Record<string, string>;
    auditor.KUBECONFIG = path.join(tempDir("sem-cluster"), "kubeconfig");
    const verify = (stackDir: string) =>
      spawnSync(
        process.execPath,
        [path.join(PROJECT_ROOT, "scripts/ops/run.mjs"), "evidence-verify", "--chain", stackDir],
        {
          cwd: project.dir,
          encoding: "utf8",
          env: { ...auditor, CARTORIO_PROJECT_ROOT: project.dir },
        },
      );
    const stackDir = path.dirname(dir);
    const ok = verify(stackDir);
    expect(ok.stdout).toMatch(/^verified: the chain .*: 3 reports, sequence 1 to 3, head /);
    expect(ok.status).toBe(0);
    const gap = tempDir("evidence-chain");
    fs.cpSync(stackDir, path.join(gap, STACK), { recursive: true });
    fs.rmSync(path.join(gap, STACK, path.basename(second)), { recursive: true });
    const bad = verify(path.join(gap, STACK));
    expect(bad.stderr).toContain(
      `sequence 2 missing between ${path.basename(dir)} (sequence 1) and ${path.basename(third)} (sequence 3): a report was deleted`,
    );
    expect(bad.status).toBe(1);
  });

  it("reports a key planted under an inventory label by attribute, and such a report does not verify", async () => {
    // A new key version declared in the inventory, and planted on the token before any up made it.
    const inventory = path.join(project.dir, "configs/kms/local.yaml");
    const today = new Date().toISOString().slice(0, 10);
    fs.appendFileSync(
      inventory,
      `  - id: carimbo\n    purpose: notarial-signing\n    algorithm: EC\n    curve: P-256\n    token: assinatura\n` +
        `    version: 1\n    cryptoperiodDays: 730\n    activatedOn: "${today}"\n    state: active\n`,
    );
    project.hsm.plantKeyPair("cartorio-local", USER_PIN, "carimbo-v1", {
      algorithm: "EC",
      curve: "P-256",
      extractable: true,
      sensitive: false,
    });
    try {
      const planted = runEvidence(project, STACK, await (await project.stack(STACK)).outputs(), ["--out", "plantada"]);
      const r = JSON.parse(fs.readFileSync(path.join(planted, "report.json"), "utf8")) as EvidenceReport;
      const key = r.keys.status === "collected" ? r.keys.data.keys.find((k) => k.label === "carimbo-v1") : undefined;
      expect(key?.problems.join("; ")).toMatch(/CKA_SENSITIVE is false .*CKA_EXTRACTABLE is true/);
      const html = fs.readFileSync(path.join(planted, "report.html"), "utf8");
      expect(html).toContain("CKA_EXTRACTABLE is true");
      const bad = projectCommand(project, "evidence-verify", [planted]);
      expect(bad.stderr).toMatch(/keys: carimbo-v1 does not conform: .*CKA_EXTRACTABLE is true/);
      expect(bad.status).toBe(1);
    } finally {
      fs.writeFileSync(inventory, fs.readFileSync(inventory, "utf8").split("  - id: carimbo")[0]);
    }
  });

  it("renders in headless Chromium with no console message, and a screenshot under .local/", () => {
    // With a load test in the report too, so the latency chart is drawn.
    const withLoad = validateReport({
      ...report,
      loadTest: {
        status: "collected",
        data: {
          passed: true,
          p95Ms: 182.4,
          p99Ms: 311.9,
          errorRate: 0.0012,
          achievedRps: 201.3,
          requests: 120780,
          thresholds: [
            { metric: "http_req_duration", expression: "p(95)<300", ok: true },
            { metric: "http_req_duration", expression: "p(99)<800", ok: true },
            { metric: "http_req_failed", expression: "rate<0.01", ok: true },
          ],
        },
      },
    });
    const out = path.join(PROJECT_ROOT, ".local/evidence");
    fs.mkdirSync(out, { recursive: true });
    // A failing report, as a reader must see one: written before Flux converged, a key that does not
    // conform, further down its chain; each says Não conforme and the page says what to do.
    const failing = validateReport({
      ...report,
      chain: {
        sequence: 3,
        previous: { sequence: 2, folder: "20261206T101500Z-abcdef012345", digest: "sha256:" + "e".repeat(64) },
      },
      flux: {
        status: "collected",
        data: {
          expected: report.commit.sha,
          revision: "main@sha1:" + "c".repeat(40),
          converged: false,
          detail: "Kustomization Ready=False (ReconciliationFailed)",
          waitedSeconds: 300,
          source: "Kustomization flux-system/flux-system status.lastAppliedRevision",
        },
      },
      keys:
        report.keys.status === "collected"
          ? {
              status: "collected",
              data: {
                ...report.keys.data,
                keys: report.keys.data.keys.map((k, i) =>
                  i === 0
                    ? {
                        ...k,
                        problems: [
                          "CKA_EXTRACTABLE is true (expected false: the private key must never leave the HSM)",
                        ],
                      }
                    : k,
                ),
              },
            }
          : report.keys,
    });
    const failingHtml = renderHtml(failing);
    for (const text of [
      "relatório nº 3",
      "20261206T101500Z-abcdef012345",
      "Relatório escrito antes da convergência",
      "CKA_EXTRACTABLE is true",
      "Se a verificação falhar",
      ".local/evidencias/local.yaml",
    ])
      expect(failingHtml).toContain(text);
    const summary = failingHtml.slice(failingHtml.indexOf("<h2>Resumo</h2>"), failingHtml.indexOf("<h2>Regras</h2>"));
    expect(summary).toMatch(/Sincronização GitOps \(Flux\)<\/td><td><span class="selo falha">Não conforme/);
    expect(summary).toMatch(/Inventário de chaves e criptoperíodos<\/td><td><span class="selo falha">Não conforme/);
    for (const [name, r] of [
      ["report", report],
      ["report-carga", withLoad],
      ["report-falha", failing],
    ] as const) {
      const html = path.join(out, `${name}.html`);
      fs.writeFileSync(html, name === "report" ? fs.readFileSync(path.join(dir, "report.html")) : renderHtml(r));
      const png = path.join(out, `${name}.png`);
      fs.rmSync(png, { force: true });
      const res = chromium(html, png);
      expect(res.console).toEqual([]);
      expect(fs.statSync(png).size).toBeGreaterThan(10_000);
    }
    // The check can fail: a script's console.error, and an outside stylesheet the page's CSP refuses.
    const bad = path.join(out, "controle.html");
    const page = renderHtml(withLoad)
      .replace("</head>", '<link rel="stylesheet" href="https://fonts.example.com/a.css"></head>')
      .replace("</body>", "<script>console.error('falha')</script></body>");
    fs.writeFileSync(bad, page);
    const res = chromium(bad, path.join(out, "controle.png"));
    expect(res.console.length).toBeGreaterThanOrEqual(2);
  });
});
