/**
 * The inventory's calendar at fixed dates (never today's): expiryReport and
 * `npm run kms:expiry` as the scheduled workflow runs it.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { expiryReport } from "../../components/keys/expiry";
import { loadInventory } from "../../components/keys/inventory";
import { PROJECT_ROOT } from "../helpers/tools";

const producao = loadInventory(path.join(PROJECT_ROOT, "configs/kms/producao.yaml"));
const at = (day: string) => new Date(`${day}T00:00:00Z`);
const apiTls = (day: string) => expiryReport(producao, at(day)).find((k) => k.label === "api-tls-v3")!;

describe("key expiry", () => {
  it("api-tls (activated 2026-06-01, 365 days) is ok, then in its 90-day window, then expired after 2027-06-01", () => {
    expect(apiTls("2026-12-01")).toMatchObject({ status: "ok", endsOn: "2027-06-01", daysLeft: 182 });
    expect(apiTls("2027-03-02")).toMatchObject({ status: "ok", daysLeft: 91 });
    expect(apiTls("2027-03-03")).toMatchObject({ status: "expiring", daysLeft: 90 });
    expect(apiTls("2027-06-01")).toMatchObject({ status: "expiring", daysLeft: 0 });
    expect(apiTls("2027-06-02")).toMatchObject({ status: "expired", daysLeft: -1 });
  });

  it("lists active versions only, soonest end first; retired versions sign nothing", () => {
    const labels = expiryReport(producao, at("2026-12-01")).map((k) => k.label);
    expect(labels).toEqual(["api-tls-v3", "atos-notariais-v2", "selo-digital-v1", "evidencias-v1"]);
    expect(labels).not.toContain("atos-notariais-v1");
  });

  it("the warning window is configurable", () => {
    expect(expiryReport(producao, at("2026-12-01"), 200).find((k) => k.label === "api-tls-v3")!.status).toBe(
      "expiring",
    );
  });

  it("npm run kms:expiry warns inside the window (exit 0) and errors once expired (exit 1)", () => {
    const run = (args: string[]) => {
      const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, "scripts/ops/run.mjs"), "kms-expiry", ...args], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
      });
      return { code: res.status, out: res.stdout + res.stderr };
    };
    const warn = run(["--stack", "producao", "--at", "2027-04-15"]);
    expect(warn.out).toMatch(/WARNING api-tls-v3 \(tls, token tls\) ends 2027-06-01: 47 day\(s\) left/);
    expect(warn.code).toBe(0);
    const expired = run(["--stack", "producao", "--at", "2027-06-02"]);
    expect(expired.out).toMatch(/ERROR {3}api-tls-v3 .* expired 1 day\(s\) ago/);
    expect(expired.out).toContain("1 expired, 0 expiring");
    expect(expired.code).toBe(1);
    const bad = run(["--at", "2027-13-45"]);
    expect(bad.out).toContain("--at 2027-13-45: expected a date YYYY-MM-DD");
    expect(bad.code).toBe(2);
  });
});
