/**
 * Running k6 once: the profile goes in as -e variables, the summary comes back
 * through handleSummary (SUMMARY_PATH), progress lines go to a file an operator
 * can tail, and a timeout kills the run. Plain module (the provider, the tests
 * and any operator script share it).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { abortedEarly, classifyExit, LoadTestResult, parseSummary, RunOutcome } from "./summary";

export interface LoadProfile {
  baselineRps: number;
  peakRps: number;
  peakDurationSeconds: number;
  rampSeconds: number;
  preAllocatedVUs: number;
  maxVUs: number;
}

export interface LoadThresholds {
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
  minSamples: number;
  /** delayAbortEval of the latency and error thresholds, in seconds (default 10). */
  abortDelaySeconds?: number;
}

export interface RunSpec {
  k6Path: string;
  scriptPath: string;
  target: string;
  profile: LoadProfile;
  thresholds: LoadThresholds;
  timeoutSeconds: number;
  progressFile: string;
}

export class LoadTestError extends Error {
  constructor(
    readonly kind:
      | "missing-binary"
      | "unreachable"
      | "timeout"
      | "script-error"
      | "infrastructure-error"
      | "thresholds-failed",
    message: string,
    readonly result?: LoadTestResult,
  ) {
    super(message);
    this.name = "LoadTestError";
  }
}

/** The environment the script reads (see testes/performance/producao.js). */
export function scriptEnv(spec: RunSpec, summaryPath: string): Record<string, string> {
  const p = spec.profile;
  const t = spec.thresholds;
  return {
    TARGET_URL: spec.target,
    BASELINE_RPS: String(p.baselineRps),
    PEAK_RPS: String(p.peakRps),
    RAMP_SECONDS: String(p.rampSeconds),
    PEAK_DURATION_SECONDS: String(p.peakDurationSeconds),
    PRE_ALLOCATED_VUS: String(p.preAllocatedVUs),
    MAX_VUS: String(p.maxVUs),
    P95_MS: String(t.p95Ms),
    P99_MS: String(t.p99Ms),
    ERROR_RATE: String(t.errorRate),
    MIN_SAMPLES: String(t.minSamples),
    ABORT_DELAY_SECONDS: String(t.abortDelaySeconds ?? 10),
    SUMMARY_PATH: summaryPath,
  };
}

export function k6Args(spec: RunSpec, summaryPath: string): string[] {
  return invocationArgs({ ...spec, env: scriptEnv(spec, summaryPath) });
}

/** SHA-256 of the script, so a changed script makes a new run. */
export function scriptDigest(scriptPath: string): string {
  return createHash("sha256").update(fs.readFileSync(scriptPath)).digest("hex");
}

/** Fails fast, before k6 starts, when nothing listens at the target. */
export async function checkReachable(target: string, timeoutMs = 5000): Promise<void> {
  const u = new URL(target);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: u.hostname, port });
    const done = (err?: Error) => {
      socket.destroy();
      if (err)
        reject(
          new LoadTestError(
            "unreachable",
            `the load-test target ${target} is unreachable (${err.message}); nothing was measured`,
          ),
        );
      else resolve();
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no answer in ${timeoutMs} ms`)));
    socket.once("connect", () => done());
    socket.once("error", (e) => done(e));
  });
}

/** One k6 invocation: which binary, which script with which -e variables, how long at most. */
export interface K6Invocation {
  k6Path: string;
  scriptPath: string;
  target: string;
  env: Record<string, string>;
  timeoutSeconds: number;
  progressFile: string;
}

export function invocationArgs(inv: K6Invocation): string[] {
  const env = Object.entries(inv.env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  return ["run", "--no-color", "--summary-trend-stats", "avg,min,med,max,p(90),p(95),p(99)", ...env, inv.scriptPath];
}

/**
 * Runs k6 once: returns the summary's text and how k6 ended (a verdict: passed, thresholds crossed, marked
 * failed); throws LoadTestError for anything that is not a verdict. SUMMARY_PATH is set here, to a
 * temporary file read back and removed.
 */
export async function invokeK6(inv: K6Invocation): Promise<{ summary: string; outcome: RunOutcome; exitCode: number }> {
  await checkReachable(inv.target);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "cartorio-k6-"));
  // Removed however the run ends (a verdict, a script error, a timeout): nothing left behind in /tmp.
  try {
    const summaryPath = path.join(work, "summary.json");
    const args = invocationArgs({ ...inv, env: { ...inv.env, SUMMARY_PATH: summaryPath } });
    fs.mkdirSync(path.dirname(path.resolve(inv.progressFile)), { recursive: true });
    const progress = fs.createWriteStream(inv.progressFile, { flags: "w" });
    const stamp = (line: string) => progress.write(`${new Date().toISOString()} ${line}\n`);
    stamp(`k6 ${args.join(" ")}`);

    const child = spawn(inv.k6Path, args, { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk
        .toString("utf8")
        .split(/\r?\n|\r/)
        .filter((l) => l.trim())) {
        stamp(line);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 5000).unref();
    }, inv.timeoutSeconds * 1000);

    const { code, signal, spawnError } = await new Promise<{
      code: number | null;
      signal: string | null;
      spawnError?: NodeJS.ErrnoException;
    }>((resolve) => {
      child.once("error", (e: NodeJS.ErrnoException) => resolve({ code: null, signal: null, spawnError: e }));
      child.once("close", (c, s) => resolve({ code: c, signal: s }));
    });
    clearTimeout(timer);
    stamp(`finished: code ${code} signal ${signal ?? "-"}${timedOut ? " (timeout)" : ""}`);
    await new Promise((r) => progress.end(r));

    if (spawnError) {
      throw new LoadTestError(
        "missing-binary",
        spawnError.code === "ENOENT"
          ? `k6 was not found at '${inv.k6Path}': install k6 or set loadtest.k6Path`
          : `could not start k6 at '${inv.k6Path}': ${spawnError.message}`,
      );
    }
    if (timedOut)
      throw new LoadTestError(
        "timeout",
        `the load test ran longer than ${inv.timeoutSeconds} s (loadtest.timeoutSeconds) and was stopped`,
      );

    const outcome = classifyExit(code, signal);
    if (outcome.kind === "script-error" || outcome.kind === "infrastructure-error") {
      throw new LoadTestError(
        outcome.kind,
        `${outcome.kind === "script-error" ? "k6 script error" : "k6 infrastructure error"}: ${outcome.detail}; last output:\n${tail.join("\n")}`,
      );
    }
    if (!fs.existsSync(summaryPath)) {
      throw new LoadTestError(
        "script-error",
        `k6 wrote no summary to ${summaryPath}: the script must export handleSummary (testes/performance/ does)`,
      );
    }
    const summary = fs.readFileSync(summaryPath, "utf8");
    return { summary, outcome, exitCode: code ?? -1 };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Runs the gate's profile once and returns the parsed summary; throws LoadTestError for anything but a verdict. */
export async function runK6(spec: RunSpec): Promise<{ result: LoadTestResult; exitCode: number }> {
  const { summary, outcome, exitCode } = await invokeK6({ ...spec, env: scriptEnv(spec, "") });
  const parsed = parseSummary(summary);
  // A verdict from the exit code wins over thresholds that read ok (110 marks the run failed without one).
  const result =
    outcome.kind === "thresholds-failed" || outcome.kind === "marked-failed"
      ? { ...parsed, passed: false, ...(outcome.kind === "marked-failed" ? { failure: outcome.detail } : {}) }
      : parsed;
  const early = abortedEarly(result, plannedSeconds(spec.profile));
  return { result: early ? { ...result, abortedEarly: early } : result, exitCode };
}

/** The profile's length: ramp up, hold the peak, ramp down (testes/performance/producao.js's stages). */
export function plannedSeconds(p: LoadProfile): number {
  return 2 * p.rampSeconds + p.peakDurationSeconds;
}
