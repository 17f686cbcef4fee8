/** Which k6 the load tests run: the stand-in always, the real one too when it is on PATH. */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { PROJECT_ROOT } from "./tools";

export const STANDIN = path.join(PROJECT_ROOT, "test/k6-standin/k6");

function realK6(): string | undefined {
  try {
    return execFileSync("bash", ["-c", "command -v k6"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const real = realK6();
/** [name, path] of every k6 there is, for describe.each. */
export const K6_RUNNERS: [string, string][] = [
  ["stand-in", STANDIN],
  ...(real ? [["k6", real] as [string, string]] : []),
];
