/**
 * How the pack loads and what it shares with the SDK (policypack/build.js, policypack/sdk.ts): the
 * bundle builds with its two SDK parts deferred, and one resource's properties are deserialized once
 * for all of the pack's policies, through @pulumi/policy's own server code, not a copy of it.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { shareDeserializedProperties } from "../../policypack/sdk";
import { PROJECT_ROOT, tempDir } from "../helpers/tools";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const server = require("@pulumi/policy/server");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzerproto = require("@pulumi/pulumi/proto/analyzer_pb");

/** Runs @pulumi/policy's Analyze handler on one resource with `n` policies; how often its properties were read. */
async function analyze(n: number): Promise<{ reads: number; seen: unknown[]; given: Set<unknown> }> {
  const props = Struct.fromJavaScript({ kind: "Service", metadata: { name: "cartorio-api", namespace: "cartorio" } });
  let reads = 0;
  const toJavaScript = props.toJavaScript.bind(props);
  props.toJavaScript = () => (reads++, toJavaScript());
  const req = new analyzerproto.AnalyzeRequest();
  req.setType("kubernetes:core/v1:Service");
  req.setUrn("urn:pulumi:t::p::kubernetes:core/v1:Service::svc");
  req.setName("svc");
  req.setProperties(props);
  req.setOptions(new analyzerproto.AnalyzerResourceOptions());
  const seen: unknown[] = [];
  const given = new Set<unknown>();
  const policies = Array.from({ length: n }, (_, i) => ({
    name: `p${i}`,
    description: "reads the name",
    enforcementLevel: "advisory",
    validateResource: (args: { props: { metadata: { name: string } } }) => {
      given.add(args.props);
      seen.push(args.props.metadata.name);
    },
  }));
  await new Promise<void>((resolve, reject) =>
    server.makeAnalyzeRpcFun(
      "t",
      "1.0.0",
      "advisory",
      policies,
    )({ request: req }, (err: unknown) => (err ? reject(err) : resolve())),
  );
  return { reads, seen, given };
}

describe("the pack's use of @pulumi/policy", () => {
  it("deserializes and wraps one resource's properties once for all policies, and every policy still reads them", async () => {
    // Before: the SDK's own behaviour, once per policy (the test fails if the SDK ever changes that, so
    // the sharing can be dropped).
    const before = await analyze(5);
    expect(before.reads).toBe(5);
    expect(before.given.size).toBe(5);
    expect(shareDeserializedProperties()).toBe(true);
    const after = await analyze(5);
    expect(after.reads).toBe(1);
    expect(after.seen).toEqual(Array(5).fill("cartorio-api"));
    // One `props` object for all (the pack derives a resource's document from it once), still the SDK's
    // unknown-checking proxy.
    expect(after.given.size).toBe(1);
    expect((after.given.values().next().value as Record<string, unknown>).__isSpecialProxy).toBe(true);
  });

  it("builds the bundle with the Automation API, @npmcli/arborist and the TypeScript compiler deferred", () => {
    const dir = path.join(PROJECT_ROOT, "policypack");
    execFileSync(process.execPath, [path.join(dir, "build.js")], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    const bundle = fs.readFileSync(path.join(dir, ".build/index.cjs"), "utf8");
    // Each deferred part is a proxy module that loads the real one on first use (build.js fails if
    // one is no longer found where it is expected).
    expect(bundle.match(/load = \(\) => real \?\?= require_/g)?.length).toBe(3);
    const inputs = Object.keys(JSON.parse(fs.readFileSync(path.join(dir, ".build/inputs.json"), "utf8")));
    expect(inputs.some((f) => f.endsWith("policypack/index.ts"))).toBe(true);
    // A changed build (a new deferred part, say) makes the bundle stale as a changed source does.
    expect(inputs.some((f) => f.endsWith("policypack/build.js"))).toBe(true);
    // gRPC is the one the SDK's pack runner has already loaded, not a second copy in the bundle.
    expect(inputs.filter((f) => /node_modules[\\/]@grpc[\\/]grpc-js[\\/]/.test(f))).toEqual([]);
  });

  it("starts to its port without loading the TypeScript compiler, which the SDK's index would load", () => {
    // The pack, as the engine starts it, up to the line the engine waits for (its port); then what the
    // process had loaded. The SDK's own index, for comparison, loads the compiler by itself.
    const dir = path.join(PROJECT_ROOT, "policypack");
    const atPort = path.join(tempDir("at-port"), "at-port.js");
    fs.writeFileSync(
      atPort,
      `process.stdout.write = (line) => {
  const loaded = Object.keys(require.cache).filter((f) => /[\\\\/]typescript[\\\\/]lib[\\\\/]typescript\\.js$/.test(f));
  process.stderr.write(JSON.stringify({ port: String(line).trim(), loaded }));
  process.exit(0);
};`,
    );
    const start = (code: string) => {
      const res = spawnSync(process.execPath, ["-r", atPort, "-e", code, "127.0.0.1:1"], {
        cwd: dir,
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(res.status, res.stderr).toBe(0);
      return JSON.parse(res.stderr) as { port: string; loaded: string[] };
    };
    const pack = start(`require("./index.js")`);
    expect(pack.port).toMatch(/^\d+$/);
    expect(pack.loaded).toEqual([]);
    const sdk = start(`require("@pulumi/pulumi"); process.stdout.write("0\\n")`);
    expect(sdk.loaded).toHaveLength(1);
  });

  it("answers Remediate as the SDK does, decoding a resource only when a policy is configured to remediate", () => {
    // The same pack served by @pulumi/policy in a process of its own, asked the same over gRPC, without and
    // with skipUnusedRemediation (test/helpers/remediate-probe.ts).
    const probe = (...args: string[]) => {
      const res = spawnSync(
        process.execPath,
        ["--import", "tsx", path.join(PROJECT_ROOT, "test/helpers/remediate-probe.ts"), ...args],
        { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 60_000 },
      );
      expect(res.status, res.stderr).toBe(0);
      return JSON.parse(res.stdout);
    };
    const sdk = probe();
    const ours = probe("--shortcut");
    expect(ours.before).toEqual(sdk.before);
    expect(ours.after).toEqual(sdk.after);
    // What the SDK answers: nothing to remediate, then the configured policy is "not applicable".
    expect(sdk.after.notApplicableList).toEqual([
      { policyName: "valida-b", reason: "Policy does not implement remediateResource" },
    ]);
    expect(sdk.decodedBefore).toBe(1);
    expect(ours.decodedBefore).toBe(0);
    expect(ours.decodedAfter).toBe(1);
  });

  it("the pack itself answers Remediate without decoding the resource (bytes that are no protobuf at all)", async () => {
    // Black box: the real pack's process, and a Remediate request whose body cannot be decoded. The SDK
    // alone fails it (it decodes first); the pack answers "nothing to remediate" without reading it.
    const pack = await startPack(path.join(PROJECT_ROOT, "policypack"));
    try {
      const answer = await pack.call("Remediate", Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
      expect(analyzerproto.RemediateResponse.deserializeBinary(new Uint8Array(answer)).toObject()).toEqual({
        remediationsList: [],
        notApplicableList: [],
      });
    } finally {
      pack.stop();
    }
  });

  it("carries the catalogue parsed at build time, rebuilt when the catalogue changes", async () => {
    // A copy of the pack and what it is built from, so the catalogue can change.
    const root = tempDir("pack-catalogue");
    for (const entry of ["policypack", "components", "policies", "tsconfig.json"])
      fs.cpSync(path.join(PROJECT_ROOT, entry), path.join(root, entry), {
        recursive: true,
        filter: (f) => !/[\\/]policypack[\\/](\.build|node_modules)$/.test(f),
      });
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(root, "node_modules"));
    const dir = path.join(root, "policypack");
    const catalogue = path.join(root, "policies/catalogue.yaml");
    const described = async () => {
      const pack = await startPack(dir);
      try {
        const info = analyzerproto.AnalyzerInfo.deserializeBinary(new Uint8Array(await pack.call("GetAnalyzerInfo")));
        return (info.toObject().policiesList as { name: string; description: string }[]).find(
          (p) => p.name === "CART-NET-001",
        )?.description;
      } finally {
        pack.stop();
      }
    };
    expect(await described()).toBe("CART-NET-001: No NodePort services");
    expect(fs.readFileSync(path.join(dir, ".build/index.cjs"), "utf8")).toContain(
      'checkCatalogue(JSON.parse(`{"catalogue":',
    );
    fs.writeFileSync(
      catalogue,
      fs.readFileSync(catalogue, "utf8").replace("title: No NodePort services", "title: Nenhum Service NodePort"),
    );
    expect(await described()).toBe("CART-NET-001: Nenhum Service NodePort");
    // A catalogue that isn't YAML is left to the pack, which names the file as it always did.
    fs.writeFileSync(catalogue, "catalogue: [\n");
    const res = spawnSync(process.execPath, ["-e", `require("./index.js")`, "127.0.0.1:1"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toContain(`${catalogue}: not a readable YAML rule catalogue`);
  });
});

/** The pack in `dir` started as its entry point (index.js), and unary calls to its Analyzer service, raw. */
async function startPack(dir: string): Promise<{ call(method: string, body?: Buffer): Promise<Buffer>; stop(): void }> {
  const pack = spawn(process.execPath, ["-e", `require("./index.js")`, "127.0.0.1:1"], { cwd: dir });
  let stderr = "";
  pack.stderr.on("data", (d) => (stderr += d));
  const port = await new Promise<string>((resolve, reject) => {
    pack.stdout.once("data", (d) => resolve(String(d).trim()));
    pack.once("exit", (code) => reject(new Error(`the pack exited (${code}): ${stderr}`)));
  });
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    call: (method, body = Buffer.alloc(0)) =>
      new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(
          `/pulumirpc.Analyzer/${method}`,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          (err, resp) => (err ? reject(err) : resolve(resp!)),
        ),
      ),
    stop: () => {
      client.close();
      pack.kill("SIGKILL");
    },
  };
}
