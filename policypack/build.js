// Builds the pack's bundle (policypack/.build/index.cjs) with esbuild: index.ts and everything it imports,
// the Pulumi SDKs included, in one file, and records each input's size and mtime next to it so index.js
// knows when it is stale. Run by index.js in a child process (esbuild plugins need its asynchronous API).
const esbuild = require("esbuild");
const fs = require("node:fs");
const path = require("node:path");
const { isDeepStrictEqual } = require("node:util");
const { stamp, dir, outfile, record } = require("./stamps.js");

// Parts of the Pulumi SDK that its index loads eagerly and a pack never calls: the Automation API,
// @npmcli/arborist (closure serialization's dependency walk), and the TypeScript compiler (closure
// serialization's function parser loads it through the SDK's typescript-shim). The first two were 250 of the
// bundle's 340 ms of load; the compiler is ~9 MB of JavaScript, left out of the bundle but loaded all the same.
// In the bundle each becomes a proxy that loads the real module on first use, so nothing is lost.
const LAZY = [
  { importer: /@pulumi[\\/]pulumi[\\/]index\.js$/, path: "./automation" },
  { importer: /@pulumi[\\/]pulumi[\\/]runtime[\\/]closure[\\/]codePaths\.js$/, path: "@npmcli/arborist" },
  { importer: /@pulumi[\\/]pulumi[\\/]runtime[\\/]closure[\\/]parseFunction\.js$/, path: "../../typescript-shim" },
];
const lazySdkParts = {
  name: "lazy-sdk-parts",
  setup(build) {
    build.onResolve(
      { filter: new RegExp(`^(${LAZY.map((l) => l.path.replace(/[./]/g, "\\$&")).join("|")})$`) },
      async (args) => {
        if (args.pluginData === "real" || !LAZY.some((l) => l.importer.test(args.importer) && l.path === args.path))
          return undefined;
        const real = await build.resolve(args.path, {
          resolveDir: args.resolveDir,
          kind: args.kind,
          pluginData: "real",
        });
        if (real.errors.length) return { errors: real.errors };
        return { path: real.path, namespace: "lazy" };
      },
    );
    build.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => ({
      resolveDir: path.dirname(args.path),
      contents: `let real;
const load = () => (real ??= require(${JSON.stringify(args.path)}));
module.exports = new Proxy({}, {
  get: (_, k) => (k === "__esModule" ? true : load()[k]),
  has: (_, k) => k in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, k) => {
    const d = Reflect.getOwnPropertyDescriptor(load(), k);
    return d && { ...d, configurable: true };
  },
});`,
    }));
  },
};

// The rule catalogue, parsed now rather than on every start of the pack (index.ts reads it back through
// esbuild's define). Only when its JSON form is the same value: anything else (a YAML error, a value JSON
// can't carry) is left to the pack, which then reads the file itself and reports it as always.
const CATALOGUE = path.resolve(__dirname, "../policies/catalogue.yaml");
function bundledCatalogue() {
  try {
    const data = require("yaml").parse(fs.readFileSync(CATALOGUE, "utf8"));
    const json = JSON.stringify(data);
    return json !== undefined && isDeepStrictEqual(JSON.parse(json), data)
      ? { CARTORIO_BUNDLED_CATALOGUE: JSON.stringify(json) }
      : {};
  } catch {
    return {};
  }
}

async function main() {
  fs.mkdirSync(dir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(__dirname, "index.ts")],
    bundle: true,
    platform: "node",
    target: "node22",
    // Left to Node: esbuild, the TypeScript tooling the SDK loads only for programs, and gRPC, which the SDK's
    // pack runner has loaded from node_modules before the bundle: one copy instead of two (~50 ms of the
    // pack's start, measured start to port).
    external: ["esbuild", "typescript", "ts-node", "*.node", "@grpc/grpc-js"],
    plugins: [lazySdkParts],
    define: bundledCatalogue(),
    // Built under a name of its own and renamed into place: two builds at once (test files running side by
    // side) never leave, or load, a half-written bundle.
    outfile: `${outfile}.${process.pid}.tmp`,
    metafile: true,
    logLevel: "error",
  });
  fs.renameSync(`${outfile}.${process.pid}.tmp`, outfile);
  const names = Object.keys(result.metafile.inputs);
  // A newer SDK that moved either part would silently load it eagerly again: say so instead.
  const lazy = names.filter((f) => f.startsWith("lazy:"));
  if (lazy.length !== LAZY.length)
    throw new Error(`policypack/build.js: expected ${LAZY.length} lazy SDK parts, found ${lazy.length}: update LAZY`);
  // The build's own code is an input too: a change to it (LAZY, say) makes the bundle stale; so is the
  // catalogue, parsed into it.
  const used = new Set([
    ...names.map((f) => f.replace(/^lazy:/, "")),
    __filename,
    path.join(__dirname, "stamps.js"),
    CATALOGUE,
  ]);
  const root = process.cwd();
  const inputs = {};
  for (const f of used) {
    const abs = path.resolve(root, f);
    inputs[abs] = stamp(abs);
  }
  fs.writeFileSync(`${record}.${process.pid}.tmp`, JSON.stringify(inputs));
  fs.renameSync(`${record}.${process.pid}.tmp`, record);
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
