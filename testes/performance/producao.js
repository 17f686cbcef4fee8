// The corregedoria's load profile for cartorio-api: an open model (arrival
// rate, not virtual users) ramping from the baseline to the peak, holding the
// peak, and back. Every number comes from the environment, which the load-test
// provider fills from the stack config (cartorio-plataforma:loadtest).
//
//   k6 run -e TARGET_URL=https://api.cartorio.example testes/performance/producao.js
import http from "k6/http";
import { check } from "k6";

const env = (name, fallback) => (__ENV[name] !== undefined && __ENV[name] !== "" ? __ENV[name] : fallback);
const num = (name, fallback) => Number(env(name, fallback));

const target = env("TARGET_URL", "http://127.0.0.1:8080");
const baseline = num("BASELINE_RPS", 40);
const peak = num("PEAK_RPS", 200);
const ramp = `${num("RAMP_SECONDS", 60)}s`;
const hold = `${num("PEAK_DURATION_SECONDS", 600)}s`;
// On production, a service that misses its SLO is not kept under peak load for the rest of the
// profile: the latency and error thresholds stop the run once they are crossed, after a short
// grace period for warm-up (k6's abortOnFail with delayAbortEval).
const guard = (threshold) => ({ threshold, abortOnFail: true, delayAbortEval: `${num("ABORT_DELAY_SECONDS", 10)}s` });

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
  scenarios: {
    corregedoria: {
      executor: "ramping-arrival-rate",
      startRate: baseline,
      timeUnit: "1s",
      preAllocatedVUs: num("PRE_ALLOCATED_VUS", 50),
      maxVUs: num("MAX_VUS", 400),
      stages: [
        { target: peak, duration: ramp },
        { target: peak, duration: hold },
        { target: baseline, duration: ramp },
      ],
    },
  },
  thresholds: {
    "http_req_duration{expected_response:true}": [
      guard(`p(95)<${num("P95_MS", 500)}`),
      guard(`p(99)<${num("P99_MS", 1500)}`),
    ],
    http_req_failed: [guard(`rate<${num("ERROR_RATE", 0.01)}`)],
    checks: ["rate>0.99"],
    // Too few VUs show as dropped iterations: the profile was not delivered.
    dropped_iterations: ["count==0"],
    // A script that fails early must not pass for lack of samples.
    http_reqs: [`count>=${num("MIN_SAMPLES", 100)}`],
  },
};

export default function () {
  const res = http.get(`${target}/healthz`, { tags: { endpoint: "healthz" } });
  check(res, { "status is 200": (r) => r.status === 200 });
}

// Machine-readable summary for the load-test provider (path from SUMMARY_PATH).
export function handleSummary(data) {
  return { [env("SUMMARY_PATH", "summary.json")]: JSON.stringify(data) };
}
