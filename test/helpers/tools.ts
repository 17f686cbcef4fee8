/**
 * Locating the real tools tests need. A missing tool is a test failure, never a
 * skip: under CI=true nothing may pass by not running.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const PROJECT_ROOT = path.resolve(__dirname, "../..");
export const SOFTHSM_MODULE = process.env.CARTORIO_TEST_PKCS11_MODULE ?? "/usr/lib/softhsm/libsofthsm2.so";

export function requireTool(name: string, hint: string): string {
  try {
    return execFileSync("bash", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(`${name} is not installed: ${hint}`);
  }
}

/** The pulumi CLI built by scripts/toolchain/build.sh (npm test exports its path). */
export function pulumiCli(): string {
  const fromEnv = process.env.CARTORIO_PULUMI_CLI;
  if (fromEnv && fs.existsSync(fromEnv)) return fromEnv;
  const version = JSON.parse(
    fs.readFileSync(path.join(PROJECT_ROOT, "node_modules/pulumi/package.json"), "utf8"),
  ).version;
  const home = process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi");
  const cli = path.join(home, "versions", version, "bin", "pulumi");
  if (!fs.existsSync(cli))
    throw new Error(`the pulumi CLI is not built at ${cli}: run scripts/toolchain/build.sh (npm test does)`);
  return cli;
}

/** Folder of opa/conftest/actionlint installed by the toolchain script. */
export function toolsBin(): string {
  return process.env.CARTORIO_TOOLS_BIN ?? path.join(os.homedir(), ".cache/cartorio-toolchain/bin");
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cartorio-${prefix}-`));
}
