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
});
