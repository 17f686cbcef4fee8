/**
 * Break glass in the evidence (components/evidence/merge.ts): how the deployed commit reached main decides the
 * report's breakGlass part — a merge whose required checks did not all pass, or one GitHub records as a bypass,
 * is named with who and why; a clean one says so with its source; a bad record stops the command.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { breakGlassOf, readMergeRecord, type MergeRecord } from "../../components/evidence/merge";
import { tempDir } from "../helpers/tools";

const COMMIT = "a".repeat(40);
const clean: MergeRecord = {
  commit: COMMIT,
  pullRequest: 12,
  method: "squash",
  mergedBy: "mantenedora",
  requiredChecks: ["typecheck", "lint", "test", "conftest", "preview"].map((name) => ({ name, conclusion: "success" })),
  bypass: null,
  source: "GitHub API",
};

describe("break glass, from the merge record", () => {
  it("a merge whose required checks all passed: no break-glass use, with its source", () => {
    expect(breakGlassOf(clean)).toEqual({
      used: false,
      who: null,
      reason: null,
      source: "GitHub API; PR #12 merged by mantenedora, every required check passed",
    });
  });

  it("the break-glass team's bypass of a failing preview is named: who, why, and which checks did not pass", () => {
    const bypassed: MergeRecord = {
      ...clean,
      mergedBy: "seguranca-plantao",
      requiredChecks: clean.requiredChecks.map((c) => (c.name === "preview" ? { ...c, conclusion: "failure" } : c)),
      bypass: {
        actor: "time-seguranca",
        reason: "CART-EXC-001: the exception of CART-IMG-001 expired; this PR renews it",
      },
    };
    expect(breakGlassOf(bypassed)).toEqual({
      used: true,
      who: "time-seguranca (merged by seguranca-plantao)",
      reason:
        "CART-EXC-001: the exception of CART-IMG-001 expired; this PR renews it; required checks not passed: preview (failure)",
      source: "GitHub API; PR #12, squash",
    });
    // A check that never reported counts as not passed, bypass recorded or not.
    const missing = { ...clean, requiredChecks: [{ name: "conftest", conclusion: "missing" as const }] };
    expect(breakGlassOf(missing)).toMatchObject({
      used: true,
      reason: "no bypass reason recorded; required checks not passed: conftest (missing)",
    });
  });

  it("a record of another commit, or not a record, stops the command naming the file", () => {
    const dir = tempDir("merge");
    const file = path.join(dir, "merge.json");
    fs.writeFileSync(file, JSON.stringify(clean));
    expect(readMergeRecord(file, COMMIT)).toEqual(clean);
    expect(() => readMergeRecord(file, "b".repeat(40))).toThrow(/records commit a{40}, but the report is of b{40}/);
    fs.writeFileSync(file, JSON.stringify({ ...clean, method: "force" }));
    expect(() => readMergeRecord(file, COMMIT)).toThrow(/merge\.json is not a merge record:\n {2}- method:/);
  });
});
