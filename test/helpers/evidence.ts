/** Running the evidence commands on an engine project's checkout (test/evidence, test/engine/cluster). */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "vitest";
import type { EngineProject } from "./engine";
import { PROJECT_ROOT, toolsBin } from "./tools";

/** Runs an operator command of the project (scripts/<name>.ts) on the engine project's checkout. */
export function projectCommand(project: EngineProject, name: string, args: string[]) {
  return spawnSync(process.execPath, [path.join(PROJECT_ROOT, "scripts/ops/run.mjs"), name, ...args], {
    cwd: project.dir,
    encoding: "utf8",
    env: {
      ...process.env,
      ...project.env,
      CARTORIO_PROJECT_ROOT: project.dir,
      PATH: `${toolsBin()}${path.delimiter}${process.env.PATH}`,
    },
  });
}

/** The copy becomes a repository of its own (the report names the commit it evidences); returns its HEAD. */
export function commitCopy(project: EngineProject): string {
  if (!fs.existsSync(path.join(project.dir, ".git")))
    for (const args of [
      ["init", "-q"],
      ["add", "-A"],
      ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"],
    ])
      expect(spawnSync("git", args, { cwd: project.dir }).status).toBe(0);
  return spawnSync("git", ["rev-parse", "HEAD"], { cwd: project.dir, encoding: "utf8" }).stdout.trim();
}

/**
 * `npm run evidence` on the stack with its outputs, as npm run local runs it: the stack's trust anchor
 * written from its token first (evidence:anchor), and --genesis only when the stack has no report yet.
 * Returns the folder written. `args` go to the command (e.g. --out).
 */
export function runEvidence(
  project: EngineProject,
  stack: string,
  outputs: Record<string, { value: unknown }>,
  args: string[] = [],
): string {
  const file = path.join(project.dir, `outputs-${stack}.json`);
  fs.writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]))));
  commitCopy(project);
  const anchor = projectCommand(project, "evidence-anchor", ["--stack", stack]);
  expect(anchor.stderr).toBe("");
  expect(anchor.status).toBe(0);
  const outIndex = args.indexOf("--out");
  const stackDir = path.join(project.dir, outIndex >= 0 ? args[outIndex + 1] : "evidence", stack);
  const first = !fs.existsSync(stackDir) || fs.readdirSync(stackDir).length === 0;
  const res = projectCommand(project, "evidence", [
    "--stack",
    stack,
    "--outputs",
    file,
    ...(first ? ["--genesis"] : []),
    ...args,
  ]);
  expect(res.stderr.split("\n").filter((l) => l && !l.startsWith("evidence: waiting for Flux"))).toEqual([]);
  expect(res.status).toBe(0);
  const dir = /^evidence: (\S+) /m.exec(res.stdout)?.[1];
  expect(dir).toBeDefined();
  return path.resolve(project.dir, dir!);
}
