// Where CI's time went: the phases .ci/run timed (a TSV of name, seconds, exit code), then, from
// vitest's JSON report, the seconds per test folder and the slowest test files.
//   node scripts/ci/ci-timings.mjs .local/ci-phases.tsv .local/vitest-report.json <total seconds>
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";

const [phasesFile, reportFile, total] = process.argv.slice(2);
const rows = [];
if (phasesFile && existsSync(phasesFile))
  for (const line of readFileSync(phasesFile, "utf8").split("\n").filter(Boolean)) {
    const [name, seconds, rc] = line.split("\t");
    rows.push([name, Number(seconds), rc === "0" ? "" : `exit ${rc}`]);
  }
const width = Math.max(20, ...rows.map((r) => r[0].length));
const line = (a, b, c = "") => `  ${a.padEnd(width)}  ${String(b).padStart(6)}  ${c}`;
console.log("\nCI phases (seconds):");
for (const [name, s, note] of rows) console.log(line(name, s, note));
if (total) console.log(line("total", total));

if (reportFile && existsSync(reportFile)) {
  const report = JSON.parse(readFileSync(reportFile, "utf8"));
  const files = (report.testResults ?? []).map((r) => ({
    file: path.relative(process.cwd(), r.name),
    seconds: Math.round(((r.endTime ?? 0) - (r.startTime ?? 0)) / 1000),
  }));
  const byFolder = new Map();
  for (const f of files) {
    const folder = path.dirname(f.file);
    byFolder.set(folder, (byFolder.get(folder) ?? 0) + f.seconds);
  }
  console.log("\nnpm test by folder (seconds: each file's own time, summed; files run two at a time):");
  for (const [folder, s] of [...byFolder].sort((a, b) => b[1] - a[1])) console.log(line(folder, s));
  console.log("\nslowest test files (seconds):");
  for (const f of files.sort((a, b) => b.seconds - a.seconds).slice(0, 12)) console.log(line(f.file, f.seconds));
}
