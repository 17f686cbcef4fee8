// Runs a command of scripts/ops/ (the operator commands) or scripts/cluster/ (the embedded
// cluster), scripts/<folder>/<name>.ts, without a TypeScript runtime: esbuild bundles it
// (about 0.1 s) into .local/bin and it runs in this process. Start-up is a few hundred
// milliseconds instead of the second tsx costs; the commands import only plain modules, never
// the Pulumi SDK (eslint.config.mjs refuses it in those folders).
//   node scripts/ops/run.mjs hsm-slots --stack producao
import { build } from "esbuild";
import { existsSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FOLDERS = ["ops", "cluster", "ensaio"];
const [name, ...args] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error(
    "usage: node scripts/ops/run.mjs <command> [args...]   (command: a file scripts/{ops,cluster}/<command>.ts)",
  );
  process.exit(2);
}
const entry = FOLDERS.map((f) => path.join(root, "scripts", f, `${name}.ts`)).find((f) => existsSync(f));
if (!entry) {
  console.error(`no command ${name}: no file scripts/{${FOLDERS.join(",")}}/${name}.ts`);
  process.exit(2);
}
const outfile = path.join(root, ".local/bin", `${name}.cjs`);
// Built under a name of its own, then renamed: two commands started at once (tests do) never read a
// half-written bundle.
const building = `${outfile}.${process.pid}.tmp`;
await build({
  entryPoints: [entry],
  bundle: true,
  platform: "node",
  target: "node22",
  // Native or dynamically loaded packages stay in node_modules.
  packages: "external",
  outfile: building,
  logLevel: "warning",
});
renameSync(building, outfile);
// A caller may point a command at another checkout of the project (the tests use copies).
process.env.CARTORIO_PROJECT_ROOT ??= root;
process.argv = [process.argv[0], outfile, ...args];
createRequire(import.meta.url)(outfile);
