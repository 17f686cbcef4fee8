// Capacity of cartorio-api at a fixed replica count: a stepped open model. Step i
// holds START_RPS + i × STEP_RPS for STEP_SECONDS (k6 constant-arrival-rate
// scenarios passo_01, passo_02, … one after the other); each step is judged on
// its own samples against the SLO (k6 tags every sample with its scenario). The
// capacity is the highest step that meets the SLO; once a step misses it the run
// stops (abortOnFail, judged when that step ends), so the service is not pushed
// further past its knee. The capacity-run provider fills every number from the
// stack config (cartorio-plataforma:loadtest.capacity).
//
//   k6 run -e TARGET_URL=https://capacidade.cartorio.example testes/performance/capacidade.js
import http from "k6/http";
import { check } from "k6";

const env = (name, fallback) => (__ENV[name] !== undefined && __ENV[name] !== "" ? __ENV[name] : fallback);
const num = (name, fallback) => Number(env(name, fallback));

const target = env("TARGET_URL", "http://127.0.0.1:8080");
const start = num("START_RPS", 10);
const step = num("STEP_RPS", 10);
const steps = num("STEPS", 10);
const stepSeconds = num("STEP_SECONDS", 60);
const maxVUs = num("MAX_VUS", 400);

const name = (i) => `passo_${String(i + 1).padStart(2, "0")}`;
const scenarios = {};
const thresholds = {};
for (let i = 0; i < steps; i++) {
  const s = name(i);
  scenarios[s] = {
    executor: "constant-arrival-rate",
    rate: start + i * step,
    timeUnit: "1s",
    duration: `${stepSeconds}s`,
    startTime: `${i * stepSeconds}s`,
    preAllocatedVUs: Math.min(maxVUs, Math.ceil((start + i * step) / 2) + 1),
    maxVUs,
  };
  // Judged once the step is over, on that step's samples only.
  const judge = (threshold) => ({ threshold, abortOnFail: true, delayAbortEval: `${(i + 1) * stepSeconds}s` });
  thresholds[`http_req_duration{scenario:${s}}`] = [
    judge(`p(95)<${num("P95_MS", 500)}`),
    judge(`p(99)<${num("P99_MS", 1500)}`),
  ];
  thresholds[`http_req_failed{scenario:${s}}`] = [judge(`rate<${num("ERROR_RATE", 0.01)}`)];
  // The generator could not keep the rate (every VU waiting on a slow answer): past the knee.
  thresholds[`dropped_iterations{scenario:${s}}`] = [judge("count==0")];
  // Always true: it only puts the step's request count into the summary, where the provider reads it.
  thresholds[`http_reqs{scenario:${s}}`] = ["count>=0"];
}

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  scenarios,
  thresholds,
};

export default function () {
  const res = http.get(`${target}/healthz`, { tags: { endpoint: "healthz" } });
  check(res, { "status is 200": (r) => r.status === 200 });
}

// Machine-readable summary for the capacity-run provider (path from SUMMARY_PATH).
export function handleSummary(data) {
  return { [env("SUMMARY_PATH", "summary.json")]: JSON.stringify(data) };
}
