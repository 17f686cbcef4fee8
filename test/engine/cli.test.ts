/** The CLI the toolchain built works offline where the npm `pulumi` package looks for it. */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../helpers/tools";

const offline = {
  ...process.env,
  PULUMI_SKIP_UPDATE_CHECK: "true",
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
};
const npx = (...args: string[]) =>
  execFileSync(path.join(PROJECT_ROOT, "node_modules/.bin/pulumi"), args, {
    cwd: PROJECT_ROOT,
    env: offline,
    encoding: "utf8",
  });

describe("npx pulumi, offline", () => {
  it("pulumi version is the pinned one, matching the npm packages", () => {
    const pkg = (name: string) => require(path.join(PROJECT_ROOT, "node_modules", name, "package.json")).version; // eslint-disable-line @typescript-eslint/no-require-imports
    expect(npx("version").trim()).toBe(`v${pkg("pulumi")}`);
    expect(pkg("@pulumi/pulumi")).toBe(pkg("pulumi"));
  });

  it("pulumi plugin ls lists the kubernetes provider @pulumi/kubernetes asks for", () => {
    const k8s = require(path.join(PROJECT_ROOT, "node_modules/@pulumi/kubernetes/package.json")).version; // eslint-disable-line @typescript-eslint/no-require-imports
    expect(npx("plugin", "ls")).toMatch(new RegExp(`kubernetes\\s+resource\\s+${k8s.replace(/\./g, "\\.")}`));
  });
});
