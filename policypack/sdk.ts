// How the pack uses @pulumi/policy beyond its public API, in one place, each with why.
// The module object itself (an ES namespace import would be a copy in the bundle), so that replacing its
// function reaches server.js, which calls it through that object.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import sdkDeserialize = require("@pulumi/policy/deserialize");
// eslint-disable-next-line @typescript-eslint/no-require-imports
import sdkProxy = require("@pulumi/policy/proxy");
// eslint-disable-next-line @typescript-eslint/no-require-imports
import grpc = require("@grpc/grpc-js");
// eslint-disable-next-line @typescript-eslint/no-require-imports
import analyzerGrpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
import sdkPolicy = require("@pulumi/policy/policy");
// eslint-disable-next-line @typescript-eslint/no-require-imports
import sdkProto = require("@pulumi/policy/protoutil");
import type { EnforcementLevel, Policy } from "@pulumi/policy";

/**
 * @pulumi/policy (v1.21, server.js) deserializes a resource's properties anew for every policy it runs on
 * it, and wraps them anew in its unknown-checking proxy: ~45 times per resource here, most of the pack's
 * time in a preview, where the engine waits on each resource's analysis. One request's properties are one
 * protobuf Struct, so each is deserialized and wrapped once and the policies (which only read them) share
 * the result: every policy sees the same `props` object for one resource, so what the pack derives from
 * it can be derived once too. If a later SDK renames either function, nothing changes but the speed:
 * test/policy/pack-load.test.ts notices.
 */
export function shareDeserializedProperties(): boolean {
  type Deserialize = (struct: object, proxySecrets: boolean) => unknown;
  const mod = sdkDeserialize as unknown as { deserializeProperties?: Deserialize; shared?: true };
  const proxies = sdkProxy as unknown as { unknownCheckingProxy?: (o: unknown) => unknown; shared?: true };
  const original = mod.deserializeProperties;
  const wrap = proxies.unknownCheckingProxy;
  if (typeof original !== "function" || typeof wrap !== "function") return false;
  if (mod.shared && proxies.shared) return true;
  const done = [new WeakMap<object, unknown>(), new WeakMap<object, unknown>()];
  mod.deserializeProperties = (struct, proxySecrets) => {
    const memo = done[proxySecrets ? 1 : 0];
    if (!memo.has(struct)) memo.set(struct, original(struct, proxySecrets));
    return memo.get(struct);
  };
  const wrapped = new WeakMap<object, unknown>();
  proxies.unknownCheckingProxy = (o) => {
    if (!(o instanceof Object)) return wrap(o);
    if (!wrapped.has(o)) wrapped.set(o, wrap(o));
    return wrapped.get(o);
  };
  mod.shared = proxies.shared = true;
  return true;
}

type Handler = (call: { request: unknown }, callback: (err: unknown, resp?: unknown) => void) => unknown;
interface MethodDefinition {
  requestDeserialize: (bytes: Buffer) => unknown;
}
interface ConfigureRequest {
  getPolicyconfigMap(): { entries(): Iterable<[string, { getEnforcementlevel(): number }]> };
}

/** A message decoded the first time something reads it. */
function decodedOnUse(decode: () => object): object {
  let real: object | undefined;
  const message = () => (real ??= decode());
  return new Proxy(
    {},
    {
      get: (_, k) => {
        const v = Reflect.get(message(), k);
        return typeof v === "function" ? v.bind(message()) : v;
      },
    },
  );
}

/**
 * The engine asks a pack to remediate each resource before it asks it to analyse it. @pulumi/policy
 * (v1.21, server.js) answers Remediate by decoding the resource's properties from protobuf and deserializing
 * them, and only then looks for a policy to run: one whose enforcement level (the Configure call's, over the
 * policy's own, over the pack's) is "remediate"; a policy that has no remediateResource gets a "not
 * applicable" line. This pack's policies validate; unless configuration makes one "remediate", every
 * answer is empty, and the decoding was half of the pack's time per resource in a preview.
 *
 * So, for the Analyzer service only, at grpc-js's addService: the Remediate request is decoded when the SDK's
 * handler first reads it, and the handler is not called while no policy could run, its answer being the
 * empty one it would give; Configure's request is read as server.js reads it, then handed on. Any other
 * answer comes from the SDK's own handler. test/policy/pack-load.test.ts compares both ways through gRPC.
 */
export function skipUnusedRemediation(policies: Policy[], packLevel: EnforcementLevel = "advisory"): boolean {
  const proto = grpc.Server.prototype as unknown as {
    addService: (service: object, impl: Record<string, Handler>) => void;
    remediation?: true;
  };
  const service = (analyzerGrpc as unknown as { AnalyzerService?: Record<string, MethodDefinition> }).AnalyzerService;
  const { isResourcePolicy } = sdkPolicy as unknown as { isResourcePolicy?: (p: Policy) => boolean };
  const { convertEnforcementLevel, makeRemediateResponse } = sdkProto as unknown as {
    convertEnforcementLevel?: (l: number) => EnforcementLevel;
    makeRemediateResponse?: (rs: unknown[], notApplicable?: unknown[]) => unknown;
  };
  if (
    !service?.remediate ||
    !service.configure ||
    !isResourcePolicy ||
    !convertEnforcementLevel ||
    !makeRemediateResponse
  )
    return false;
  if (proto.remediation) return true;
  let configured: Record<string, EnforcementLevel> = {};
  const couldRemediate = () =>
    policies.some(
      (p) => (configured[p.name] || p.enforcementLevel || packLevel) === "remediate" && isResourcePolicy(p),
    );
  const addService = proto.addService;
  proto.addService = function (this: unknown, svc: object, impl: Record<string, Handler>) {
    if (svc !== service || typeof impl.remediate !== "function" || typeof impl.configure !== "function")
      return addService.call(this, svc, impl);
    const decode = service.remediate.requestDeserialize;
    const lazyService = {
      ...service,
      remediate: { ...service.remediate, requestDeserialize: (b: Buffer) => decodedOnUse(() => decode(b) as object) },
    };
    const handlers: Record<string, Handler> = {
      ...impl,
      configure: (call, callback) => {
        // As server.js: the whole map, or (on a bad level) the previous configuration stays.
        try {
          const next: Record<string, EnforcementLevel> = {};
          for (const [name, c] of (call.request as ConfigureRequest).getPolicyconfigMap().entries())
            next[name] = convertEnforcementLevel(c.getEnforcementlevel());
          configured = next;
        } catch {
          // server.js reports the error; its configuration, like this one, is unchanged
        }
        return impl.configure(call, callback);
      },
      remediate: (call, callback) =>
        couldRemediate() ? impl.remediate(call, callback) : callback(undefined, makeRemediateResponse([], undefined)),
    };
    return addService.call(this, lazyService, handlers);
  };
  proto.remediation = true;
  return true;
}
