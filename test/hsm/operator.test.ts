/** The operator commands (hsm:slots, kms:sync) as an operator runs them, against real SoftHSM2. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { inspectInventory, listKeyLabels } from "../../components/keys/hsm";
import { loadInventory } from "../../components/keys/inventory";
import type * as Pkcs11 from "pkcs11js";
import { makeSoftHsm, SoftHsm } from "../helpers/softhsm";
import { PROJECT_ROOT, SOFTHSM_MODULE, tempDir } from "../helpers/tools";

// As `npm run hsm:slots` / `npm run kms:sync` run them.
const runner = path.join(PROJECT_ROOT, "scripts/ops/run.mjs");

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
    // What --apply made was inspected as well, and conforms.
    expect(again.out).toContain("= selo-digital-v1 (active)");
    expect(again.out).toContain("= evidencias-v1 (active)");
    expect(again.out).not.toContain("does not conform");
    hsm.activate();
    expect(listKeyLabels(SOFTHSM_MODULE, { label: "sync" }, "op-1234")).toEqual([
      "atos-notariais-v1",
      "evidencias-v1",
      "selo-digital-v1",
    ]);
  });

  it("kms:sync inspects what is under an inventory label: a planted extractable, non-sensitive pair is named, exits 1, and --apply leaves it untouched", () => {
    const hsm = makeSoftHsm();
    hsm.initToken("plantado", { user: "op-1234" });
    // Under the label and id of the inventory's atos-notariais v1 (EC P-384), but extractable and not sensitive.
    hsm.plantKeyPair("plantado", "op-1234", "atos-notariais-v1", {
      algorithm: "EC",
      curve: "P-384",
      extractable: true,
      sensitive: false,
    });
    const before = rawPair(hsm, "plantado", "op-1234", "atos-notariais-v1");
    expect(before).toMatchObject({ privateKeys: 1, publicKeys: 1, extractable: true, sensitive: false });
    const file = inventoryFor("plantado");
    const env = { ...hsm.env, CARTORIO_HSM_PIN: "op-1234" };
    const planted = /! atos-notariais-v1 \(active\) does not conform: (.*)/;

    const diff = runCommand("kms-sync.ts", ["--config", file], env);
    expect(diff.code).toBe(1);
    expect(diff.out).not.toContain("= atos-notariais-v1");
    const named = planted.exec(diff.out)?.[1] ?? "";
    expect(named).toContain("CKA_SENSITIVE is false (expected true");
    expect(named).toContain("CKA_EXTRACTABLE is true (expected false");
    expect(named).toContain("CKA_NEVER_EXTRACTABLE is false");
    expect(diff.out).toContain("+ selo-digital-v1 missing: run with --apply to create it");

    // --apply creates the missing versions, reports the planted one the same way, and changes nothing on it.
    const applied = runCommand("kms-sync.ts", ["--config", file, "--apply"], env);
    expect(applied.code).toBe(1);
    expect(applied.out).not.toContain("error:");
    expect(planted.exec(applied.out)?.[1]).toBe(named);
    expect(applied.out).toMatch(/\+ selo-digital-v1 created \(SHA256:/);
    expect(applied.out).toMatch(/\+ evidencias-v1 created \(SHA256:/);
    expect(applied.out).not.toContain("atos-notariais-v1 created");
    // The very object planted, still extractable and not sensitive; no second pair under its label.
    expect(rawPair(hsm, "plantado", "op-1234", "atos-notariais-v1")).toEqual(before);

    // The versions --apply made conform: the next run reports them `=`; the planted one still fails the run.
    const again = runCommand("kms-sync.ts", ["--config", file], env);
    expect(again.code).toBe(1);
    expect(again.out).toContain("= selo-digital-v1 (active)");
    expect(again.out).toContain("= evidencias-v1 (active)");
    expect(planted.exec(again.out)?.[1]).toBe(named);
    expect(rawPair(hsm, "plantado", "op-1234", "atos-notariais-v1")).toEqual(before);

    // The same inspection for other callers (the evidence report): every key, one login per token.
    hsm.activate();
    const seen = inspectInventory(SOFTHSM_MODULE, loadInventory(file), "op-1234");
    expect(seen.map((k) => [k.token, k.label, k.state, k.present, k.problems.length])).toEqual([
      ["assinatura", "atos-notariais-v1", "active", "yes", expect.any(Number)],
      ["assinatura", "selo-digital-v1", "active", "yes", 0],
      ["assinatura", "evidencias-v1", "active", "yes", 0],
    ]);
    expect(seen[0].problems.join("; ")).toBe(named);
    expect(seen[0].record).toMatchObject({
      label: "atos-notariais-v1",
      neverExtractable: false,
      alwaysSensitive: false,
    });
  });

  it("kms:sync reports key objects under an inventory label with another CKA_ID and does not add a second pair", () => {
    const hsm = makeSoftHsm();
    hsm.initToken("outro-id", { user: "op-1234" });
    onToken(hsm, "outro-id", "op-1234", (p, m, session) => {
      const common = [
        { type: m.CKA_TOKEN, value: true },
        { type: m.CKA_LABEL, value: "evidencias-v1" },
        { type: m.CKA_ID, value: Buffer.from("outro") },
      ];
      p.C_GenerateKeyPair(
        session,
        { mechanism: m.CKM_EC_KEY_PAIR_GEN },
        [
          { type: m.CKA_CLASS, value: m.CKO_PUBLIC_KEY },
          ...common,
          { type: m.CKA_EC_PARAMS, value: Buffer.from("06082a8648ce3d030107", "hex") },
        ],
        [{ type: m.CKA_CLASS, value: m.CKO_PRIVATE_KEY }, ...common, { type: m.CKA_SENSITIVE, value: true }],
      );
    });
    const file = inventoryFor("outro-id");
    const env = { ...hsm.env, CARTORIO_HSM_PIN: "op-1234" };
    const r = runCommand("kms-sync.ts", ["--config", file, "--apply"], env);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      "! evidencias-v1 (active) does not conform: a private key labelled evidencias-v1 has CKA_ID 6f7574726f " +
        `(expected ${Buffer.from("evidencias-v1").toString("hex")})`,
    );
    expect(r.out).toMatch(/\+ selo-digital-v1 created/);
    expect(rawPair(hsm, "outro-id", "op-1234", "evidencias-v1")).toMatchObject({ privateKeys: 1, publicKeys: 1 });
  });

  it("kms:sync reports a half-present pair, exits 1, and --apply does not complete it", () => {
    const hsm = makeSoftHsm();
    hsm.initToken("metade", { user: "op-1234" });
    hsm.plantKeyPair("metade", "op-1234", "selo-digital-v1", { algorithm: "RSA", bits: 3072 });
    destroyPublicKey(hsm, "metade", "op-1234", "selo-digital-v1");
    const file = inventoryFor("metade");
    const env = { ...hsm.env, CARTORIO_HSM_PIN: "op-1234" };
    for (const args of [[], ["--apply"]]) {
      const r = runCommand("kms-sync.ts", ["--config", file, ...args], env);
      expect(r.code).toBe(1);
      expect(r.out).not.toContain("error:");
      expect(r.out).toMatch(/! selo-digital-v1 \(active\) is half present: only the private key is on the token/);
    }
    const after = rawPair(hsm, "metade", "op-1234", "selo-digital-v1");
    expect(after).toMatchObject({ privateKeys: 1, publicKeys: 0 });
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

/** Runs `fn` in a user session on the token labelled `token`, straight through PKCS#11 (not this program). */
function onToken<T>(
  hsm: SoftHsm,
  token: string,
  pin: string,
  fn: (p: Pkcs11.PKCS11, m: typeof Pkcs11, session: Buffer) => T,
): T {
  hsm.activate();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m: typeof Pkcs11 = require("pkcs11js");
  const p = new m.PKCS11();
  p.load(SOFTHSM_MODULE);
  p.C_Initialize();
  try {
    const slot = p.C_GetSlotList(true).find((x) => p.C_GetTokenInfo(x).label.trim() === token)!;
    const session = p.C_OpenSession(slot, m.CKF_SERIAL_SESSION | m.CKF_RW_SESSION);
    p.C_Login(session, m.CKU_USER, pin);
    try {
      return fn(p, m, session);
    } finally {
      p.C_Logout(session);
      p.C_CloseSession(session);
    }
  } finally {
    p.C_Finalize();
    p.close();
  }
}

function find(p: Pkcs11.PKCS11, session: Buffer, template: Pkcs11.Template): Buffer[] {
  p.C_FindObjectsInit(session, template);
  try {
    return p.C_FindObjects(session, 100);
  } finally {
    p.C_FindObjectsFinal(session);
  }
}

/** The pair under `label` as the token holds it: how many objects, the private key's flags, the (EC) public point. */
function rawPair(hsm: SoftHsm, token: string, pin: string, label: string) {
  return onToken(hsm, token, pin, (p, m, session) => {
    const privs = find(p, session, [
      { type: m.CKA_CLASS, value: m.CKO_PRIVATE_KEY },
      { type: m.CKA_LABEL, value: label },
    ]);
    const pubs = find(p, session, [
      { type: m.CKA_CLASS, value: m.CKO_PUBLIC_KEY },
      { type: m.CKA_LABEL, value: label },
    ]);
    const flag = (type: number) =>
      privs.length === 1 ? p.C_GetAttributeValue(session, privs[0], [{ type }])[0].value[0] === 1 : undefined;
    return {
      privateKeys: privs.length,
      publicKeys: pubs.length,
      extractable: flag(m.CKA_EXTRACTABLE),
      sensitive: flag(m.CKA_SENSITIVE),
      publicPoint:
        pubs.length === 1
          ? p.C_GetAttributeValue(session, pubs[0], [{ type: m.CKA_EC_POINT }])[0].value.toString("hex")
          : undefined,
    };
  });
}

/** Leaves only the private half of a pair, as an interrupted or careless operation might. */
function destroyPublicKey(hsm: SoftHsm, token: string, pin: string, label: string) {
  onToken(hsm, token, pin, (p, m, session) => {
    for (const h of find(p, session, [
      { type: m.CKA_CLASS, value: m.CKO_PUBLIC_KEY },
      { type: m.CKA_LABEL, value: label },
    ]))
      p.C_DestroyObject(session, h);
  });
}
