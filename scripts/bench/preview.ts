/**
 * What the policy pack costs where users feel it (npm run bench:preview [-- --runs N]): `pulumi preview`
 * of the local stack's program (render mode, as a PR preview runs it without a cluster) with
 * `--policy-pack policypack` and without it, alternately in one session, N times each (default 5, after
 * one warm-up of each). Prints each run, the medians and the overhead; asserts nothing. --ts loads the pack
 * as it loaded before (ts-node type-checking index.ts on every run), for comparison.
 */
import { parseArgs } from "node:util";
import * as fs from "node:fs";
import * as path from "node:path";
import { engineProject } from "../../test/helpers/engine";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "5" }, ts: { type: "boolean", default: false } },
  strict: true,
});
const runs = Number(values.runs);

async function main() {
  const project = await engineProject();
  if (values.ts) {
    // The way the pack loaded before (ts-node type-checking index.ts on every run), for comparison.
    const pkg = path.join(project.dir, "policypack/package.json");
    fs.writeFileSync(pkg, JSON.stringify({ ...JSON.parse(fs.readFileSync(pkg, "utf8")), main: "index.ts" }));
    const yaml = path.join(project.dir, "policypack/PulumiPolicy.yaml");
    fs.writeFileSync(yaml, fs.readFileSync(yaml, "utf8").replace("typescript: false", "typescript: true"));
  }
  const stack = await project.stack("bench");
  const pack = [path.join(project.dir, "policypack")];
  const time = async (withPack: boolean) => {
    const t0 = process.hrtime.bigint();
    await stack.preview(withPack ? { policyPacks: pack } : {});
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  await time(false);
  await time(true);
  const without: number[] = [];
  const withPack: number[] = [];
  for (let i = 0; i < runs; i++) {
    without.push(await time(false));
    withPack.push(await time(true));
    console.log(`run ${i + 1}: without pack ${without[i].toFixed(0)} ms, with pack ${withPack[i].toFixed(0)} ms`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const a = median(without);
  const b = median(withPack);
  console.log(
    `preview median: ${(a / 1000).toFixed(2)} s without the pack, ${(b / 1000).toFixed(2)} s with it: overhead ${(((b - a) / a) * 100).toFixed(0)} % (ratio ${(b / a).toFixed(2)})`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
