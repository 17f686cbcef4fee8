/**
 * Reading k6's end-of-test summary (the JSON `handleSummary(data)` receives)
 * and classifying k6's exit codes. Plain module.
 *
 * Shape: data.metrics[name] = {type, contains, values, thresholds?: {expr: {ok}}};
 * trend values hold the configured stats (p(95), p(99) with --summary-trend-stats);
 * rate values {rate, passes, fails}; counter values {count, rate}.
 */

export interface ThresholdResult {
  metric: string;
  expression: string;
  ok: boolean;
}

export interface LoadTestResult {
  p95Ms: number | null;
  p99Ms: number | null;
  errorRate: number | null;
  achievedRps: number | null;
  requests: number;
  iterations: number;
  droppedIterations: number;
  thresholds: ThresholdResult[];
  passed: boolean;
  /** How long k6 ran (state.testRunDurationMs). */
  durationMs: number | null;
  /** Why the run failed when no threshold says so (exit 110: the script marked it failed). */
  failure?: string;
  /** Set when an abortOnFail threshold stopped the run before its planned end. */
  abortedEarly?: { afterSeconds: number; thresholds: string[] };
}

interface Metric {
  values?: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export class SummaryError extends Error {}

/** Parses the summary JSON text; throws SummaryError naming what is missing. */
export function parseSummary(text: string): LoadTestResult {
  let data: { metrics?: Record<string, Metric>; state?: { testRunDurationMs?: number } };
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SummaryError(`the k6 summary is not JSON: ${(e as Error).message}`);
  }
  const metrics = data?.metrics;
  if (!metrics || typeof metrics !== "object") throw new SummaryError("the k6 summary has no metrics object");
  const duration = metrics["http_req_duration{expected_response:true}"] ?? metrics["http_req_duration"];
  const value = (m: Metric | undefined, k: string) =>
    m?.values && typeof m.values[k] === "number" ? m.values[k] : null;
  const thresholds: ThresholdResult[] = Object.entries(metrics)
    .flatMap(([metric, m]) =>
      Object.entries(m.thresholds ?? {}).map(([expression, t]) => ({ metric, expression, ok: t.ok === true })),
    )
    .sort((a, b) => (a.metric + a.expression).localeCompare(b.metric + b.expression));
  return {
    p95Ms: value(duration, "p(95)"),
    p99Ms: value(duration, "p(99)"),
    errorRate: value(metrics["http_req_failed"], "rate"),
    achievedRps: value(metrics["http_reqs"], "rate"),
    requests: value(metrics["http_reqs"], "count") ?? 0,
    iterations: value(metrics["iterations"], "count") ?? 0,
    // k6 leaves the metric out when nothing was dropped.
    droppedIterations: value(metrics["dropped_iterations"], "count") ?? 0,
    thresholds,
    passed: thresholds.every((t) => t.ok),
    durationMs: typeof data.state?.testRunDurationMs === "number" ? data.state.testRunDurationMs : null,
  };
}

/**
 * Whether a failed run stopped early: it ended well before the profile's planned length (more than
 * 2 s or 5 % short), so an abortOnFail threshold stopped it; the crossed thresholds are named.
 */
export function abortedEarly(
  result: LoadTestResult,
  plannedSeconds: number,
): LoadTestResult["abortedEarly"] | undefined {
  if (result.passed || result.durationMs === null) return undefined;
  const ran = result.durationMs / 1000;
  if (plannedSeconds - ran <= Math.max(2, plannedSeconds * 0.05)) return undefined;
  return {
    afterSeconds: Math.round(ran * 10) / 10,
    thresholds: result.thresholds.filter((t) => !t.ok).map((t) => `${t.metric}: ${t.expression}`),
  };
}

export type RunOutcome =
  | { kind: "passed" }
  /** A verdict: thresholds crossed (99), or the script itself marked the run failed (110). */
  | { kind: "thresholds-failed" | "marked-failed"; detail: string }
  | { kind: "script-error"; detail: string }
  | { kind: "infrastructure-error"; detail: string };

/**
 * k6's exit codes, the whole list (go.k6.io/k6 errext/exitcodes): what the gate makes of each.
 * A verdict about the service (99, 110) fails the gate as a measurement; a broken script or
 * configuration is the script's owners' to fix; the rest is the run's environment.
 */
export const K6_EXIT_CODES: Record<number, RunOutcome> = {
  0: { kind: "passed" },
  97: { kind: "infrastructure-error", detail: "the cloud test run failed (exit 97)" },
  98: { kind: "infrastructure-error", detail: "k6 could not get the cloud test's progress (exit 98)" },
  99: { kind: "thresholds-failed", detail: "thresholds were crossed (exit 99)" },
  100: { kind: "script-error", detail: "setup() timed out (exit 100)" },
  101: { kind: "script-error", detail: "teardown() timed out (exit 101)" },
  102: { kind: "infrastructure-error", detail: "a k6 timeout with no reason given (exit 102)" },
  103: { kind: "infrastructure-error", detail: "the run was stopped through k6's REST API (exit 103)" },
  104: { kind: "script-error", detail: "invalid configuration: options or thresholds k6 refuses (exit 104)" },
  105: { kind: "infrastructure-error", detail: "the run was aborted from outside, SIGINT/SIGTERM (exit 105)" },
  106: { kind: "infrastructure-error", detail: "k6 could not start its REST API (exit 106)" },
  107: { kind: "script-error", detail: "the script threw an exception (exit 107)" },
  108: { kind: "script-error", detail: "the script aborted the test with test.abort() (exit 108)" },
  109: { kind: "infrastructure-error", detail: "k6 panicked (exit 109)" },
  110: { kind: "marked-failed", detail: "the script marked the run failed with exec.test.fail() (exit 110)" },
};

export function classifyExit(code: number | null, signal: string | null): RunOutcome {
  if (code !== null && K6_EXIT_CODES[code]) return K6_EXIT_CODES[code];
  if (signal) return { kind: "infrastructure-error", detail: `k6 was killed by ${signal}` };
  return { kind: "infrastructure-error", detail: `k6 exited with code ${code}, which is not one of k6's exit codes` };
}
