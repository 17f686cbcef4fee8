// The API stand-in the ensaio rehearsal's load gate measures (loadtest.target of Pulumi.ensaio.yaml):
// `node scripts/ensaio/api-standin.mjs PORT`. A server of known capacity — WORKERS replicas, each serving one
// request at a time in SERVICE_MS — so the gate's verdict is decided by the rates of producao's profile against
// a known number, not by this machine's speed. It stands in for cartorio-api, whose pods on the embedded
// cluster are simulated (kwok) and serve nothing: the rehearsal proves the gate's wiring and placement, not
// producao's latency (docs/production.md).
import * as http from "node:http";
import { performance } from "node:perf_hooks";
import { setTimeout } from "node:timers";

const port = Number(process.argv[2]);
const WORKERS = 64;
const SERVICE_MS = 10;
const freeAt = Array(WORKERS).fill(0);
const server = http.createServer((_req, res) => {
  const now = performance.now();
  const w = freeAt.indexOf(Math.min(...freeAt));
  freeAt[w] = Math.max(now, freeAt[w]) + SERVICE_MS;
  setTimeout(() => res.end("ok"), freeAt[w] - now);
});
server.keepAliveTimeout = 60_000;
server.on("error", (e) => {
  console.error(`api-standin: cannot listen on 127.0.0.1:${port}: ${e.message}`);
  process.exit(1);
});
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
