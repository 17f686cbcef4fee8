/**
 * A server of known capacity: `workers` replicas, each serving one request at a time in exactly
 * `serviceMs` (FIFO queue). Its capacity is workers × 1000 / serviceMs requests per second; past it the
 * queue, and so the latency, grows without bound. Completion times are scheduled on a clock, so a late
 * timer adds latency to one answer but never lowers the throughput. The load tests measure against it, and
 * the ensaio rehearsal's load gate measures it (api-standin.ts). Plain module.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface KnownCapacityServer {
  url: string;
  /** Requests per second per worker. */
  perWorkerRps: number;
  close(): Promise<void>;
}

/** Serves on `port` (0: any free one) of 127.0.0.1. */
export async function knownCapacityServer(workers: number, serviceMs: number, port = 0): Promise<KnownCapacityServer> {
  const freeAt = Array<number>(workers).fill(0);
  const server = http.createServer((_req, res) => {
    const now = performance.now();
    const w = freeAt.indexOf(Math.min(...freeAt));
    freeAt[w] = Math.max(now, freeAt[w]) + serviceMs;
    setTimeout(() => res.end("ok"), freeAt[w] - now);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    perWorkerRps: 1000 / serviceMs,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
