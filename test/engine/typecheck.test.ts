/**
 * The engine tests run the program with PULUMI_NODEJS_TRANSPILE_ONLY=true (test/helpers/engine.ts): ts-node
 * strips the types without checking them, so a type error a user's `pulumi up` would stop on passes them.
 * This file closes that gap: `tsc --noEmit -p` over the very copy the engine tests run (copyProgram(), the
 * same files and edits as engineProject()), with the copy's own tsconfig.json. That checks every file the
 * tsconfig includes (index.ts, components/, policypack/ — the pack is bundled by esbuild, which checks no
 * types either), a superset of what ts-node would check (only the modules the program loads).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { copyProgram, typecheckProgram } from "../helpers/engine";

const TSC_TIMEOUT = 300_000;
const PLANTED = 'const n: number = "x";';

describe("the program the engine tests run, type-checked (they run it transpile-only)", () => {
  it(
    "tsc --noEmit -p on the engine tests' copy of the program finds no error",
    () => {
      const dir = copyProgram();
      expect(fs.existsSync(path.join(dir, "tsconfig.json"))).toBe(true);
      const result = typecheckProgram(dir);
      expect(result.output).toBe("");
      expect(result.ok).toBe(true);
    },
    TSC_TIMEOUT,
  );

  // The check can fail: a type error planted where each part of the program lives fails it with
  // TypeScript's own words, naming the file and line.
  it.each([
    ["the program's entry point", "index.ts"],
    ["a component the program imports", "components/scaling/plan.ts"],
    ["the policy pack (bundled by esbuild, unchecked otherwise)", "policypack/index.ts"],
  ])(
    `${PLANTED} appended to %s (%s) fails the check with the TypeScript error`,
    (_where, file) => {
      const dir = copyProgram();
      const target = path.join(dir, file);
      const lines = fs.readFileSync(target, "utf8").split("\n").length;
      fs.appendFileSync(target, `\n${PLANTED}\n`);
      const result = typecheckProgram(dir);
      expect(result.ok).toBe(false);
      const where = file.replace(/[./]/g, (c) => `\\${c}`);
      expect(result.output).toMatch(
        new RegExp(`${where}\\(${lines + 1},7\\): error TS2322: Type 'string' is not assignable to type 'number'\\.`),
      );
    },
    TSC_TIMEOUT,
  );
});
