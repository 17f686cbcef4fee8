/**
 * npm run ensaio, end to end, as CI runs it (with --destroy): producao's configuration through the real engine,
 * policy pack, Flux, SoftHSM2 and the embedded cluster, against the stand-ins of Pulumi.ensaio.yaml. The script
 * itself fails on what it must not see (a refused commit applied, a guard rail gone after destroy, a new deploy
 * key after it); this file checks what it leaves: GitHub's requests as data, the trust model's verdicts, the
 * evidence chain.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { down } from "../../scripts/cluster/controlplane";
import { PROJECT_ROOT } from "../helpers/tools";

const E = path.join(PROJECT_ROOT, ".local/ensaio");
let out = "";
let status: number | null = null;
const record = (file: string) => JSON.parse(fs.readFileSync(path.join(E, "github", file), "utf8")).request;

describe("npm run ensaio: producao rehearsed on local stand-ins", () => {
  beforeAll(() => {
    const r = spawnSync(process.execPath, ["scripts/ops/run.mjs", "ensaio", "--destroy"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      timeout: 1_200_000,
    });
    out = `${r.stdout}\n${r.stderr}`;
    status = r.status;
  }, 1_300_000);
  afterAll(async () => {
    await down({ dir: path.join(E, "cluster"), log: () => undefined });
  });

  it("ends green: up with the policy pack, Flux verified, the load gate, the evidence, destroy and re-up", () => {
    expect(status, out.slice(-6000)).toBe(0);
    expect(out).toMatch(/Policies:\s+✅ cartorio-plataforma@/);
    expect(out).toMatch(/cartorio:loadtest:LoadGate/);
    expect(out).toMatch(/evidence: \.local\/ensaio\/evidencias\/ensaio\/\S+ .*signed with/);
    expect(out).toMatch(/up after destroy: the kept deploy key adopted/);
  });

  it("a merge by the GitHub-like flow syncs; an unsigned and a foreign-signed push are refused with source-controller's reason", () => {
    expect(out).toMatch(
      /refused \(unsigned\): InvalidCommitSignature: signature verification of commit '[0-9a-f]{40}' failed/,
    );
    expect(out).toMatch(/refused \(foreign-signed\): InvalidCommitSignature: .*no matching key/);
    const merge = /main is the merge commit of PR #3, ([0-9a-f]{12})/.exec(out)?.[1];
    expect(merge).toBeDefined();
    expect(out).toMatch(
      new RegExp(
        `kustomization.kustomize.toolkit.fluxcd.io/cartorio-apps\\s+\\S+\\s+True\\s+Applied revision: main@sha1:${merge}`,
      ),
    );
  });

  it("destroy kept the workload's guard rails: NetworkPolicy, HPA, PDB and cartorio-kms-inventory", () => {
    const after = out.slice(out.indexOf("(after pulumi destroy)"));
    for (const o of [
      "networkpolicy.networking.k8s.io/default-deny",
      "horizontalpodautoscaler.autoscaling/cartorio-api",
      "poddisruptionbudget.policy/cartorio-api",
      "configmap/cartorio-kms-inventory",
    ])
      expect(after).toContain(o);
  });

  it("GitHub's requests, as data: ruleset, environment, runner groups and deploy key say what producao needs", () => {
    const files = fs.readdirSync(path.join(E, "github")).sort();
    expect(files).toEqual([
      "ActionsRunnerGroup.repository-runners-deploy.json",
      "ActionsRunnerGroup.repository-runners-preview.json",
      "RepositoryDeployKey.repository-deploy-key.json",
      "RepositoryEnvironment.repository-environment-producao.json",
      "RepositoryFile.repository-codeowners.json",
      "RepositoryRuleset.repository-ruleset-evidencias.json",
      "RepositoryRuleset.repository-ruleset.json",
    ]);
    const ruleset = record("RepositoryRuleset.repository-ruleset.json");
    expect(ruleset.rules).toMatchObject({ requiredSignatures: true, nonFastForward: true, deletion: true });
    expect(ruleset.rules.requiredStatusChecks.requiredChecks.map((c: { context: string }) => c.context)).toEqual(
      expect.arrayContaining(["test", "conftest", "preview"]),
    );
    // The App bypasses to commit CODEOWNERS; break glass is a named team, through a PR only.
    expect(ruleset.bypassActors).toEqual([
      { actorId: 1048576, actorType: "Integration", bypassMode: "always" },
      { actorId: { teamSlug: "time-seguranca" }, actorType: "Team", bypassMode: "pull_request" },
    ]);
    expect(record("RepositoryEnvironment.repository-environment-producao.json")).toEqual({
      repository: "infraestrutura",
      environment: "producao",
      preventSelfReview: true,
      canAdminsBypass: false,
      reviewers: [{ teams: [{ teamSlug: "time-infraestrutura" }] }],
      deploymentBranchPolicy: { protectedBranches: true, customBranchPolicies: false },
    });
    const deploy = record("ActionsRunnerGroup.repository-runners-deploy.json");
    expect(deploy).toMatchObject({
      name: "cartorio-hsm",
      visibility: "selected",
      allowsPublicRepositories: false,
      restrictedToWorkflows: true,
      selectedWorkflows: ["cartorio-digital/infraestrutura/.github/workflows/deploy.yml@refs/heads/main"],
    });
    const key = record("RepositoryDeployKey.repository-deploy-key.json");
    expect(key).toMatchObject({ repository: "infraestrutura", readOnly: true });
    expect(key.key).toMatch(/^ecdsa-sha2-nistp384 /);
  });

  it("the evidence report is of the merge Flux applied, and says how it reached main: PR #3, checks passed, no break glass", () => {
    const chain = path.join(E, "evidencias/ensaio");
    const last = fs.readdirSync(chain).sort().at(-1)!;
    const report = JSON.parse(fs.readFileSync(path.join(chain, last, "report.json"), "utf8"));
    expect(report.flux.status).toBe("collected");
    expect(report.flux.data.converged).toBe(true);
    expect(report.breakGlass).toEqual({
      status: "collected",
      data: expect.objectContaining({ used: false, source: expect.stringMatching(/PR #3 merged by mantenedora/) }),
    });
  });
});
