/**
 * Benchmark of the rehearsal (npm run bench:ensaio [-- --runs N]).
 *
 * In turn, A B A B …: `npm run ensaio -- --destroy --down` from an empty .local/ensaio (what npm test does on a
 * fresh clone: the cluster started, up, the trust model tried, the evidence, destroy and the re-up that adopts
 * what was kept), against its peer, `npm run ensaio` again on the cluster and stack the run before left (an
 * operator's second rehearsal of a change). Both as `bash scripts/ensaio/ensaio.sh` (npm run ensaio without npm),
 * its installs found in place. Prints the table and writes docs/figures/ensaio.md; asserts nothing.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { down } from "../cluster/controlplane";
import { FigureTable, writeFigures } from "./figures";

const root = path.resolve(__dirname, "../..");
const E = path.join(root, ".local/ensaio");
const { values } = parseArgs({ options: { runs: { type: "string", default: "2" } }, strict: true });
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function ensaio(args: string[]): number {
  const t0 = Date.now();
  const r = spawnSync("bash", ["scripts/ensaio/ensaio.sh", ...args], {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`ensaio ${args.join(" ")} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return (Date.now() - t0) / 1000;
}

async function main() {
  const cold: number[] = [];
  const again: number[] = [];
  for (let i = 0; i < runs; i++) {
    await down({ dir: path.join(E, "cluster"), log: () => undefined });
    fs.rmSync(E, { recursive: true, force: true });
    cold.push(ensaio(["--destroy"]));
    again.push(ensaio([]));
    console.error(`run ${i + 1}/${runs}: from nothing with --destroy ${cold[i]} s, again ${again[i]} s`);
  }
  await down({ dir: path.join(E, "cluster"), log: () => undefined });
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  const tables: FigureTable[] = [
    {
      title: `npm run ensaio (medians of ${runs}, run in turn)`,
      header: ["run", "seconds", "min–max"],
      rows: [
        ["`--destroy` from an empty `.local/ensaio` (npm test's case)", median(cold).toFixed(0), range(cold)],
        ["peer: again, on the cluster and stack left running", median(again).toFixed(0), range(again)],
        ["ratio", (median(cold) / median(again)).toFixed(2), ""],
      ],
    },
  ];
  for (const t of tables) console.log(`${t.title}\n${t.rows.map((r) => r.join("  ")).join("\n")}\n`);
  const file = await writeFigures(
    "ensaio",
    "bench:ensaio",
    "What the rehearsal of producao costs: npm run ensaio with --destroy from nothing (the cluster started, up, the trust model tried, the evidence, destroy and re-up), as npm test runs it, against a second rehearsal on what the first left running.",
    tables,
  );
  console.error(`written ${path.relative(root, file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
