/**
 * The README is the front door and docs/<area>.md hold the rest: the configuration reference
 * (docs/configuration.md) covers every key of the model, the README names the two set-up commands, stays
 * short and links every page, and no relative link in them points at a file or heading that is not there.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { platformSchema } from "../../components/config/schema";
import { PROJECT_ROOT } from "../helpers/tools";

function unwrap(t: z.ZodTypeAny): z.ZodTypeAny {
  if (t instanceof z.ZodDefault) return unwrap(t._def.innerType);
  if (t instanceof z.ZodOptional) return unwrap(t._def.innerType);
  if (t instanceof z.ZodEffects) return unwrap(t._def.schema);
  return t;
}

function keys(t: z.ZodTypeAny, prefix: string[] = []): string[][] {
  const u = unwrap(t);
  if (u instanceof z.ZodObject && prefix.length < 3) {
    return Object.entries(u.shape as Record<string, z.ZodTypeAny>).flatMap(([k, v]) => keys(v, [...prefix, k]));
  }
  return [prefix];
}

const read = (rel: string) => fs.readFileSync(path.join(PROJECT_ROOT, rel), "utf8");

/** docs/*.md, the pages (not docs/figures/, which the benchmarks write). */
function docPages(): string[] {
  return fs
    .readdirSync(path.join(PROJECT_ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`)
    .sort();
}

/** Text outside fenced code blocks (a link in a code sample is not a link). */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
}

/** Inline links `[text](target)` outside code, with their line. */
function links(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  prose(markdown)
    .split("\n")
    .forEach((l, i) => {
      const text = l.replace(/`[^`]*`/g, "");
      for (const m of text.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ target: m[1], line: i + 1 });
    });
  return out;
}

/** GitHub's heading anchors: lowercased, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const l of prose(markdown).split("\n")) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (!h) continue;
    const base = h[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe("README and docs", () => {
  it("documents every config key with its default", () => {
    const reference = read("docs/configuration.md");
    const missing = keys(platformSchema).filter((p) => {
      const full = p.join(".");
      const parent = p.slice(0, -1).join(".");
      return (
        !reference.includes(`\`${full}\``) &&
        !(reference.includes(`\`${parent}.`) && reference.includes(p[p.length - 1]))
      );
    });
    expect(missing.map((p) => p.join("."))).toEqual([]);
  });

  it("names exactly the two set-up commands", () => {
    const readme = read("README.md");
    const block = /## Two commands[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1];
    expect(
      block
        .trim()
        .split("\n")
        .map((l) => l.split("#")[0].trim()),
    ).toEqual(["npm run local", "npm test"]);
  });

  it("keeps the README a front door: at most 300 lines, linking every docs page", () => {
    const readme = read("README.md");
    expect(readme.trimEnd().split("\n").length).toBeLessThanOrEqual(300);
    const linked = new Set(links(readme).map((l) => l.target.split("#")[0]));
    const pages = docPages();
    expect(pages).toContain("docs/configuration.md");
    expect(pages.filter((p) => !linked.has(p))).toEqual([]);
  });

  it("every relative link in README.md and docs/*.md points at a file (and heading) that exists", () => {
    const broken: string[] = [];
    for (const file of ["README.md", ...docPages()]) {
      for (const { target, line } of links(read(file))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: — not in this repository
        const [rel, anchor] = target.split("#");
        const abs = rel
          ? path.resolve(path.dirname(path.join(PROJECT_ROOT, file)), decodeURIComponent(rel))
          : path.join(PROJECT_ROOT, file);
        const where = `${file}:${line} → ${target}`;
        if (!abs.startsWith(PROJECT_ROOT + path.sep) && abs !== PROJECT_ROOT)
          broken.push(`${where} (outside the repository)`);
        else if (!fs.existsSync(abs)) broken.push(`${where} (no such file)`);
        else if (anchor !== undefined && abs.endsWith(".md") && !anchors(fs.readFileSync(abs, "utf8")).has(anchor))
          broken.push(`${where} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("the link check reads GitHub's anchors and skips code", () => {
    expect([
      ...anchors("# What `npm run local` does\n## Node.js\n## A, b\n## A, b\n```\n# not a heading\n```\n"),
    ]).toEqual(["what-npm-run-local-does", "nodejs", "a-b", "a-b-1"]);
    expect(links("see [x](docs/a.md#b) and `[y](no.md)`\n```\n[z](no.md)\n```\n").map((l) => l.target)).toEqual([
      "docs/a.md#b",
    ]);
  });
});
