/**
 * What the policy pack costs where users feel it (npm run bench:preview [-- --runs N]): `pulumi preview`
 * of the local stack's program (render mode, as a PR preview runs it without a cluster) without a pack,
 * with a minimal pack (one policy that does nothing) and with `--policy-pack policypack`, in turn in one
 * session, N times each (default 11, after one warm-up of each; the order of the three turns each run, so
 * none always follows another). The minimal pack is a JavaScript pack whose PulumiPolicy.yaml says
 * `typescript: false`, as the project's own pack says: both start the same way (our language host's
 * policy-runner.js, no ts-node), so what policypack costs beyond it is its own loading and rules, and what
 * the minimal pack costs is the floor any Node.js pack pays here: its process, the SDK's runner and the
 * engine's calls per resource, one resource at a time (Analyze, and Remediate before it, which our language
 * host answers itself while no policy can remediate, for either pack). Prints each run, the medians and
 * overheads, and the median of each run's own ratio (policypack over the no-pack preview beside it), and
 * writes them to docs/figures/preview.md (command, date, cores); asserts nothing.
 * --ts loads policypack as it loaded before (ts-node type-checking index.ts on every run), for comparison.
 */
import { parseArgs } from "node:util";
import * as fs from "node:fs";
import * as path from "node:path";
import { engineProject } from "../../test/helpers/engine";
import { writeFigures } from "./figures";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "11" }, ts: { type: "boolean", default: false } },
  strict: true,
});
const runs = Number(values.runs);

/**
 * A pack with one policy that never reports, beside the project so it resolves the same SDKs. JavaScript,
 * and saying so (`typescript: false`) as policypack/PulumiPolicy.yaml does, so the two packs start alike.
 */
function minimalPack(projectDir: string): string {
  const dir = path.join(projectDir, "policypack-minimo");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, "PulumiPolicy.yaml"),
    "runtime:\n  name: nodejs\n  options:\n    typescript: false\ndescription: one policy that reports nothing\n",
  );
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "minimo", version: "0.1.0", main: "index.js" }),
  );
  fs.writeFileSync(
    path.join(dir, "index.js"),
    `const { PolicyPack } = require("@pulumi/policy");
new PolicyPack("minimo", {
  policies: [{ name: "nada", description: "reports nothing", enforcementLevel: "advisory", validateResource: () => {} }],
});
`,
  );
  return dir;
}

async function main() {
  const project = await engineProject();
  if (values.ts) {
    const pkg = path.join(project.dir, "policypack/package.json");
    fs.writeFileSync(pkg, JSON.stringify({ ...JSON.parse(fs.readFileSync(pkg, "utf8")), main: "index.ts" }));
    const yaml = path.join(project.dir, "policypack/PulumiPolicy.yaml");
    fs.writeFileSync(yaml, fs.readFileSync(yaml, "utf8").replace("typescript: false", "typescript: true"));
  }
  const stack = await project.stack("bench");
  const arms: Record<string, string[]> = {
    "no pack": [],
    "minimal pack": [minimalPack(project.dir)],
    policypack: [path.join(project.dir, "policypack")],
  };
  const time = async (packs: string[]) => {
    const t0 = process.hrtime.bigint();
    await stack.preview({ policyPacks: packs });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (const packs of Object.values(arms)) await time(packs);
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(arms).map((k) => [k, []]));
  const order = Object.keys(arms);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < order.length; k++) {
      const arm = order[(i + k) % order.length];
      times[arm].push(await time(arms[arm]));
    }
    console.log(
      `run ${i + 1}: ${Object.keys(arms)
        .map((a) => `${a} ${times[a][i].toFixed(0)} ms`)
        .join(", ")}`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(times["no pack"]);
  const pct = (x: number) => `${(((x - base) / base) * 100).toFixed(0)} %`;
  const floor = median(times["minimal pack"]);
  const ours = median(times.policypack);
  console.log(
    `preview median: ${(base / 1000).toFixed(2)} s without a pack, ${(floor / 1000).toFixed(2)} s with the minimal pack (overhead ${pct(floor)}), ` +
      `${(ours / 1000).toFixed(2)} s with policypack (overhead ${pct(ours)}, ratio ${(ours / base).toFixed(2)}); ` +
      `policypack beyond the minimal pack: ${(((ours - floor) / base) * 100).toFixed(0)} % of the preview`,
  );
  const paired = median(times.policypack.map((t, i) => t / times["no pack"][i]));
  console.log(`median of the runs' own ratios (policypack / no pack): ${paired.toFixed(2)}`);
  const arm = (a: string) => {
    const m = median(times[a]);
    return [
      a,
      (m / 1000).toFixed(2),
      (Math.min(...times[a]) / 1000).toFixed(2),
      (Math.max(...times[a]) / 1000).toFixed(2),
      a === "no pack" ? "—" : pct(m),
    ];
  };
  await writeFigures(
    "preview",
    "bench:preview",
    "`pulumi preview` of the local stack's program in render mode, without a pack, with a one-policy JavaScript " +
      "pack (`typescript: false`, as `policypack/PulumiPolicy.yaml` says) and with `policypack`, in turn, " +
      `${runs} runs each after one warm-up of each${values.ts ? "; policypack loaded through ts-node (--ts)" : ""}.`,
    [
      {
        title: `Preview time (s, ${runs} runs each)`,
        header: ["pack", "median", "fastest", "slowest", "overhead of the median over no pack"],
        rows: Object.keys(arms).map(arm),
      },
      {
        title: "policypack",
        header: ["figure", "value"],
        rows: [
          [
            "beyond the minimal pack, as a share of the no-pack median",
            `${(((ours - floor) / base) * 100).toFixed(0)} %`,
          ],
          ["median of each run's own ratio (policypack / the no-pack preview beside it)", paired.toFixed(2)],
        ],
      },
      {
        title: "Each run (ms)",
        header: ["run", ...Object.keys(arms)],
        rows: times["no pack"].map((_, i) => [i + 1, ...Object.keys(arms).map((a) => times[a][i].toFixed(0))]),
      },
    ],
  );
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
