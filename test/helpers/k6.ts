/**
 * Which k6 the load tests run (test/loadtest/loadtest.test.ts, test/loadtest/capacity.test.ts): the stand-in
 * always, the real k6 too when it is on PATH. A real k6 that is absent is never dropped silently:
 *
 * - k6 on PATH: its suite runs, beside the stand-in's.
 * - no k6, CARTORIO_NO_REAL_K6 set (a sentence: why this environment has no k6): each load-test file shows
 *   a test titled with that reason, which passes, and says what the stand-in proves and what it cannot.
 * - no k6, CI=true and no CARTORIO_NO_REAL_K6: each load-test file has a test that FAILS, saying to install
 *   k6 or to declare why this CI cannot have it. CI never passes by not running the real k6 unannounced.
 * - no k6 outside CI, no declaration: the same visible test passes, titled "not on PATH (outside CI)".
 * - k6 on PATH and CARTORIO_NO_REAL_K6 set: the declaration is stale; the real suite runs and a test fails
 *   asking to remove it.
 *
 * What the stand-in (test/k6-standin/k6) proves: the provider's side of k6's documented CLI contract. It
 * takes the arguments the provider passes (`k6 run --no-color --summary-trend-stats … -e K=V … script.js`,
 * `k6 version`); loads the real scripts of testes/performance/ as ES modules (k6/http and k6 shimmed); runs
 * their ramping-arrival-rate and constant-arrival-rate scenarios at the documented rates (startTime, stages,
 * timeUnit, maxVUs, dropped_iterations) with real HTTP requests to the test's server; judges thresholds in
 * k6's syntax (string and object form, sub-metrics by scenario and expected_response, abortOnFail after
 * delayAbortEval); hands handleSummary(data) k6's summary shape, so the summary file the provider reads is
 * written by the scripts' own handleSummary; and exits as k6 documents: 0 passed, 99 thresholds crossed
 * (also when aborted by one), 104 invalid options or arguments, 107 a script exception. So the provider's
 * argument building, summary parsing, exit-code classification, clean-up and gate decisions are proven
 * against the contract, with the repository's real scripts.
 *
 * What only a real k6 proves: that k6 itself keeps that contract at the pinned version (its flags, its
 * summary's exact field names and numbers, its exit codes); that the scripts run in k6's JavaScript runtime
 * (goja: per-iteration JavaScript, VU state, sleep, checks judged by the script rather than assumed on a
 * 200, custom metrics, groups, tags beyond the two above, executors other than the two arrival-rate ones);
 * and k6's own timing, VU allocation and percentile arithmetic under load. A capacity figure measured only
 * through the stand-in is the stand-in's pacing, not k6's.
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "./tools";

export const STANDIN = path.join(PROJECT_ROOT, "test/k6-standin/k6");

/** The environment variable that declares, with its reason, that this environment has no real k6. */
export const NO_REAL_K6 = "CARTORIO_NO_REAL_K6";

function realK6(): string | undefined {
  try {
    return execFileSync("bash", ["-c", "command -v k6"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const real = realK6();
const declared = process.env[NO_REAL_K6]?.trim() || undefined;
const ci = !!process.env.CI && !["false", "0"].includes(process.env.CI.toLowerCase());

/** [name, path] of every k6 there is, for describe.each. */
export const K6_RUNNERS: [string, string][] = [
  ["stand-in", STANDIN],
  ...(real ? [["k6", real] as [string, string]] : []),
];

const STANDIN_PROVES =
  "the stand-in proves the provider against k6's documented CLI contract (arguments, summary via handleSummary, " +
  "exit codes 0/99/104/107, thresholds and abortOnFail) with the real scripts";
const ONLY_REAL_PROVES =
  "only a real k6 proves k6 keeps that contract, runs the scripts in its own JavaScript runtime, and k6's own " +
  "timing and percentiles under load (see test/helpers/k6.ts)";

/**
 * The real k6's place in a load-test file, always visible: a test that passes when the real suite runs or
 * its absence is declared (CARTORIO_NO_REAL_K6, titled with the reason), and fails under CI=true when k6 is
 * missing without a declaration, or when a declaration says k6 is missing while it is on PATH.
 * `suite` names the file's suite (e.g. "load test").
 */
export function realK6Policy(suite: string): void {
  if (real && declared) {
    describe(`real k6: found at ${real}, the ${suite} runs through it`, () => {
      it(`but ${NO_REAL_K6} still says "${declared}": remove it from this environment`, () => {
        expect.fail(`${NO_REAL_K6}="${declared}" while k6 is on PATH at ${real}; the declaration is stale`);
      });
    });
  } else if (real) {
    describe(`real k6: found at ${real}`, () => {
      it(`the ${suite} runs through it as well as through the stand-in`, () => {
        expect(K6_RUNNERS.map(([name]) => name)).toEqual(["stand-in", "k6"]);
      });
    });
  } else if (declared) {
    describe(`real k6: NOT RUN, declared absent (${NO_REAL_K6}): ${declared}`, () => {
      it(`the ${suite} ran through the stand-in only: ${STANDIN_PROVES}; ${ONLY_REAL_PROVES}`, () => {
        expect(declared.length, `${NO_REAL_K6} must give the reason`).toBeGreaterThan(0);
        expect(K6_RUNNERS.map(([name]) => name)).toEqual(["stand-in"]);
      });
    });
  } else if (ci) {
    describe("real k6: NOT ON PATH under CI=true", () => {
      it(`the ${suite} must run through the real k6 in CI, or ${NO_REAL_K6} must say why it cannot`, () => {
        expect.fail(
          `k6 is not on PATH and CI=true: install k6, or set ${NO_REAL_K6}="<why this CI has no k6>" ` +
            `(e.g. in .ci/run). Without it only the stand-in ran: ${STANDIN_PROVES}; ${ONLY_REAL_PROVES}.`,
        );
      });
    });
  } else {
    describe("real k6: not on PATH (outside CI)", () => {
      it(`the ${suite} ran through the stand-in only: ${STANDIN_PROVES}; ${ONLY_REAL_PROVES}`, () => {
        expect(K6_RUNNERS.map(([name]) => name)).toEqual(["stand-in"]);
      });
    });
  }
}
