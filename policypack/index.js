// The pack's entry point (package.json "main"): loads index.ts and what it imports, the Pulumi SDKs
// included, as one prebuilt bundle, so a preview neither waits for ts-node to type-check the pack (type
// errors are CI's job: npm run typecheck) nor for Node to resolve and read hundreds of SDK files one by one.
// build.js makes the bundle (about a second) the first time and whenever one of its input files changed —
// each input's size and mtime are recorded with it — so it is never stale. It sits two folders below the
// project root, as the modules' own paths expect.
const fs = require("node:fs");
const path = require("node:path");
const { dir, outfile, record, stamp } = require("./stamps.js");

function fresh() {
  try {
    const inputs = JSON.parse(fs.readFileSync(record, "utf8"));
    return fs.existsSync(outfile) && Object.entries(inputs).every(([f, st]) => stamp(f) === st);
  } catch {
    return false;
  }
}

if (!fresh()) {
  // In a child process, since esbuild's plugins need its asynchronous API. Its stdout is kept off ours:
  // a plugin's first line of output is the port the engine connects to.
  require("node:child_process").execFileSync(process.execPath, [path.join(__dirname, "build.js")], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}
// V8 keeps the bundle's compiled code on disk too (Node 22's module compile cache): later runs skip parsing
// it. Node writes that cache at exit, which a pack never reaches (the engine kills it when the preview is
// done), so it is flushed as soon as the bundle has loaded.
const mod = require("node:module");
mod.enableCompileCache?.(path.join(dir, "v8"));
require(outfile);
mod.flushCompileCache?.();
