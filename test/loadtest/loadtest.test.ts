/**
 * The load-test provider against the k6 stand-in (test/k6-standin/k6) and, when
 * a real k6 is on PATH, against it too, with a target served on 127.0.0.1.
 *
 * The stand-in proves the provider against k6's documented CLI contract: the arguments it passes
 * (`k6 run --no-color --summary-trend-stats … -e K=V … script.js`), the summary the scripts' own
 * handleSummary writes in k6's shape, the exit codes (0 passed, 99 thresholds crossed or aborted by one,
 * 104 bad options, 107 script exception) and k6's threshold syntax with abortOnFail, through the real
 * testes/performance/ scripts and real HTTP. Only a real k6 proves that k6 itself keeps that contract at
 * its version, that the scripts run in k6's JavaScript runtime, and k6's own timing and percentiles.
 * A real k6 that is absent is never silent (test/helpers/k6.ts, realK6Policy): under CI=true this file
 * fails unless CARTORIO_NO_REAL_K6 gives the reason, which then titles a test of its own.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadStackFile } from "../../components/config/load";
import type { CapacityMeasurement } from "../../components/loadtest/measure";
import { LoadTestInputs, loadTestProvider, LoadTestOutputs, rerunKey } from "../../components/loadtest/provider";
import { RunSpec, scriptDigest } from "../../components/loadtest/runner";
import { classifyExit, parseSummary, SummaryError } from "../../components/loadtest/summary";
import { capacityPlan } from "../../components/scaling/plan";
import { K6_RUNNERS, realK6Policy, STANDIN } from "../helpers/k6";
import { PROJECT_ROOT, tempDir } from "../helpers/tools";

/** The work folders of k6 runs (components/loadtest/runner.ts) now in the temporary directory. */
const k6WorkDirs = () => new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("cartorio-k6-")));
// The runs' work folders go under a temporary folder of this file's own (os.tmpdir() reads TMPDIR at each call):
// another file's load gate (the ensaio rehearsal's, run beside this one) makes its own in the shared /tmp.
process.env.TMPDIR = fs.mkdtempSync(path.join(os.tmpdir(), "cartorio-loadtest-tmp-"));

const SCRIPT = path.join(PROJECT_ROOT, "testes/performance/producao.js");
// The same tests run against every k6 there is: the stand-in always, the real one when installed; the
// real one's absence is a visible test (a failing one under CI=true unless CARTORIO_NO_REAL_K6 says why).
const RUNNERS = K6_RUNNERS;
realK6Policy("load test");

let mode: "ok" | "error" | "slow" = "ok";
let server: http.Server;
let target: string;
let served = 0;

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    served++;
    if (mode === "error") {
      res.statusCode = 500;
      res.end("erro");
    } else if (mode === "slow") {
      setTimeout(() => res.end("ok"), 60);
    } else res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  fs.rmSync(process.env.TMPDIR!, { recursive: true, force: true });
});

function inputs(k6Path: string, over: Partial<RunSpec> = {}, extra: Partial<LoadTestInputs> = {}): LoadTestInputs {
  const dir = tempDir("k6");
  const spec: RunSpec = {
    k6Path,
    scriptPath: SCRIPT,
    target,
    profile: { baselineRps: 20, peakRps: 40, peakDurationSeconds: 1, rampSeconds: 0, preAllocatedVUs: 10, maxVUs: 50 },
    thresholds: { p95Ms: 500, p99Ms: 1500, errorRate: 0.01, minSamples: 10 },
    timeoutSeconds: 60,
    progressFile: path.join(dir, "progress.log"),
    ...over,
  };
  return {
    spec,
    scriptSha256: scriptDigest(spec.scriptPath),
    trigger: "sha256:aaaa",
    mode: "gate",
    ...extra,
  };
}

const create = (i: LoadTestInputs) => loadTestProvider.create!(i) as Promise<{ id: string; outs: LoadTestOutputs }>;

describe.each(RUNNERS)("load test through %s", (_name, k6Path) => {
  it("thresholds passed: the summary becomes outputs", async () => {
    mode = "ok";
    const { outs } = await create(inputs(k6Path));
    expect(outs.exitCode).toBe(0);
    expect(outs.result.passed).toBe(true);
    expect(outs.result.requests).toBeGreaterThanOrEqual(10);
    expect(outs.result.p95Ms).toBeGreaterThan(0);
    expect(outs.result.p99Ms).toBeGreaterThanOrEqual(outs.result.p95Ms!);
    expect(outs.result.errorRate).toBe(0);
    expect(outs.result.droppedIterations).toBe(0);
    expect(outs.result.thresholds.map((t) => `${t.metric} ${t.expression}`)).toEqual(
      expect.arrayContaining([
        "http_req_failed rate<0.01",
        "dropped_iterations count==0",
        "http_reqs count>=10",
        "http_req_duration{expected_response:true} p(95)<500",
      ]),
    );
    // Progress an operator can follow while it runs.
    expect(fs.readFileSync(outs.spec.progressFile, "utf8")).toMatch(/running \(/);
  }, 120_000);

  it("thresholds failed: gate mode stops the update, advisory mode records it", async () => {
    mode = "error";
    await expect(create(inputs(k6Path))).rejects.toThrow(
      /failed its thresholds: .*http_req_failed: rate<0\.01.* \(k6 exit 99\), so the update stops/,
    );
    const { outs } = await create(inputs(k6Path, {}, { mode: "advisory" }));
    expect(outs.exitCode).toBe(99);
    expect(outs.result.passed).toBe(false);
    expect(outs.result.errorRate).toBe(1);
    mode = "ok";
  }, 120_000);

  it("a latency threshold fails on a slow target", async () => {
    mode = "slow";
    await expect(
      create(inputs(k6Path, { thresholds: { p95Ms: 20, p99Ms: 1500, errorRate: 0.01, minSamples: 10 } })),
    ).rejects.toThrow(/p\(95\)<20/);
    mode = "ok";
  }, 120_000);

  it("runs the script's scenario shape: the arrival rate ramps, holds and ramps down as its stages say", async () => {
    mode = "ok";
    served = 0;
    // Baseline 20/s to a peak of 40/s over 2 s, 2 s at the peak, back over 2 s: 60 + 80 + 60 = 200 iterations,
    // each one GET /healthz (the default function's request). A flat peak would be 240.
    const { outs } = await create(
      inputs(k6Path, {
        profile: {
          baselineRps: 20,
          peakRps: 40,
          peakDurationSeconds: 2,
          rampSeconds: 2,
          preAllocatedVUs: 10,
          maxVUs: 50,
        },
      }),
    );
    expect(outs.result.passed).toBe(true);
    expect(served).toBeGreaterThanOrEqual(190);
    expect(served).toBeLessThanOrEqual(210);
    expect(outs.result.requests).toBe(served);
  }, 120_000);

  it("a failing p99 aborts the run early (abortOnFail), and the gate says which threshold tripped", async () => {
    mode = "slow";
    const t0 = Date.now();
    const spec = {
      thresholds: { p95Ms: 500, p99Ms: 20, errorRate: 0.01, minSamples: 10, abortDelaySeconds: 1 },
      profile: {
        baselineRps: 20,
        peakRps: 20,
        peakDurationSeconds: 60,
        rampSeconds: 0,
        preAllocatedVUs: 10,
        maxVUs: 50,
      },
    };
    await expect(create(inputs(k6Path, spec))).rejects.toThrow(
      /aborted early after [\d.]+ s, when http_req_duration\{expected_response:true\}: p\(99\)<20 tripped \(k6 exit 99\)/,
    );
    // Far less than the 60 s the profile planned.
    expect(Date.now() - t0).toBeLessThan(20_000);
    const { outs } = await create(inputs(k6Path, spec, { mode: "advisory" }));
    expect(outs.result.abortedEarly?.thresholds).toEqual(["http_req_duration{expected_response:true}: p(99)<20"]);
    expect(outs.result.abortedEarly!.afterSeconds).toBeLessThan(15);
    mode = "ok";
  }, 120_000);

  it("a script error is reported as such, not as failed thresholds", async () => {
    const bad = path.join(tempDir("script"), "quebrado.js");
    fs.writeFileSync(bad, 'import http from "k6/http";\nexport const options = {;\n');
    const i = inputs(k6Path, { scriptPath: bad });
    const before = k6WorkDirs();
    await expect(create(i)).rejects.toThrow(/k6 script error: the script threw an exception \(exit 107\)/);
    // The run's work folder (k6's summary file) goes whatever the outcome.
    expect([...k6WorkDirs()].filter((d) => !before.has(d))).toEqual([]);
  });

  it("a timeout stops the run and says so", async () => {
    const i = inputs(k6Path, {
      timeoutSeconds: 1,
      profile: { baselineRps: 5, peakRps: 5, peakDurationSeconds: 30, rampSeconds: 0, preAllocatedVUs: 5, maxVUs: 5 },
    });
    const before = k6WorkDirs();
    await expect(create(i)).rejects.toThrow(/ran longer than 1 s \(loadtest.timeoutSeconds\)/);
    expect([...k6WorkDirs()].filter((d) => !before.has(d))).toEqual([]);
  }, 30_000);

  it("an unreachable target is an infrastructure error before k6 starts", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(create(inputs(k6Path, { target: `http://127.0.0.1:${port}` }))).rejects.toThrow(
      /is unreachable .*nothing was measured/,
    );
  });
});

describe("k6's exit codes", () => {
  it("every documented code has a meaning; 110 is a failure the script asked for, not the infrastructure's", () => {
    const kinds = Object.fromEntries(
      [0, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110].map((c) => [
        c,
        classifyExit(c, null).kind,
      ]),
    );
    expect(kinds).toEqual({
      0: "passed",
      97: "infrastructure-error",
      98: "infrastructure-error",
      99: "thresholds-failed",
      100: "script-error",
      101: "script-error",
      102: "infrastructure-error",
      103: "infrastructure-error",
      104: "script-error",
      105: "infrastructure-error",
      106: "infrastructure-error",
      107: "script-error",
      108: "script-error",
      109: "infrastructure-error",
      110: "marked-failed",
    });
    expect(classifyExit(42, null)).toMatchObject({
      kind: "infrastructure-error",
      detail: expect.stringMatching(/not one of k6's/),
    });
    expect(classifyExit(null, "SIGKILL")).toMatchObject({ detail: "k6 was killed by SIGKILL" });
  });

  it("exit 110 fails the gate as a verdict, with the script's reason, even when every threshold held", async () => {
    // A k6 whose script called exec.test.fail(): it writes its summary (thresholds all ok) and exits 110.
    const fake = path.join(tempDir("k6-110"), "k6");
    fs.writeFileSync(
      fake,
      `#!/usr/bin/env node
const a = process.argv.slice(2);
const env = Object.fromEntries(a.flatMap((x, i) => (a[i - 1] === "-e" ? [x.split("=")] : [])));
require("fs").writeFileSync(env.SUMMARY_PATH, JSON.stringify({ state: { testRunDurationMs: 1000 },
  metrics: { http_reqs: { values: { count: 50, rate: 50 }, thresholds: { "count>=10": { ok: true } } } } }));
process.exit(110);
`,
      { mode: 0o755 },
    );
    await expect(create(inputs(fake))).rejects.toThrow(/marked the run failed with exec\.test\.fail\(\) \(exit 110\)/);
    const { outs } = await create(inputs(fake, {}, { mode: "advisory" }));
    expect(outs.result).toMatchObject({ passed: false, failure: expect.stringMatching(/exit 110/) });
    expect(outs.result.abortedEarly).toBeUndefined();
  });
});

describe("when the load test runs", () => {
  it("a missing binary is named, with the config key to fix", async () => {
    await expect(create(inputs("/nao/existe/k6"))).rejects.toThrow(
      /k6 was not found at '\/nao\/existe\/k6': install k6 or set loadtest.k6Path/,
    );
  });

  it("runs again for each trigger: script content, target, profile, thresholds, binary, trigger", async () => {
    const base = inputs(STANDIN);
    const olds = {
      ...base,
      result: undefined,
      exitCode: 0,
      finishedAt: "",
      replicaThroughputRps: 0,
    } as unknown as LoadTestOutputs;
    const variants: [string, LoadTestInputs][] = [
      ["script content", { ...base, scriptSha256: "0".repeat(64) }],
      ["target", { ...base, spec: { ...base.spec, target: "http://127.0.0.1:1" } }],
      ["profile", { ...base, spec: { ...base.spec, profile: { ...base.spec.profile, peakRps: 41 } } }],
      ["thresholds", { ...base, spec: { ...base.spec, thresholds: { ...base.spec.thresholds, p99Ms: 1400 } } }],
      ["k6 binary", { ...base, spec: { ...base.spec, k6Path: "/usr/local/bin/k6" } }],
      ["trigger (image digest)", { ...base, trigger: "sha256:bbbb" }],
    ];
    for (const [what, news] of variants) {
      expect(rerunKey(news), what).not.toBe(rerunKey(base));
      expect((await loadTestProvider.diff!("id", olds, news)).changes, what).toBe(true);
    }
  });

  it("does not run again when nothing it measures changed", async () => {
    mode = "ok";
    const base = inputs(STANDIN);
    const { outs } = await create(base);
    // State gives objects back with their keys reordered; that is no change.
    const reverse = (v: unknown): unknown =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v as object)
              .reverse()
              .map(([k, x]) => [k, reverse(x)]),
          )
        : Array.isArray(v)
          ? v.map(reverse)
          : v;
    const reordered = reverse(outs) as LoadTestOutputs;
    expect((await loadTestProvider.diff!("id", reordered, base)).changes).toBe(false);
    // A new timeout updates the record without a run: finishedAt stays.
    const updated = await loadTestProvider.update!("id", outs, {
      ...base,
      spec: { ...base.spec, timeoutSeconds: 120 },
    });
    expect(updated.outs.finishedAt).toBe(outs.finishedAt);
    expect(updated.outs.spec.timeoutSeconds).toBe(120);
  }, 60_000);
});

describe("the corregedoria's script", () => {
  it("parses as an ES module and declares the thresholds the config names", async () => {
    const cfg = loadStackFile(PROJECT_ROOT, "producao");
    const dir = tempDir("esm");
    fs.writeFileSync(path.join(dir, "http.mjs"), "export default {};\n");
    fs.writeFileSync(path.join(dir, "k6.mjs"), "export function check() { return true; }\n");
    const text = fs
      .readFileSync(SCRIPT, "utf8")
      .replace(/from "k6\/http"/, `from ${JSON.stringify(pathToFileURL(path.join(dir, "http.mjs")).href)}`)
      .replace(/from "k6"/, `from ${JSON.stringify(pathToFileURL(path.join(dir, "k6.mjs")).href)}`);
    fs.writeFileSync(path.join(dir, "script.mjs"), text);
    const t = cfg.loadtest.thresholds;
    (globalThis as { __ENV?: Record<string, string> }).__ENV = {
      P95_MS: String(t.p95Ms),
      P99_MS: String(t.p99Ms),
      ERROR_RATE: String(t.errorRate),
      MIN_SAMPLES: String(t.minSamples),
      ABORT_DELAY_SECONDS: String(t.abortDelaySeconds),
    };
    const mod = await import(pathToFileURL(path.join(dir, "script.mjs")).href);
    // Latency and errors stop the run once crossed, after the configured grace period; the rest judge the end.
    const guard = (threshold: string) => ({ threshold, abortOnFail: true, delayAbortEval: `${t.abortDelaySeconds}s` });
    expect(mod.options.thresholds).toEqual({
      "http_req_duration{expected_response:true}": [guard(`p(95)<${t.p95Ms}`), guard(`p(99)<${t.p99Ms}`)],
      http_req_failed: [guard(`rate<${t.errorRate}`)],
      checks: ["rate>0.99"],
      dropped_iterations: ["count==0"],
      http_reqs: [`count>=${t.minSamples}`],
    });
    expect(mod.options.scenarios.corregedoria.executor).toBe("ramping-arrival-rate");
    expect(typeof mod.handleSummary).toBe("function");
  });
});

describe("the summary and the capacity plan", () => {
  it("refuses a summary without metrics, and reads an absent dropped_iterations as 0", () => {
    expect(() => parseSummary("{}")).toThrow(SummaryError);
    expect(() => parseSummary("nope")).toThrow(/not JSON/);
    const r = parseSummary(JSON.stringify({ metrics: { http_reqs: { values: { count: 12, rate: 6 } } } }));
    expect(r).toMatchObject({ droppedIterations: 0, requests: 12, achievedRps: 6, passed: true });
  });

  it("a capacity measurement changes the plan, which says how, at how many replicas and when it was measured", () => {
    const cfg = loadStackFile(PROJECT_ROOT, "producao");
    const fromConfig = capacityPlan(cfg);
    expect(fromConfig.input.throughputSource).toBe("config scaling.replicaThroughputRps (not measured)");
    expect(fromConfig.input.measuredBy).toBeUndefined();
    const m: CapacityMeasurement = {
      method: "stepped constant arrival rate",
      replicas: 4,
      capacityRps: 50,
      perReplicaRps: 12.5,
      lowerBound: false,
      limitedBy: "passo_05 (60 rps) missed the SLO",
      steps: [],
      measuredAt: "2026-11-29T08:00:00.000Z",
    };
    const measured = capacityPlan(cfg, m);
    expect(measured.input.throughputSource).toBe("capacity run 2026-11-29T08:00:00.000Z, 4 fixed replicas");
    expect(measured.input.measuredBy).toMatchObject({ method: m.method, replicas: 4, capacityRps: 50 });
    // ceil(200 × 1.2 / 12.5) = 20, +1 = 21 instead of 6.
    expect([fromConfig.neededAtPeak, measured.neededAtPeak]).toEqual([6, 21]);
  });
});
