/**
 * The load replay's arithmetic (components/scaling/replay.ts): the profile as the k6 script
 * declares it, time compression, the CPU each simulated pod reports, the plan's timeline over a
 * whole profile and the verdict of the comparison; and `npm run capacity -- --from-load`, which
 * takes a simulated run's throughput only when told it is simulated.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { scalingSchema } from "../../components/config/schema";
import {
  compare,
  compress,
  costPerRequestMilli,
  perPodUsage,
  predictTimeline,
  profileOf,
  readProfile,
} from "../../components/scaling/replay";
import { PROJECT_ROOT, tempDir } from "../helpers/tools";

const defaults = scalingSchema.parse({});
const model = (over: Partial<Parameters<typeof predictTimeline>[1]> = {}) => ({
  minReplicas: 3,
  maxReplicas: 20,
  replicaThroughputRps: 50,
  scaleUp: defaults.behavior.scaleUp,
  scaleDown: defaults.behavior.scaleDown,
  metricLagSeconds: 15,
  ...over,
});

describe("the load replay", () => {
  it("reads the corregedoria's profile from the k6 script itself, with the stack's values as __ENV", async () => {
    const p = await readProfile(path.join(PROJECT_ROOT, "testes/performance/producao.js"), {
      BASELINE_RPS: "40",
      PEAK_RPS: "250",
      RAMP_SECONDS: "30",
      PEAK_DURATION_SECONDS: "120",
    });
    expect(p.startRate).toBe(40);
    expect(p.stages).toEqual([
      { target: 250, seconds: 30 },
      { target: 250, seconds: 120 },
      { target: 40, seconds: 30 },
    ]);
    expect(p.length).toBe(180);
    expect(p.rateAt(15)).toBeCloseTo(145);
    expect(p.rateAt(100)).toBe(250);
    expect(p.rateAt(165)).toBeCloseTo(145);
  });

  it("refuses a script without exactly one ramping-arrival-rate scenario, naming the file", async () => {
    const dir = tempDir("profile");
    const f = path.join(dir, "vus.js");
    fs.writeFileSync(
      f,
      'export const options = { scenarios: { a: { executor: "constant-vus", vus: 5, duration: "1m" } } };\n',
    );
    await expect(readProfile(f, {})).rejects.toThrow(
      /vus\.js: expected one ramping-arrival-rate scenario.*a \(constant-vus\)/,
    );
  });

  it("compresses durations only: rates, so the replicas wanted, are unchanged", () => {
    const p = compress(
      profileOf(40, [
        { target: 200, seconds: 60 },
        { target: 200, seconds: 600 },
      ]),
      4,
    );
    expect(p.stages).toEqual([
      { target: 200, seconds: 15 },
      { target: 200, seconds: 150 },
    ]);
    expect(p.rateAt(100)).toBe(200);
    expect(() => compress(p, 0.5)).toThrow(/expected a number ≥ 1/);
  });

  it("splits the load over Ready pods: scaling out lowers each pod's CPU, never to zero", () => {
    const cost = { cpuMilliPerRequest: costPerRequestMilli(500, 70, 50), memoryBaseMi: 200, memoryMiPerRps: 0.5 };
    expect(cost.cpuMilliPerRequest).toBe(7);
    expect(perPodUsage(200, 4, cost)).toEqual({ cpuMilli: 350, memoryMi: 225 });
    expect(perPodUsage(200, 8, cost).cpuMilli).toBe(175);
    expect(perPodUsage(0, 3, cost).cpuMilli).toBe(1);
    expect(perPodUsage(100, 0, cost).cpuMilli).toBe(1);
    expect(() => costPerRequestMilli(500, 70, 0)).toThrow(/no cost per request/);
  });

  it("predicts the HPA over the whole profile: scale-up limited by its policies, scale-down held by its window", () => {
    // 40 → 400 rps at once, held 600 s, then back to 40 for 600 s.
    const p = profileOf(40, [
      { target: 400, seconds: 0.001 },
      { target: 400, seconds: 600 },
      { target: 40, seconds: 0.001 },
      { target: 40, seconds: 600 },
    ]);
    const t = predictTimeline(p, model(), 3);
    // Up: +100 % or +4 pods per 15 s, whichever is more: 3 → 7 → 8 (400 / 50).
    expect(t.slice(0, 3)).toEqual([
      { t: 0, replicas: 3 },
      { t: 30, replicas: 7 },
      { t: 45, replicas: 8 },
    ]);
    // Down: not before the 300 s window has passed since the load fell.
    const down = t.find((s) => s.t > 600 && s.replicas < 8)!;
    expect(down.t).toBeGreaterThanOrEqual(600 + 300);
    expect(t[t.length - 1].replicas).toBe(3);
  });

  it("fails the comparison when the peaks are more than one replica apart or the plan's peak is never reached", () => {
    const predicted = [
      { t: 0, replicas: 3 },
      { t: 30, replicas: 8 },
    ];
    expect(
      compare(
        predicted,
        [
          { t: 0, replicas: 3 },
          { t: 45, replicas: 8 },
        ],
        120,
      ).ok,
    ).toBe(true);
    const near = compare(
      predicted,
      [
        { t: 0, replicas: 3 },
        { t: 45, replicas: 7 },
      ],
      120,
    );
    expect(near.reasons).toEqual([expect.stringMatching(/never reached the plan's peak of 8/)]);
    const far = compare(
      predicted,
      [
        { t: 0, replicas: 3 },
        { t: 45, replicas: 5 },
      ],
      120,
    );
    expect(far.ok).toBe(false);
    expect(far.reasons[0]).toMatch(/peak was 5 replicas, the plan predicted 8/);
    expect(far.largestDifference).toBe(5);
  });
});

describe("npm run capacity -- --from-load", () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [path.join(PROJECT_ROOT, "scripts/ops/run.mjs"), "capacity", ...args], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    });
  const record = (over: Record<string, unknown>) => {
    const f = path.join(tempDir("carga"), "run.json");
    fs.writeFileSync(
      f,
      JSON.stringify({ simulated: true, perReplicaRps: 42, startedAt: "2026-01-02T03:04:05.000Z", ...over }),
    );
    return f;
  };

  it("refuses a simulated run unless --simulated says so, and then labels the plan's source as simulated", () => {
    const f = record({});
    const refused = run(["--from-load", f]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/simulated nodes.*Add --simulated/);
    const ok = run(["--from-load", f, "--simulated"]);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(/42 .*SIMULATED: replay of 2026-01-02T03:04:05\.000Z on the embedded cluster/);
  });

  it("refuses a record without a positive throughput, naming the file", () => {
    const f = record({ perReplicaRps: 0 });
    const res = run(["--from-load", f, "--simulated"]);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain(`--from-load ${f}: perReplicaRps is 0`);
  });
});
