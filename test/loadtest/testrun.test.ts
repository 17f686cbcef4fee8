/**
 * A distributed run's results: the runners' exit codes judged, and read through
 * the Kubernetes API (@kubernetes/client-node) from a fake API server on 127.0.0.1.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testRunResultProvider } from "../../components/loadtest/provider";
import { judgeTestRun, readTestRun } from "../../components/loadtest/testrun";
import { tempDir } from "../helpers/tools";

describe("judging a TestRun", () => {
  it("passes when every runner exited 0", () => {
    expect(
      judgeTestRun(
        "finished",
        [
          { pod: "r1", exitCode: 0 },
          { pod: "r2", exitCode: 0 },
        ],
        2,
      ),
    ).toMatchObject({ finished: true, passed: true });
  });
  it("fails with the runner that crossed thresholds (exit 99)", () => {
    const v = judgeTestRun(
      "finished",
      [
        { pod: "r1", exitCode: 0 },
        { pod: "r2", exitCode: 99 },
      ],
      2,
    );
    expect(v).toMatchObject({ passed: false, detail: "r2: thresholds were crossed (exit 99)" });
  });
  it("tells a script error in a runner apart", () => {
    expect(judgeTestRun("finished", [{ pod: "r1", exitCode: 107 }], 1).detail).toBe(
      "r1: the script threw an exception (exit 107)",
    );
  });
  it("is not done before stage finished, and fails on stage error or missing runners", () => {
    expect(judgeTestRun("started", [], 2)).toMatchObject({ finished: false });
    expect(judgeTestRun("error", [], 2)).toMatchObject({ finished: true, passed: false });
    expect(judgeTestRun("finished", [{ pod: "r1", exitCode: 0 }], 2).detail).toBe(
      "only 1 of 2 runners reported an exit code",
    );
  });
});

/** The TestRun "carga" in namespace cartorio, two runners, polled quickly. */
const READ = {
  namespace: "cartorio",
  name: "carga",
  parallelism: 2,
  timeoutSeconds: 30,
  context: "producao",
  pollSeconds: 0.05,
};

describe("reading a TestRun from the Kubernetes API", () => {
  let server: http.Server;
  let polls = 0;
  let exitCodes = [0, 0];
  const requests: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests.push(req.url!);
      res.setHeader("content-type", "application/json");
      if (req.url!.startsWith("/apis/k6.io/v1alpha1/namespaces/cartorio/testruns/carga")) {
        polls++;
        res.end(
          JSON.stringify({
            apiVersion: "k6.io/v1alpha1",
            kind: "TestRun",
            metadata: { name: "carga" },
            status: { stage: polls < 3 ? "started" : "finished" },
          }),
        );
      } else if (req.url!.startsWith("/api/v1/namespaces/cartorio/pods")) {
        res.end(
          JSON.stringify({
            apiVersion: "v1",
            kind: "PodList",
            metadata: {},
            items: exitCodes.map((code, i) => ({
              metadata: { name: `carga-${i + 1}` },
              status:
                polls < 3 ? {} : { containerStatuses: [{ name: "k6", state: { terminated: { exitCode: code } } }] },
            })),
          }),
        );
      } else {
        res.statusCode = 404;
        res.end("{}");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const kubeconfig = path.join(tempDir("kube"), "config");
    fs.writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: teste, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]\nusers: [{name: teste, user: {token: abc}}]\ncontexts: [{name: producao, context: {cluster: teste, user: teste}}]\ncurrent-context: producao\n`,
    );
    process.env.KUBECONFIG = kubeconfig;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it("waits for stage finished, then reads each runner's exit code", async () => {
    polls = 0;
    exitCodes = [0, 0];
    const v = await readTestRun(READ);
    expect(v).toMatchObject({
      finished: true,
      passed: true,
      stage: "finished",
      runners: [
        { pod: "carga-1", exitCode: 0 },
        { pod: "carga-2", exitCode: 0 },
      ],
    });
    expect(polls).toBe(3);
    expect(requests.some((u) => u.includes("labelSelector=k6_cr%3Dcarga%2Crunner%3Dtrue"))).toBe(true);
  });

  it("gate mode fails the update when a runner crossed thresholds", async () => {
    polls = 0;
    exitCodes = [0, 99];
    await expect(
      testRunResultProvider.create!({
        read: READ,
        mode: "gate",
      }),
    ).rejects.toThrow(/did not pass \(loadtest.mode gate\): carga-2: thresholds were crossed \(exit 99\)/);
  });
});
