/**
 * Running the real conftest for its verdicts (`conftest test … --output json`): one place for the evidence
 * report, the parity tests and the fuzzer, so all read its results, exit codes and errors the same way.
 * Plain module: no Pulumi import.
 */
import { spawnSync } from "node:child_process";
import { spawnProblem } from "../platform/tools";

/** One file's (or, with --combine, the whole input's) result as conftest prints it in JSON. */
export interface ConftestResult {
  filename: string;
  failures?: { msg: string }[];
  warnings?: { msg: string }[];
}

/**
 * `conftest test <args> --output json --no-color`. conftest exits 0 when nothing fails and 1 when a rule
 * denies; anything else, or output that is not its JSON, is a problem (with its exit code and stderr), never
 * an empty verdict.
 */
export function conftestTest(
  conftest: string,
  args: string[],
  maxBuffer = 256 * 1024 * 1024,
): { results: ConftestResult[] } | { problem: string } {
  const res = spawnSync(conftest, ["test", ...args, "--output", "json", "--no-color"], { encoding: "utf8", maxBuffer });
  if (res.error) return { problem: spawnProblem(conftest, res.error) };
  const why = `exit ${res.status}: ${res.stderr.trim().slice(0, 300)}`;
  if (res.status !== 0 && res.status !== 1) return { problem: `conftest failed (${why})` };
  try {
    const results = JSON.parse(res.stdout);
    if (!Array.isArray(results)) return { problem: `conftest gave no list of results (${why})` };
    return { results: results as ConftestResult[] };
  } catch {
    return { problem: `conftest gave no JSON result (${why})` };
  }
}

/** A result's messages: what it denies and what it warns of. */
export function messages(results: ConftestResult[]): { deny: string[]; warn: string[] } {
  return {
    deny: results.flatMap((r) => (r.failures ?? []).map((f) => f.msg)),
    warn: results.flatMap((r) => (r.warnings ?? []).map((f) => f.msg)),
  };
}
