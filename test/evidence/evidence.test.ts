/**
 * The evidence report (npm run evidence, npm run evidence:verify) from a stack the real engine deployed:
 * keys made on a SoftHSM2 token by `pulumi up`, the report signed there with the inventory's
 * evidence-signing key and verified with the public key the stack published (its rendered ConfigMap).
 * The HTML is opened in headless Chromium (Debian's chromium): no console message (the page's CSP turns
 * any outside reference into one), and a screenshot under .local/.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { renderHtml } from "../../components/evidence/html";
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

  it("writes evidence/<stack>/<UTC>-<commit>/ with a report that validates against its schema", () => {
    const sha = spawnSync("git", ["rev-parse", "HEAD"], { cwd: project.dir, encoding: "utf8" }).stdout.trim();
    expect(path.basename(dir)).toMatch(new RegExp(`^\\d{8}T\\d{6}Z-${sha.slice(0, 12)}$`));
    expect(fs.readdirSync(dir).sort()).toEqual(["report.html", "report.json", "report.json.sig"]);
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
    for (const k of ["audit", "hpa", "flux", "loadTest"] as const) expect(report[k].status).toBe("not run");
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

  it("holds no PIN, passphrase or private key in any file", () => {
    // The local stacks' passphrase is public (scripts/local.sh) and is also their token's label (in the
    // inventory), which the report rightly names; any other passphrase must not appear.
    const passphrasePublic = fs
      .readFileSync(path.join(project.dir, "configs/kms/local.yaml"), "utf8")
      .includes(PASSPHRASE);
    for (const f of fs.readdirSync(dir)) {
      const text = fs.readFileSync(path.join(dir, f), "utf8");
      expect(text).not.toContain(USER_PIN);
      if (!passphrasePublic) expect(text).not.toContain(PASSPHRASE);
      expect(text).not.toMatch(/PRIVATE KEY|BEGIN OPENSSH/);
    }
  });

  it("verifies with the published public key, and fails when one byte of report.json changes", () => {
    const ok = projectCommand(project, "evidence-verify", [dir]);
    expect(ok.stdout + ok.stderr).toMatch(/^verified: /);
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
    for (const [name, r] of [
      ["report", report],
      ["report-carga", withLoad],
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
