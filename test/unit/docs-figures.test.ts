/**
 * Every measured figure in the docs names its source. A number that looks like a measurement (a time, a
 * ratio, a percentage, memory, a count of tests) in README.md or docs/*.md must have, on its line or in its
 * paragraph, either a link to a file the benchmarks write (docs/figures/<bench>.md) or a marker
 * `(source: `<command>`, <YYYY-MM-DD>, <N> cores)`. Configuration values and limits are not measurements:
 * the short allow-list below lets them through, each pattern with the reason. docs/figures/ itself is
 * what the benchmarks write, and is not scanned.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../helpers/tools";

/** Numbers that look measured: times, percentages, ratios, memory, and "N tests". */
const MEASUREMENT =
  /(?<![\w.\-/])\d+(?:[.,]\d+)?(?:\s?(?:ms|s|sec|seconds?|min|minutes?|hours?|%|GiB|MiB|GB|MB|KiB|kB)(?![\w])|×|x faster|\s(?:passing\s)?tests\b)/g;

/** A source: a link to docs/figures/<file>.md (from README or docs/), or the dated marker with the machine. */
const SOURCE = [
  /\]\((?:\.\/)?(?:docs\/)?figures\/[\w.-]+\.md(?:#[\w-]*)?\)/,
  /\(source: `[^`]+`(?:[^,()`]*`[^`]+`)*[^,()`]*,\s+\d{4}-\d{2}-\d{2},\s+\d+\s+cores\)/,
];

/**
 * Not measurements. Each pattern covers the number it contains; keep the list short, and say why.
 */
const ALLOWED: { pattern: RegExp; why: string }[] = [
  {
    // "within 10 s", "up to 30 s", "at most 5 %", "after 5 s", "every 15 s", "per 15 s", "≤ 3600 s",
    // "default 10 s": a bound, timeout, interval or default that config or a test sets, not a result.
    pattern:
      /\b(?:within|up to|at most|after|every|per|default|timeout of)\s+\d+(?:[.,]\d+)?\s?(?:minutes?|min|seconds?|ms|s|%)(?!\w)|[≤≥]\s?\d+(?:[.,]\d+)?\s?(?:ms|s|%)(?!\w)/g,
    why: "a bound, interval or default set by config or a test",
  },
  {
    // A row of the configuration reference (| `key.path` | default | meaning |): defaults and their ranges.
    pattern: /^\|\s*`[a-z][\w]*\.[\w.]+`.*$/g,
    why: "a row of the configuration reference",
  },
  {
    // A percentage range of a setting: "1–100 %" (a utilisation target's valid values).
    pattern: /\b1–100 %/g,
    why: "the valid range of a percentage setting",
  },
];

export interface Unsourced {
  file: string;
  line: number;
  figure: string;
  text: string;
}

/** Blocks the check judges together: paragraphs, list items and table rows; fenced code is left out. */
function blocks(markdown: string): { start: number; lines: string[] }[] {
  const out: { start: number; lines: string[] }[] = [];
  let cur: { start: number; lines: string[] } | undefined;
  let fence: string | undefined;
  markdown.split("\n").forEach((raw, i) => {
    const f = /^\s*(```|~~~)/.exec(raw);
    if (fence) {
      if (f && f[1] === fence) fence = undefined;
      return;
    }
    if (f) {
      fence = f[1];
      cur = undefined;
      return;
    }
    const starts = /^\s*(?:[-*+]|\d+\.)\s/.test(raw) || /^\s*\|/.test(raw) || /^#/.test(raw);
    if (raw.trim() === "") {
      cur = undefined;
      return;
    }
    if (!cur || starts || /^\s*\|/.test(cur.lines[cur.lines.length - 1])) {
      cur = { start: i + 1, lines: [] };
      out.push(cur);
    }
    cur.lines.push(raw);
  });
  return out;
}

/** The measurement-looking figures of a markdown text that name no source. */
export function unsourcedFigures(markdown: string, file = "<text>"): Unsourced[] {
  const found: Unsourced[] = [];
  for (const b of blocks(markdown)) {
    const paragraph = b.lines.join("\n");
    const sourced = SOURCE.some((s) => s.test(paragraph));
    if (sourced) continue;
    b.lines.forEach((line, k) => {
      // Inline code is a literal (a command, a key, a value), not a figure.
      const text = line.replace(/`[^`]*`/g, (m) => " ".repeat(m.length));
      // The allow-list sees the line as written (a configuration row starts with its key in code); the
      // blanked text keeps every position, so its spans apply to the figures found in it.
      const allowed: [number, number][] = [];
      for (const a of ALLOWED)
        for (const m of line.matchAll(a.pattern)) allowed.push([m.index!, m.index! + m[0].length]);
      for (const m of text.matchAll(MEASUREMENT)) {
        const at = m.index!;
        if (allowed.some(([s, e]) => at >= s && at + m[0].length <= e)) continue;
        found.push({ file, line: b.start + k, figure: m[0].trim(), text: line.trim() });
      }
    });
  }
  return found;
}

function pages(): string[] {
  return [
    "README.md",
    ...fs
      .readdirSync(path.join(PROJECT_ROOT, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];
}

describe("docs figures", () => {
  it("every measured figure in README.md and docs/*.md names its source", () => {
    const found = pages().flatMap((f) => unsourcedFigures(fs.readFileSync(path.join(PROJECT_ROOT, f), "utf8"), f));
    expect(found.map((u) => `${u.file}:${u.line}: ${u.figure} — ${u.text}`)).toEqual([]);
  });

  it("fails on a figure without a source", () => {
    const sample = [
      "The first `npm run local` takes about 2 minutes, and the pack",
      "adds 22–28 % to a preview; the rules are 58× faster than conftest.",
      "",
      "CI runs 256 tests in 47 minutes.",
    ].join("\n");
    expect(unsourcedFigures(sample).map((u) => `${u.line}: ${u.figure}`)).toEqual([
      "1: 2 minutes",
      "2: 28 %",
      "2: 58×",
      "4: 256 tests",
      "4: 47 minutes",
    ]);
  });

  it("accepts a figure whose line or paragraph names a source", () => {
    expect(
      unsourcedFigures(
        "The first run took about 2 minutes\n(source: `npm run local` on a fresh clone, 2026-11-29, 2 cores).",
      ),
    ).toEqual([]);
    expect(unsourcedFigures("The rules are 58× faster ([figures/policy.md](figures/policy.md)).")).toEqual([]);
    expect(unsourcedFigures("See [the bench](docs/figures/policy.md): 58× faster.")).toEqual([]);
    // A marker without its date or its machine is not one.
    expect(unsourcedFigures("It took 13 s (source: `npm run local`).")).toHaveLength(1);
    expect(unsourcedFigures("It took 13 s (source: `npm run local`, 2026-11-29).")).toHaveLength(1);
    // A source in another paragraph does not count.
    expect(unsourcedFigures("It took 13 s.\n\nOther (source: `npm run local`, 2026-11-29, 2 cores).")).toHaveLength(1);
  });

  it("lets configuration values and limits through, and nothing in code", () => {
    expect(
      unsourcedFigures(
        [
          "The test requires the answer within 10 s; the HPA syncs every 15 s, scale-up per 15 s (default 10 s).",
          "| `scaling.behavior.scaleDown` | 300 s window; 100 % per 15 s | HPA scale-down behaviour |",
          "`300 s` in code, and a block:",
          "```",
          "took 42 s",
          "```",
        ].join("\n"),
      ),
    ).toEqual([]);
    // "under" and "<" are how measurements are claimed ("answers in under 1 s"): not allowed through.
    expect(unsourcedFigures("The host answers in under 1 s.").map((u) => u.figure)).toEqual(["1 s"]);
    expect(unsourcedFigures("SIGINT ends it in < 1 s.").map((u) => u.figure)).toEqual(["1 s"]);
  });
});
