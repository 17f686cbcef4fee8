/**
 * Where a benchmark leaves its figures: docs/figures/<bench>.md, a markdown page with the command line that
 * produced it, the UTC date, the machine (os.cpus().length cores, CPU model, load average at the start) and
 * the commit, then the bench's tables. The docs quote these files (and link them), never a number from
 * memory; test/unit/docs-figures.test.ts fails CI on a measurement in the docs with no source.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as prettier from "prettier";

const root = path.resolve(__dirname, "../..");

export interface FigureTable {
  title: string;
  header: string[];
  rows: (string | number)[][];
}

/** What the machine and the checkout were when a bench started (taken at import, before any work). */
const started = {
  date: new Date(),
  load: os.loadavg()[0],
};

function commit(): string {
  const rev = spawnSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: root, encoding: "utf8" });
  if (rev.status !== 0) return "unknown (not a Git checkout)";
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, encoding: "utf8" });
  return `${rev.stdout.trim()}${dirty.stdout.trim() ? " (with uncommitted changes)" : ""}`;
}

function cell(v: string | number): string {
  return String(v).replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function table(t: FigureTable): string {
  return [
    `## ${t.title}`,
    "",
    `| ${t.header.map(cell).join(" | ")} |`,
    `| ${t.header.map(() => "---").join(" | ")} |`,
    ...t.rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
    "",
  ].join("\n");
}

/** The command a person types to run the bench again: `npm run <script>` and the arguments given. */
export function commandLine(script: string): string {
  const args = process.argv.slice(2);
  return `npm run ${script}${args.length ? ` -- ${args.join(" ")}` : ""}`;
}

/**
 * Writes docs/figures/<name>.md (formatted as `prettier --write` would, so lint stays clean) and returns its
 * path. `about` says in a sentence or two what was measured and how.
 */
export async function writeFigures(
  name: string,
  script: string,
  about: string,
  tables: FigureTable[],
  notes: string[] = [],
): Promise<string> {
  const cpus = os.cpus();
  const file = path.join(root, "docs/figures", `${name}.md`);
  const text = [
    `# Figures: \`npm run ${script}\``,
    "",
    "Written by the bench itself (`scripts/bench/`); do not edit by hand: run the command again.",
    "",
    about,
    "",
    "| Run        |     |",
    "| ---------- | --- |",
    `| Command | \`${cell(commandLine(script))}\` |`,
    `| Date (UTC) | ${started.date.toISOString().replace(/\.\d+Z$/, "Z")} |`,
    `| Machine | ${cpus.length} cores (${cell(cpus[0]?.model.trim() ?? "unknown CPU")}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node.js ${process.version} |`,
    `| Load average at the start | ${started.load.toFixed(2)} (1 min) |`,
    `| Commit | ${commit()} |`,
    "",
    ...tables.map(table),
    ...(notes.length ? [notes.join("\n\n"), ""] : []),
  ].join("\n");
  const options = (await prettier.resolveConfig(file)) ?? {};
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, await prettier.format(text, { ...options, filepath: file }));
  console.log(`figures written to ${path.relative(root, file)}`);
  return file;
}
