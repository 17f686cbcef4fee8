/** The PR and deploy workflows: actionlint passes, and they do what the ruleset and the team process rely on. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { gitopsSchema } from "../../components/config/schema";
import { PROJECT_ROOT, toolsBin } from "../helpers/tools";

const wf = (name: string) => parse(fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows", name), "utf8"));

describe("workflows", () => {
  it("pass actionlint", () => {
    const actionlint = path.join(toolsBin(), "actionlint");
    if (!fs.existsSync(actionlint))
      throw new Error(`actionlint is not built at ${actionlint}: run scripts/toolchain/build.sh`);
    const res = spawnSync(actionlint, ["-color=false"], { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect(res.stdout + res.stderr).toBe("");
    expect(res.status).toBe(0);
  });

  it("the PR workflow provides every check the ruleset requires, and previews producao with the pack", () => {
    const pr = wf("pr.yml");
    const required = gitopsSchema.parse({}).requiredChecks;
    expect(Object.keys(pr.jobs).sort()).toEqual([...required].sort());
    const preview = pr.jobs.preview.steps.map((s: { run?: string }) => s.run ?? "").join("\n");
    expect(preview).toContain("npx pulumi preview --stack producao --policy-pack policypack");
    expect(pr.jobs.preview.steps.some((s: { uses?: string }) => s.uses?.startsWith("actions/github-script"))).toBe(
      true,
    );
  });

  it("the deploy workflow runs pulumi up in environment producao, one at a time, never cancelled", () => {
    const deploy = wf("deploy.yml");
    expect(deploy.on.push.branches).toEqual(["main"]);
    expect(deploy.concurrency).toEqual({ group: "pulumi-stack-producao", "cancel-in-progress": false });
    expect(deploy.jobs.up.environment).toBe("producao");
    expect(deploy.jobs.up.steps.map((s: { run?: string }) => s.run ?? "").join("\n")).toContain(
      "npx pulumi up --stack producao --policy-pack policypack",
    );
  });

  it("the deploy workflow appends each deployment's evidence to the chain on branch evidencias, verified whole", () => {
    const runs: string[] = wf("deploy.yml").jobs.up.steps.map((s: { run?: string }) => s.run ?? "");
    const at = (text: string) => runs.findIndex((r) => r.includes(text));
    // After the deployment; the chain fetched first, the report written into it, the whole chain checked, pushed.
    expect(at("npx pulumi up --stack producao")).toBeGreaterThanOrEqual(0);
    expect(at("git fetch --no-tags origin evidencias")).toBeGreaterThan(at("npx pulumi up --stack producao"));
    expect(at("npm run evidence -- --stack producao")).toBeGreaterThan(at("git fetch --no-tags origin evidencias"));
    expect(runs[at("npm run evidence -- --stack producao")]).toContain("--out evidencias-chain");
    expect(at("npm run evidence:verify -- --chain evidencias-chain/producao")).toBeGreaterThan(
      at("npm run evidence -- --stack producao"),
    );
    expect(at("HEAD:refs/heads/evidencias")).toBeGreaterThan(at("npm run evidence:verify -- --chain"));
    // A new chain only where the branch does not exist: --genesis is not passed unconditionally.
    expect(runs[at("git ls-remote --exit-code origin refs/heads/evidencias")]).toContain("genesis=--genesis");
    expect(runs[at("npm run evidence -- --stack producao")]).not.toMatch(/--genesis(\s|$)/);
  });
});

/** Every `secrets.NAME` a job can read: its own env, its steps' env and inputs, its `if`. */
function secretsOf(job: unknown): string[] {
  return [...new Set([...JSON.stringify(job).matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1]))].sort();
}

/** job -> [environment, secrets], over every workflow. */
function secretMatrix(): Record<string, { environment?: string; secrets: string[] }> {
  const out: Record<string, { environment?: string; secrets: string[] }> = {};
  for (const file of fs.readdirSync(path.join(PROJECT_ROOT, ".github/workflows"))) {
    const w = wf(file);
    expect(secretsOf({ env: w.env, on: w.on }), `${file}: secrets at workflow level reach every job`).toEqual([]);
    for (const [name, job] of Object.entries(w.jobs as Record<string, { environment?: string }>))
      out[`${file.replace(/\.yml$/, "")}/${name}`] = { environment: job.environment, secrets: secretsOf(job) };
  }
  return out;
}

describe("the pipeline's trust boundaries", () => {
  it("only two jobs see secrets, each only its environment's: the deploy job alone has the HSM PIN", () => {
    const m = secretMatrix();
    expect(m["pr/preview"]).toEqual({
      environment: "producao-preview",
      secrets: ["CARTORIO_GITHUB_READ_TOKEN", "KUBECONFIG_PRODUCAO_READONLY", "PULUMI_BACKEND_URL_READONLY"],
    });
    expect(m["deploy/up"]).toEqual({
      environment: "producao",
      secrets: ["CARTORIO_GITHUB_TOKEN", "CARTORIO_HSM_PIN", "KUBECONFIG_PRODUCAO", "PULUMI_BACKEND_URL"],
    });
    for (const [job, v] of Object.entries(m)) {
      if (job === "pr/preview" || job === "deploy/up") continue;
      expect(v.secrets, `${job} sees secrets`).toEqual([]);
    }
    const withPin = Object.entries(m).filter(([, v]) => v.secrets.includes("CARTORIO_HSM_PIN"));
    expect(withPin.map(([j]) => j)).toEqual(["deploy/up"]);
  });

  it("PRs from forks never reach the office runner; the deploy job runs only from main in environment producao", () => {
    const pr = wf("pr.yml");
    expect(pr.on).toEqual({ pull_request: { branches: ["main"] } });
    expect(pr.jobs.preview.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
    expect(pr.jobs.preview["runs-on"]).toEqual(["self-hosted", "cartorio-hsm-preview"]);
    for (const [name, job] of Object.entries(pr.jobs as Record<string, { "runs-on": unknown }>))
      if (name !== "preview") expect(job["runs-on"], name).toBe("ubuntu-latest");
    const deploy = wf("deploy.yml");
    expect(Object.keys(deploy.on).sort()).toEqual(["push", "workflow_dispatch"]);
    expect(deploy.jobs.up.environment).toBe("producao");
  });

  it("the README shows the same secret-to-job matrix", () => {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    for (const [job, v] of Object.entries(secretMatrix())) {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`${job}\``));
      expect(row, `README has no row for ${job}`).toBeDefined();
      const cells = row!.split("|").map((c) => c.trim());
      expect(cells[2], job).toBe(v.environment ? `\`${v.environment}\`` : "—");
      const listed = cells[3] === "none" ? [] : [...cells[3].matchAll(/`([A-Z0-9_]+)`/g)].map((x) => x[1]).sort();
      expect(listed, job).toEqual(v.secrets);
    }
  });

  it("every action is pinned by its full commit SHA, with the tag in a comment", () => {
    for (const file of fs.readdirSync(path.join(PROJECT_ROOT, ".github/workflows"))) {
      const text = fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows", file), "utf8");
      const uses = text.split("\n").filter((l) => /^\s*(- )?uses:/.test(l));
      expect(uses.length, file).toBeGreaterThan(0);
      for (const l of uses) expect(l, file).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
  });

  it("the scheduled workflow runs kms:expiry, which no PR job runs", () => {
    const s = wf("scheduled.yml");
    expect(s.on.schedule).toHaveLength(1);
    expect(JSON.stringify(s.jobs)).toContain("npm run kms:expiry -- --stack producao");
    expect(JSON.stringify(wf("pr.yml"))).not.toContain("kms:expiry");
  });
});
