/** Running the evidence commands on an engine project's checkout (test/evidence, test/engine/cluster). */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "vitest";
import type { EngineProject } from "./engine";
import { PROJECT_ROOT, toolsBin } from "./tools";

/** Runs an operator command of the project (scripts/<name>.ts) on the engine project's checkout. */
export function projectCommand(project: EngineProject, name: string, args: string[]) {
  return spawnSync(process.execPath, [path.join(PROJECT_ROOT, "scripts/run.mjs"), name, ...args], {
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

/**
 * The copy becomes a repository of its own (the report names the commit it evidences), then
 * `npm run evidence` runs on the stack with its outputs; returns the folder written.
 */
export function runEvidence(
  project: EngineProject,
  stack: string,
  outputs: Record<string, { value: unknown }>,
): string {
  const file = path.join(project.dir, `outputs-${stack}.json`);
  fs.writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]))));
  if (!fs.existsSync(path.join(project.dir, ".git")))
    for (const args of [
      ["init", "-q"],
      ["add", "-A"],
      ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"],
    ])
      expect(spawnSync("git", args, { cwd: project.dir }).status).toBe(0);
  const res = projectCommand(project, "evidence", ["--stack", stack, "--outputs", file]);
  expect(res.stderr).toBe("");
  expect(res.status).toBe(0);
  const dir = /^evidence: (\S+) /m.exec(res.stdout)?.[1];
  expect(dir).toBeDefined();
  return path.resolve(project.dir, dir!);
}
