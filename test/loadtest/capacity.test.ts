/**
 * Capacity measured honestly: the stepped run (testes/performance/capacidade.js) through the capacity-run
 * provider, against servers whose capacity is known, with every k6 there is (the stand-in; the real k6 too
 * when installed). The measurement must land within 15 % of the truth.
 *
 * Through the stand-in this proves the capacity-run provider and the stepped script's scenarios, thresholds
 * and summary against k6's documented contract (test/helpers/k6.ts says what the stand-in does and does not
 * prove); the pacing is the stand-in's, so only a real k6 proves the figures k6 itself would measure. A real
 * k6 that is absent is never silent: under CI=true this file fails unless CARTORIO_NO_REAL_K6 gives the reason.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadtestSchema } from "../../components/config/schema";
import { judgeSteps, replicasHeldProblem, SteppedProfile, steppedEnv } from "../../components/loadtest/measure";
import { CapacityRunInputs, capacityRunProvider, CapacityRunOutputs } from "../../components/loadtest/provider";
import { scriptDigest } from "../../components/loadtest/runner";
import { knownCapacityServer, KnownCapacityServer } from "../../scripts/ensaio/known-capacity";
import { K6_RUNNERS, realK6Policy } from "../helpers/k6";
import { PROJECT_ROOT, tempDir } from "../helpers/tools";

const SCRIPT = path.join(PROJECT_ROOT, "testes/performance/capacidade.js");
const SLO = { p95Ms: 150, p99Ms: 400, errorRate: 0.01, minSamples: 1 };

function inputs(k6Path: string, target: string, profile: SteppedProfile, replicas: number): CapacityRunInputs {
  return {
    invocation: {
      k6Path,
      scriptPath: SCRIPT,
      target,
      env: steppedEnv(target, profile, SLO),
      timeoutSeconds: 120,
      progressFile: path.join(tempDir("capacidade"), "progress.log"),
    },
    profile,
    replicas,
    scriptSha256: scriptDigest(SCRIPT),
    trigger: "images test",
  };
}
const measure = async (i: CapacityRunInputs) =>
  ((await capacityRunProvider.create!(i)) as { outs: CapacityRunOutputs }).outs.measurement;

realK6Policy("capacity measurement");

describe.each(K6_RUNNERS)("capacity at a fixed replica count, through %s", (_name, k6Path) => {
  const servers: KnownCapacityServer[] = [];
  beforeAll(async () => {
    // 2 replicas × 50 rps (20 ms each) = 100 rps; 1 replica × 40 rps (25 ms).
    servers.push(await knownCapacityServer(2, 20), await knownCapacityServer(1, 25));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it("2 replicas of 50 rps each: measured within 15 % of 100 rps, the knee named, the run stopped after it", async () => {
    const [s] = servers;
    const m = await measure(
      inputs(k6Path, s.url, { startRps: 50, stepRps: 10, steps: 10, stepSeconds: 3, maxVUs: 200 }, 2),
    );
    const truth = 2 * s.perWorkerRps;
    expect(Math.abs(m.capacityRps - truth) / truth).toBeLessThanOrEqual(0.15);
    expect(Math.abs(m.perReplicaRps - s.perWorkerRps) / s.perWorkerRps).toBeLessThanOrEqual(0.15);
    expect(m).toMatchObject({ replicas: 2, lowerBound: false });
    expect(m.method).toMatch(/^stepped constant arrival rate, 50\+10×i rps for 3 s per step/);
    expect(m.limitedBy).toMatch(/^passo_\d\d \(\d+ rps\) missed the SLO: http_req_duration p\(95\)<150/);
    // Every step below the capacity met the SLO; none above it did; the run stopped soon after the knee.
    const ok = m.steps.filter((st) => st.ok).map((st) => st.targetRps);
    expect(ok).toEqual(m.steps.filter((st) => st.targetRps <= m.capacityRps).map((st) => st.targetRps));
    expect(m.steps.filter((st) => st.reached).length).toBeLessThan(10);
    expect(m.steps.find((st) => st.step === "passo_01")!.achievedRps).toBeGreaterThan(45);
  }, 120_000);

  it("1 replica of 40 rps: measured within 15 % of 40 rps", async () => {
    const s = servers[1];
    const m = await measure(
      inputs(k6Path, s.url, { startRps: 20, stepRps: 5, steps: 10, stepSeconds: 3, maxVUs: 200 }, 1),
    );
    expect(Math.abs(m.perReplicaRps - s.perWorkerRps) / s.perWorkerRps).toBeLessThanOrEqual(0.15);
    expect(m.capacityRps).toBe(m.perReplicaRps);
  }, 120_000);

  it("every step met the SLO: the capacity is a lower bound and the plan is told so", async () => {
    const [s] = servers;
    const m = await measure(
      inputs(k6Path, s.url, { startRps: 10, stepRps: 10, steps: 2, stepSeconds: 2, maxVUs: 50 }, 2),
    );
    expect(m).toMatchObject({ capacityRps: 20, perReplicaRps: 10, lowerBound: true });
    expect(m.limitedBy).toBeUndefined();
  }, 60_000);
});

describe("judging the steps", () => {
  const profile = { startRps: 10, stepRps: 10, steps: 3, stepSeconds: 10, maxVUs: 50 };
  const step = (n: number, count: number, p95ok: boolean) => ({
    [`http_reqs{scenario:passo_0${n}}`]: {
      values: { count, rate: count / 30 },
      thresholds: { "count>=0": { ok: true } },
    },
    [`http_req_duration{scenario:passo_0${n}}`]: {
      values: { "p(95)": p95ok ? 20 : 900, "p(99)": 30 },
      thresholds: { "p(95)<500": { ok: p95ok } },
    },
  });
  it("the first step that misses the SLO ends the measurement; a later step that passes does not count", () => {
    const summary = JSON.stringify({
      metrics: { ...step(1, 100, true), ...step(2, 200, false), ...step(3, 300, true) },
    });
    const m = judgeSteps(summary, profile, 2, "2026-11-29T00:00:00Z");
    expect(m).toMatchObject({ capacityRps: 10, perReplicaRps: 5, lowerBound: false });
    expect(m.limitedBy).toBe("passo_02 (20 rps) missed the SLO: http_req_duration p(95)<500");
  });
  it("a step the run never reached is not counted as passed", () => {
    const summary = JSON.stringify({ metrics: { ...step(1, 100, true), ...step(2, 3, true), ...step(3, 0, true) } });
    const m = judgeSteps(summary, profile, 1, "2026-11-29T00:00:00Z");
    expect(m.capacityRps).toBe(10);
    expect(m.limitedBy).toBe("passo_02 (20 rps) delivered only 3 of 200 requests");
    expect(m.steps.map((s) => s.reached)).toEqual([true, false, false]);
  });
  it("a first step that misses the SLO measures 0, and the plan then says no replica count serves", () => {
    const summary = JSON.stringify({
      metrics: { ...step(1, 100, false), ...step(2, 200, false), ...step(3, 300, false) },
    });
    expect(judgeSteps(summary, profile, 1, "x").capacityRps).toBe(0);
  });
  it("a summary without the step sub-metrics names the script to fix", () => {
    expect(() => judgeSteps(JSON.stringify({ metrics: {} }), profile, 1, "x")).toThrow(
      /no http_reqs\{scenario:passo_01\}.*capacidade\.js/,
    );
  });
});

describe("the replicas are held for the run", () => {
  const where = { namespace: "cartorio", deployment: "cartorio-api-capacidade" };
  const dep = (replicas: number, ready: number) => ({ spec: { replicas }, status: { readyReplicas: ready } });
  const hpa = (min: number, max: number, name = where.deployment) => ({
    items: [
      {
        metadata: { name: "h" },
        spec: { scaleTargetRef: { kind: "Deployment", name }, minReplicas: min, maxReplicas: max },
      },
    ],
  });
  it("passes with no HPA, or an HPA held at min = max = replicas, or one that targets another workload", () => {
    expect(replicasHeldProblem(where, 3, dep(3, 3), { items: [] })).toBeUndefined();
    expect(replicasHeldProblem(where, 3, dep(3, 3), hpa(3, 3))).toBeUndefined();
    expect(replicasHeldProblem(where, 3, dep(3, 3), hpa(1, 9, "cartorio-api"))).toBeUndefined();
  });
  it("refuses an HPA that can move it, another replica count, or replicas not ready", () => {
    expect(replicasHeldProblem(where, 3, dep(3, 3), hpa(3, 30))).toMatch(
      /scaled by HorizontalPodAutoscaler h \(min 3, max 30\): hold it at min = max = 3/,
    );
    expect(replicasHeldProblem(where, 3, dep(2, 2), { items: [] })).toMatch(
      /asks for 2 replicas, not loadtest\.capacity\.replicas \(3\)/,
    );
    expect(replicasHeldProblem(where, 3, dep(3, 1), { items: [] })).toMatch(/has 1 of 3 replicas ready/);
    expect(replicasHeldProblem(where, 3, "HTTP 404 reading /x (not created yet)", { items: [] })).toMatch(
      /could not be read: HTTP 404/,
    );
  });
});

describe("loadtest.capacity config", () => {
  it("a target needs its fixed replica count and deployment, and steps that fit the timeout; all said at once", () => {
    const r = loadtestSchema.safeParse({
      capacity: { target: "https://capacidade.cartorio.example", steps: 20, stepSeconds: 60 },
    });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^capacity\.replicas: .*set loadtest\.capacity\.replicas/),
        expect.stringMatching(/^capacity\.deployment: .*set loadtest\.capacity\.deployment/),
        expect.stringMatching(/^capacity\.stepSeconds: .*20 steps × 60 s = 1200 s.*timeoutSeconds \(900\)/),
      ]),
    );
  });
});
