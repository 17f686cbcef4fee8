// Preloaded into the pack's process before Pulumi's pack runner (PulumiPolicy.yaml: nodeargs --require), so
// Node's module compile cache covers everything the process loads: the runner, the TypeScript compiler it
// loads whatever the pack is written in (~9 MB of JavaScript, half of the pack's start), and the bundle.
// The cache sits with the bundle (.build/v8, per Node version); index.js flushes it once the bundle has
// loaded, since the engine kills a pack rather than letting it exit. Prints nothing: a pack's first line of
// output is its port.
require("node:module").enableCompileCache?.(require("node:path").join(__dirname, ".build", "v8"));
