/**
 * Shared argument handling of the operator commands (hsm:slots, kms:sync, …).
 * Plain logic only: these commands never load the Pulumi SDK.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { loadStackFile } from "../../components/config/load";
import type { KmsConfig } from "../../components/config/schema";

/**
 * The project folder: set by scripts/ops/run.mjs (bundled commands), else two folders up — from
 * scripts/ops/ (run from source) as from .local/bin/ (bundled) it is the project.
 */
export const PROJECT_ROOT = process.env.CARTORIO_PROJECT_ROOT ?? path.resolve(__dirname, "../..");

export interface OperatorOptions {
  stack: string;
  kms: KmsConfig;
  inventoryFile: string;
  apply: boolean;
}

/** Reads --stack (default local), --config (inventory), --module and --apply. */
export function operatorOptions(argv: string[], usage: string): OperatorOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      stack: { type: "string", default: "local" },
      config: { type: "string" },
      module: { type: "string" },
      apply: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const cfg = loadStackFile(PROJECT_ROOT, values.stack!);
  const kms: KmsConfig = { ...cfg.kms, ...(values.module ? { module: values.module } : {}) };
  const inventoryFile = path.resolve(PROJECT_ROOT, values.config ?? kms.inventory);
  return { stack: values.stack!, kms, inventoryFile, apply: values.apply! };
}

/** Runs a command body, printing a clean error (no stack trace) on failure. */
export function run(body: () => number): void {
  try {
    process.exitCode = body();
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exitCode = 2;
  }
}
