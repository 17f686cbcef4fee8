/**
 * The language host's Go unit tests (argument construction, option parsing, required packages over
 * a messy tree), run by `npm test`: each Go test is a test here, so the closing line counts them.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../helpers/tools";

interface GoEvent {
  Action: string;
  Test?: string;
  Output?: string;
}

const engineDir = path.join(PROJECT_ROOT, "scripts/toolchain/engine");
// Run once, at collection, so every Go test becomes a vitest test of its own.
const run = spawnSync("go", ["test", "-json", "-count=1", "./cmd/pulumi-language-nodejs/"], {
  cwd: engineDir,
  encoding: "utf8",
  timeout: 600_000,
  env: { ...process.env, GOFLAGS: "-mod=mod" },
});
const events: GoEvent[] = (run.stdout ?? "")
  .split("\n")
  .filter((l) => l.startsWith("{"))
  .map((l) => JSON.parse(l));
const results = new Map<string, { action: string; output: string }>();
for (const e of events) {
  if (!e.Test || e.Test.includes("/")) continue;
  const r = results.get(e.Test) ?? { action: "run", output: "" };
  if (e.Action === "output") r.output += e.Output ?? "";
  if (["pass", "fail", "skip"].includes(e.Action)) r.action = e.Action;
  results.set(e.Test, r);
}

describe("the language host's Go unit tests", () => {
  it("go test ran and found the host's tests", () => {
    expect(run.error, "go is needed (the toolchain builds with it)").toBeUndefined();
    expect(results.size, `${run.stderr}\n${run.stdout}`.slice(-4000)).toBeGreaterThanOrEqual(8);
  });
  for (const [name, r] of results) {
    it(name, () => {
      expect(r.action, r.output).toBe("pass");
    });
  }
});
