// Runs an operator command, scripts/<name>.ts, without a TypeScript runtime:
// esbuild bundles it (about 0.1 s) into .local/bin and it runs in this process.
// Start-up is a few hundred milliseconds instead of the second tsx costs; the
// commands import only plain modules, never the Pulumi SDK.
//   node scripts/run.mjs hsm-slots --stack producao
import { build } from "esbuild";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [name, ...args] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error("usage: node scripts/run.mjs <command> [args...]   (command: a file scripts/<command>.ts)");
  process.exit(2);
}
const outfile = path.join(root, ".local/bin", `${name}.cjs`);
await build({
  entryPoints: [path.join(root, "scripts", `${name}.ts`)],
  bundle: true,
  platform: "node",
  target: "node22",
  // Native or dynamically loaded packages stay in node_modules.
  packages: "external",
  outfile,
  logLevel: "warning",
});
// A caller may point a command at another checkout of the project (the tests use copies).
process.env.CARTORIO_PROJECT_ROOT ??= root;
process.argv = [process.argv[0], outfile, ...args];
createRequire(import.meta.url)(outfile);
