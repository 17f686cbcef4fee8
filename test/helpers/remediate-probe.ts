/**
 * Serves a pack of two validating policies with @pulumi/policy (PolicyPack, as a pack does) in this process
 * and asks it over gRPC, as the engine would: Remediate, then Configure (one policy at "remediate"), then
 * Remediate again. Prints the two answers and how many Remediate requests were decoded, as JSON. With
 * --shortcut, policypack/sdk.ts's skipUnusedRemediation is installed first. test/policy/pack-load.test.ts
 * runs it both ways: the answers must be the same.
 */
import * as grpc from "@grpc/grpc-js";
import { PolicyPack, ResourceValidationPolicy } from "@pulumi/policy";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { skipUnusedRemediation } from "../../policypack/sdk";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzerGrpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzerPb = require("@pulumi/pulumi/proto/analyzer_pb");

const policies: ResourceValidationPolicy[] = ["valida-a", "valida-b"].map((name) => ({
  name,
  description: `${name}: validates, never remediates`,
  enforcementLevel: "mandatory",
  validateResource: () => {},
}));

let decodes = 0;
const decode = analyzerPb.AnalyzeRequest.deserializeBinary;
analyzerPb.AnalyzeRequest.deserializeBinary = (bytes: Uint8Array) => (decodes++, decode(bytes));

async function main() {
  if (process.argv.includes("--shortcut") && !skipUnusedRemediation(policies)) throw new Error("not installed");
  const port = await new Promise<string>((resolve) => {
    const log = console.log;
    console.log = (line: unknown) => {
      console.log = log;
      resolve(String(line));
    };
    new PolicyPack("sonda", { policies });
  });
  const client = new analyzerGrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = <T>(method: string, req: unknown) =>
    new Promise<T>((resolve, reject) =>
      client[method](req, (err: Error | null, resp: T) => (err ? reject(err) : resolve(resp))),
    );
  const remediate = async () => {
    const req = new analyzerPb.AnalyzeRequest();
    req.setUrn("urn:pulumi:t::p::kubernetes:apps/v1:Deployment::api");
    req.setType("kubernetes:apps/v1:Deployment");
    req.setName("api");
    req.setProperties(Struct.fromJavaScript({ kind: "Deployment", metadata: { name: "api" }, spec: { replicas: 2 } }));
    req.setOptions(new analyzerPb.AnalyzerResourceOptions());
    return (await call<{ toObject(): unknown }>("remediate", req)).toObject();
  };
  const before = await remediate();
  const decodedBefore = decodes;
  const cfg = new analyzerPb.ConfigureAnalyzerRequest();
  const remediating = new analyzerPb.PolicyConfig();
  remediating.setEnforcementlevel(analyzerPb.EnforcementLevel.REMEDIATE);
  remediating.setProperties(Struct.fromJavaScript({}));
  cfg.getPolicyconfigMap().set("valida-b", remediating);
  await call("configure", cfg);
  const after = await remediate();
  process.stdout.write(JSON.stringify({ before, after, decodedBefore, decodedAfter: decodes - decodedBefore }));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
