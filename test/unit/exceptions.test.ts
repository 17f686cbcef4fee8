/** The scheduled workflow's calendar of catalogue exceptions: warned weeks before one expires and fails every preview. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { CATALOGUE_FILE } from "../../components/policy/catalogue";
import { PROJECT_ROOT, tempDir } from "../helpers/tools";

const REASON = "A stand-in exception for the calendar's test, long enough to judge.";

/** The real catalogue with these exceptions instead of its own. */
function catalogue(exceptions: { rule: string; owner: string; expires: string }[]): string {
  const data = parse(fs.readFileSync(CATALOGUE_FILE, "utf8"));
  data.catalogue.exceptions = exceptions.map((e) => ({
    ...e,
    scope: { kind: "ClusterRole", name: "x" },
    reason: REASON,
  }));
  const file = path.join(tempDir("exceptions"), "catalogue.yaml");
  fs.writeFileSync(file, stringify(data));
  return file;
}

const calendar = (file: string, ...args: string[]) =>
  spawnSync(process.execPath, ["scripts/ops/run.mjs", "policy-exceptions", "--catalogue", file, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, GITHUB_ACTIONS: "true" },
    encoding: "utf8",
  });
const annotations = (out: string) => out.split("\n").filter((l) => l.startsWith("::"));

describe("npm run policy:exceptions -- --warn-days N", () => {
  const file = catalogue([
    { rule: "CART-RBAC-001", owner: "time-seguranca", expires: "2026-11-30" },
    { rule: "CART-RBAC-002", owner: "time-infraestrutura", expires: "2026-12-20" },
    { rule: "CART-RBAC-003", owner: "time-aplicacao", expires: "2027-06-01" },
  ]);

  it("an error for each expired exception, a warning for each expiring within N days (owner, rule, date), exit 1", () => {
    const res = calendar(file, "--warn-days", "30", "--now", "2026-12-01");
    expect(res.stderr).toBe("");
    expect(res.status).toBe(1);
    const [expired, expiring, ...rest] = annotations(res.stdout);
    expect(rest).toEqual([]);
    expect(expired).toMatch(/^::error file=.*catalogue\.yaml,title=CART-EXC-001::/);
    for (const s of ["CART-RBAC-001", "time-seguranca", "expired on 2026-11-30"]) expect(expired).toContain(s);
    expect(expiring).toMatch(/^::warning /);
    for (const s of ["CART-RBAC-002", "time-infraestrutura", "2026-12-20", "in 19 day(s)"])
      expect(expiring).toContain(s);
  });

  it("nothing within N days: no annotation, exit 0; N is the window", () => {
    const quiet = calendar(file, "--warn-days", "30", "--now", "2026-10-01");
    expect(annotations(quiet.stdout)).toEqual([]);
    expect(quiet.status).toBe(0);
    const wide = calendar(file, "--warn-days", "90", "--now", "2026-10-01");
    expect(annotations(wide.stdout).map((l) => /CART-RBAC-00\d/.exec(l)![0])).toEqual([
      "CART-RBAC-001",
      "CART-RBAC-002",
    ]);
    expect(wide.status).toBe(1);
    // --check alone is a 30-day window; without either, it only lists (npm run local) and exits 0.
    expect(annotations(calendar(file, "--check", "--now", "2026-11-01").stdout)).toHaveLength(1);
    expect(calendar(file, "--now", "2027-07-01").status).toBe(0);
  });

  it("runs every morning in the scheduled workflow", () => {
    const scheduled = parse(fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows/scheduled.yml"), "utf8"));
    const runs = Object.values(scheduled.jobs as Record<string, { steps: { run?: string }[] }>).flatMap((j) =>
      j.steps.map((s) => s.run ?? ""),
    );
    expect(runs).toContain("npm run policy:exceptions -- --warn-days 30");
    const scripts = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")).scripts;
    expect(scripts["policy:exceptions"]).toBe("bash scripts/with-node.sh node scripts/ops/run.mjs policy-exceptions");
  });
});
