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
}

interface Metric {
  values?: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export class SummaryError extends Error {}

/** Parses the summary JSON text; throws SummaryError naming what is missing. */
export function parseSummary(text: string): LoadTestResult {
  let data: { metrics?: Record<string, Metric> };
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
  };
}

export type RunOutcome =
  | { kind: "passed" }
  | { kind: "thresholds-failed" }
  | { kind: "script-error"; detail: string }
  | { kind: "infrastructure-error"; detail: string };

/** k6's documented exit codes: 99 is failed thresholds; everything else non-zero is a script or infrastructure error. */
export function classifyExit(code: number | null, signal: string | null): RunOutcome {
  if (code === 0) return { kind: "passed" };
  if (code === 99) return { kind: "thresholds-failed" };
  const scriptErrors: Record<number, string> = {
    104: "invalid configuration (exit 104)",
    107: "the script threw an exception (exit 107)",
    108: "the script aborted the test with test.abort() (exit 108)",
    100: "setup() timed out (exit 100)",
    101: "teardown() timed out (exit 101)",
  };
  if (code !== null && scriptErrors[code]) return { kind: "script-error", detail: scriptErrors[code] };
  if (signal) return { kind: "infrastructure-error", detail: `k6 was killed by ${signal}` };
  const infra: Record<number, string> = {
    97: "the cloud test failed (exit 97)",
    105: "the run was aborted from outside, SIGINT/SIGTERM (exit 105)",
    109: "k6 panicked (exit 109)",
    110: "the run was marked failed (exit 110)",
  };
  return { kind: "infrastructure-error", detail: (code !== null && infra[code]) || `k6 exited with code ${code}` };
}
