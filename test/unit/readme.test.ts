/** The README's configuration reference covers every key of the model. */
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

describe("README", () => {
  it("documents every config key with its default", () => {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    const missing = keys(platformSchema).filter((p) => {
      const full = p.join(".");
      const parent = p.slice(0, -1).join(".");
      return !readme.includes(`\`${full}\``) && !(readme.includes(`\`${parent}.`) && readme.includes(p[p.length - 1]));
    });
    expect(missing.map((p) => p.join("."))).toEqual([]);
  });

  it("names exactly the two set-up commands", () => {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    const block = /## Two commands[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1];
    expect(
      block
        .trim()
        .split("\n")
        .map((l) => l.split("#")[0].trim()),
    ).toEqual(["npm run local", "npm test"]);
  });
});
