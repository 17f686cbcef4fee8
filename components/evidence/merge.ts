/**
 * How the deployed commit reached main, as the deploy job reads it from GitHub (or npm run ensaio from its
 * GitHub-like merge): the pull request, who merged it, the required checks' conclusions at merge time, and
 * any bypass of the ruleset. The evidence report's breakGlass part is judged from it: a merge whose required
 * checks did not all pass, or that GitHub records as a bypass, is break-glass use, named with who and why.
 * Plain module (zod only).
 */
import * as fs from "node:fs";
import { z } from "zod";

export const mergeRecordSchema = z
  .object({
    commit: z.string().regex(/^[0-9a-f]{40}$/, "expected the merge commit's 40-hex id"),
    /** null: the commit reached main without a pull request (only the App may do that, for CODEOWNERS). */
    pullRequest: z.number().int().positive().nullable(),
    method: z.enum(["merge", "squash", "rebase", "push"]),
    mergedBy: z.string().min(1),
    /** Every check the ruleset requires, with its conclusion on the PR's head at merge time. */
    requiredChecks: z.array(
      z
        .object({
          name: z.string().min(1),
          conclusion: z.enum(["success", "failure", "cancelled", "timed_out", "skipped", "neutral", "missing"]),
        })
        .strict(),
    ),
    /** The ruleset bypass GitHub recorded for this merge (rule insights), with the reason given in the PR. */
    bypass: z
      .object({ actor: z.string().min(1), reason: z.string().min(1) })
      .strict()
      .nullable(),
    /** Where the record was read (an API query, the rehearsal's merge helper). */
    source: z.string().min(1),
  })
  .strict();

export type MergeRecord = z.infer<typeof mergeRecordSchema>;

/** Reads and validates a merge record; the error names the file and each problem. */
export function readMergeRecord(file: string, commit: string): MergeRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`--merge ${file}: not a readable JSON file (${(e as Error).message})`);
  }
  const r = mergeRecordSchema.safeParse(raw);
  if (!r.success)
    throw new Error(
      `--merge ${file} is not a merge record:\n` +
        r.error.issues.map((i) => `  - ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n"),
    );
  if (r.data.commit !== commit)
    throw new Error(`--merge ${file} records commit ${r.data.commit}, but the report is of ${commit}`);
  return r.data;
}

/** The breakGlass part's data: used when a required check did not pass or GitHub recorded a bypass. */
export function breakGlassOf(m: MergeRecord): {
  used: boolean;
  who: string | null;
  reason: string | null;
  source: string;
} {
  const failed = m.requiredChecks.filter((c) => c.conclusion !== "success");
  const pr = m.pullRequest === null ? `commit ${m.commit.slice(0, 12)} pushed` : `PR #${m.pullRequest}`;
  if (!m.bypass && failed.length === 0)
    return {
      used: false,
      who: null,
      reason: null,
      source: `${m.source}; ${pr} merged by ${m.mergedBy}, every required check passed`,
    };
  const checks = failed.length
    ? `; required checks not passed: ${failed.map((c) => `${c.name} (${c.conclusion})`).join(", ")}`
    : "";
  return {
    used: true,
    who: m.bypass ? `${m.bypass.actor} (merged by ${m.mergedBy})` : m.mergedBy,
    reason: `${m.bypass?.reason ?? "no bypass reason recorded"}${checks}`,
    source: `${m.source}; ${pr}, ${m.method}`,
  };
}
