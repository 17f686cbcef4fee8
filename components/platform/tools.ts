/**
 * The programs the project's commands run, and how each is installed: a missing one is reported in one
 * line that names it and the command that installs it, never as a spawn error (`spawnSync conftest
 * ENOENT`). Plain module: no Pulumi import.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Where `npm run toolchain` (scripts/toolchain/build.sh) links the policy tools and kubectl. */
export const TOOLCHAIN_BIN = "~/.cache/cartorio-toolchain/bin";

/**
 * The toolchain's bin folder as this environment has it: $CARTORIO_TOOLS_BIN, else the bin of the toolchain
 * cache ($CARTORIO_TOOLCHAIN_CACHE, default ~/.cache/cartorio-toolchain). One answer for the embedded
 * cluster, the audit and the tests.
 */
export function toolchainBin(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.CARTORIO_TOOLS_BIN ??
    path.join(env.CARTORIO_TOOLCHAIN_CACHE ?? path.join(os.homedir(), ".cache/cartorio-toolchain"), "bin")
  );
}

const TOOLCHAIN = `npm run toolchain, then put ${TOOLCHAIN_BIN} on PATH (npm test and npm run local do both)`;

/** Install command of each tool a command of the project runs (Debian/Ubuntu packages as scripts/env.sh). */
export const INSTALL: Record<string, string> = {
  conftest: TOOLCHAIN,
  opa: TOOLCHAIN,
  actionlint: TOOLCHAIN,
  kubectl: TOOLCHAIN,
  pulumi: "npm run toolchain (it builds the Pulumi CLI into ~/.pulumi/versions/)",
  "softhsm2-util": "sudo apt-get install softhsm2",
  git: "sudo apt-get install git",
  ssh: "sudo apt-get install openssh-client",
  gpg: "sudo apt-get install gnupg",
  chromium: "sudo apt-get install --no-install-recommends chromium",
  k6: "the k6 release for your system (https://grafana.com/docs/k6/latest/set-up/install-k6/), or set loadtest.k6Path",
};

/** The executable `tool` names on PATH (or the path itself, when it has a slash), if there is one. */
export function findTool(tool: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const executable = (f: string) => {
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return fs.statSync(f).isFile();
    } catch {
      return false;
    }
  };
  const expand = (p: string) => (p.startsWith("~/") ? path.join(env.HOME ?? os.homedir(), p.slice(2)) : p);
  if (tool.includes("/")) return executable(expand(tool)) ? expand(tool) : undefined;
  for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const f = path.join(dir, tool);
    if (executable(f)) return f;
  }
  return undefined;
}

/** The one line for a tool that is not there: its name, what needs it, and how to install it. */
export function missingToolLine(tool: string, neededFor?: string): string {
  const name = path.basename(tool);
  const install = INSTALL[name] ?? `install ${name}`;
  const where = tool.includes("/") ? `${tool} does not exist or is not executable` : `${tool} is not on PATH`;
  return `${where}${neededFor ? ` (${neededFor} runs it)` : ""}: install it with ${install}`;
}

/** Undefined when `tool` can be run; else missingToolLine. */
export function toolProblem(
  tool: string,
  neededFor?: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return findTool(tool, env) ? undefined : missingToolLine(tool, neededFor);
}

/**
 * The line for a spawn that failed (spawnSync's `error`): a missing program is missingToolLine; anything
 * else says which program could not start, and why.
 */
export function spawnProblem(tool: string, error: Error, neededFor?: string): string {
  if ((error as NodeJS.ErrnoException).code === "ENOENT") return missingToolLine(tool, neededFor);
  return `${tool} could not start${neededFor ? ` (${neededFor} runs it)` : ""}: ${error.message}`;
}
