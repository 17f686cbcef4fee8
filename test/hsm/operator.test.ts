/** The operator commands (hsm:slots, kms:sync) as an operator runs them, against real SoftHSM2. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { listKeyLabels } from "../../components/keys/hsm";
import { makeSoftHsm } from "../helpers/softhsm";
import { PROJECT_ROOT, SOFTHSM_MODULE, tempDir } from "../helpers/tools";

// As `npm run hsm:slots` / `npm run kms:sync` run them.
const runner = path.join(PROJECT_ROOT, "scripts/run.mjs");

function runCommand(script: string, args: string[], env: Record<string, string>) {
  const res = spawnSync(process.execPath, [runner, script.replace(/\.ts$/, ""), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { code: res.status, out: res.stdout + res.stderr };
}

function inventoryFor(label: string): string {
  const file = path.join(tempDir("inv"), "inventario.yaml");
  fs.writeFileSync(
    file,
    fs
      .readFileSync(path.join(PROJECT_ROOT, "configs/kms/local.yaml"), "utf8")
      .replace("label: cartorio-local", `label: ${label}`),
  );
  return file;
}

describe("operator commands", () => {
  it("hsm:slots lists the slots and says READY when every requirement holds", () => {
    const hsm = makeSoftHsm();
    const serial = hsm.initToken("cartorio-local", { user: "op-1234" });
    const r = runCommand("hsm-slots.ts", ["--stack", "local"], { ...hsm.env, CARTORIO_HSM_PIN: "op-1234" });
    expect(r.out).toContain(`Serial number:    ${serial}`);
    expect(r.out).toMatch(/token assinatura \(label cartorio-local, serial [0-9a-f]+\): READY/);
    expect(r.code).toBe(0);
  });

  it("hsm:slots exits 1 with the failed requirement when the PIN is wrong", () => {
    const hsm = makeSoftHsm();
    hsm.initToken("cartorio-local", { user: "op-1234" });
    const r = runCommand("hsm-slots.ts", ["--stack", "local"], { ...hsm.env, CARTORIO_HSM_PIN: "errado" });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/\[FAIL\] user login: the PIN was refused \(CKR_PIN_INCORRECT\)/);
    expect(r.out).not.toContain("errado");
  });

  it("kms:sync shows what is missing, --apply creates it, and a second sync is clean", () => {
    const hsm = makeSoftHsm();
    hsm.initToken("sync", { user: "op-1234" });
    const file = inventoryFor("sync");
    const env = { ...hsm.env, CARTORIO_HSM_PIN: "op-1234" };
    const diff = runCommand("kms-sync.ts", ["--config", file], env);
    expect(diff.code).toBe(1);
    expect(diff.out).toContain("+ atos-notariais-v1 missing: run with --apply to create it");
    const applied = runCommand("kms-sync.ts", ["--config", file, "--apply"], env);
    expect(applied.code).toBe(0);
    expect(applied.out).toMatch(/\+ selo-digital-v1 created \(SHA256:/);
    const again = runCommand("kms-sync.ts", ["--config", file], env);
    expect(again.code).toBe(0);
    expect(again.out).toContain("= atos-notariais-v1 (active)");
    hsm.activate();
    expect(listKeyLabels(SOFTHSM_MODULE, { label: "sync" }, "op-1234")).toEqual([
      "atos-notariais-v1",
      "evidencias-v1",
      "selo-digital-v1",
    ]);
  });

  it("kms:sync names the file and key path of a malformed inventory", () => {
    const file = path.join(tempDir("inv"), "ruim.yaml");
    fs.writeFileSync(
      file,
      "apiVersion: cartorio.digital/v1\nkind: KmsInventory\nmetadata: {name: ruim}\nversion: 1\ntokens: []\nkeys: []\n",
    );
    const r = runCommand("kms-sync.ts", ["--config", file], { CARTORIO_HSM_PIN: "x" });
    expect(r.code).toBe(2);
    expect(r.out).toContain(`${file}: 1 problem(s) in the key inventory`);
    expect(r.out).toContain("tokens: expected at least one token");
  });
});
