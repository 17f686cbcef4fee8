// How the pack uses @pulumi/policy beyond its public API, in one place, each with why.
// The module object itself (an ES namespace import would be a copy in the bundle), so that replacing its
// function reaches server.js, which calls it through that object.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import sdkDeserialize = require("@pulumi/policy/deserialize");

/**
 * @pulumi/policy (v1.21, server.js) deserializes a resource's properties anew for every policy it runs on
 * it: ~45 times per resource here, most of the pack's time in a preview, where the engine waits on each
 * resource's analysis. One request's properties are one protobuf Struct, so each is deserialized once and
 * the policies (which only read them) share the result. If a later SDK renames the function, nothing
 * changes but the speed: test/policy/pack-load.test.ts notices.
 */
export function shareDeserializedProperties(): boolean {
  type Deserialize = (struct: object, proxySecrets: boolean) => unknown;
  const mod = sdkDeserialize as unknown as { deserializeProperties?: Deserialize; shared?: true };
  const original = mod.deserializeProperties;
  if (typeof original !== "function") return false;
  if (mod.shared) return true;
  const done = [new WeakMap<object, unknown>(), new WeakMap<object, unknown>()];
  mod.deserializeProperties = (struct, proxySecrets) => {
    const memo = done[proxySecrets ? 1 : 0];
    if (!memo.has(struct)) memo.set(struct, original(struct, proxySecrets));
    return memo.get(struct);
  };
  mod.shared = true;
  return true;
}
