/**
 * Locating the real tools tests need. A missing tool is a test failure, never a
 * skip: under CI=true nothing may pass by not running.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { toolchainBin } from "../../components/platform/tools";

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
  return toolchainBin();
}

/** Temporary folders made since the last removeTempDirs(). */
const made: string[] = [];

/**
 * A new temporary folder, removed with everything in it once its test file is done (test/setup/temp.ts),
 * unless CARTORIO_KEEP_TEMP is set (to look at a failure). A full run makes thousands, clusters' etcd data
 * among them: gigabytes a run, which used to stay in /tmp until the disk was full.
 */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cartorio-${prefix}-`));
  if (!process.env.CARTORIO_KEEP_TEMP) made.push(dir);
  return dir;
}

/** Removes the folders tempDir() made (run after each test file's own afterAll, which stops what uses them). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // a folder something still holds open stays; the rest go
    }
  }
}

export { eventually } from "../../components/platform/eventually";
