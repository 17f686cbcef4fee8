/**
 * The API stand-in the ensaio rehearsal's load gate measures (loadtest.target of Pulumi.ensaio.yaml):
 * `node scripts/ops/run.mjs api-standin PORT`. A server of known capacity (known-capacity.ts) — 64 workers,
 * each serving one request at a time in 10 ms — so the gate's verdict comes from the rates of producao's
 * profile against a known number, not from this machine's speed. It stands in for cartorio-api, whose pods
 * on the embedded cluster are simulated (kwok) and serve nothing: the rehearsal proves the gate's wiring and
 * placement, not producao's latency (docs/production.md).
 */
import { knownCapacityServer } from "./known-capacity";

const port = Number(process.argv[2]);
knownCapacityServer(64, 10, port).then(
  (s) => process.on("SIGTERM", () => s.close().then(() => process.exit(0))),
  (e: Error) => {
    console.error(`api-standin: cannot listen on 127.0.0.1:${port}: ${e.message}`);
    process.exit(1);
  },
);
