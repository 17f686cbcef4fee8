/**
 * HSM slot validation and key management against real SoftHSM2, each test with
 * its own token folder.
 */
import { describe, expect, it } from "vitest";
import { ensureKey, inspectKey, listKeyLabels, readKey, validateTokens } from "../../components/keys/hsm";
import { pkcs11Calls } from "../../components/keys/pkcs11";
import type { KeySpec } from "../../components/keys/inventory";
import { hsmKeyProvider } from "../../components/keys/providers";
import { makeSoftHsm } from "../helpers/softhsm";
import { SOFTHSM_MODULE } from "../helpers/tools";

const SIGNING = ["CKM_EC_KEY_PAIR_GEN", "CKM_ECDSA", "CKM_RSA_PKCS_KEY_PAIR_GEN"];

function fresh() {
  const hsm = makeSoftHsm();
  hsm.activate();
  return hsm;
}

function checkOf(v: ReturnType<typeof validateTokens>[number], requirement: string) {
  return v.checks.find((c) => c.requirement === requirement)!;
}

const ecKey: KeySpec = {
  id: "atos-notariais",
  purpose: "notarial-signing",
  algorithm: "EC",
  curve: "P-384",
  token: "assinatura",
  version: 1,
  cryptoperiodDays: 730,
  activatedOn: "2026-11-01",
  state: "active",
};

describe("HSM slot validation (SoftHSM2)", () => {
  it("passes a ready token and reports slot, serial and mechanisms", () => {
    const hsm = fresh();
    const serial = hsm.initToken("assinatura");
    const [v] = validateTokens(SOFTHSM_MODULE, [{ name: "a", label: "assinatura", mechanisms: SIGNING }], "user-1234");
    expect(v.ok).toBe(true);
    expect(v.serial).toBe(serial);
    expect(v.slotId).toMatch(/^\d+$/);
    expect(v.mechanisms).toEqual(SIGNING);
    expect(checkOf(v, "user login").ok).toBe(true);
  });

  it("fails a missing token, naming the tokens that are present", () => {
    const hsm = fresh();
    hsm.initToken("outro");
    const [v] = validateTokens(SOFTHSM_MODULE, [{ name: "a", label: "assinatura", mechanisms: SIGNING }], "user-1234");
    expect(v.ok).toBe(false);
    expect(checkOf(v, "token present").detail).toMatch(/no token labelled 'assinatura'.*'outro'/);
  });

  it("refuses to guess between two tokens with the same label, and matches on serial when pinned", () => {
    const hsm = fresh();
    const first = hsm.initToken("assinatura");
    const second = hsm.initToken("assinatura");
    expect(first).not.toBe(second);
    const [ambiguous] = validateTokens(
      SOFTHSM_MODULE,
      [{ name: "a", label: "assinatura", mechanisms: SIGNING }],
      "user-1234",
    );
    expect(ambiguous.ok).toBe(false);
    expect(checkOf(ambiguous, "token present").detail).toContain("2 tokens carry the label 'assinatura'");
    const [pinned] = validateTokens(
      SOFTHSM_MODULE,
      [{ name: "a", label: "assinatura", serial: second, mechanisms: SIGNING }],
      "user-1234",
    );
    expect(pinned.ok).toBe(true);
    expect(pinned.serial).toBe(second);
  });

  it("fails a token whose user PIN was never initialised, without trying to log in", () => {
    const hsm = fresh();
    hsm.initTokenWithoutUserPin("assinatura");
    const [v] = validateTokens(SOFTHSM_MODULE, [{ name: "a", label: "assinatura", mechanisms: SIGNING }], "user-1234");
    expect(v.ok).toBe(false);
    expect(checkOf(v, "user PIN initialised").ok).toBe(false);
    expect(checkOf(v, "user login").detail).toContain("not attempted");
  });

  it("tries a wrong PIN once and never again", () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    const logins = () => pkcs11Calls.C_Login ?? 0;
    const before = logins();
    const [v] = validateTokens(SOFTHSM_MODULE, [{ name: "a", label: "assinatura", mechanisms: SIGNING }], "wrong-pin");
    expect(v.ok).toBe(false);
    expect(checkOf(v, "user login").detail).toContain("CKR_PIN_INCORRECT");
    // Counted through the PKCS#11 layer: one C_Login, no retry.
    expect(logins() - before).toBe(1);
    // And the token saw one failure: its PIN is neither locked nor on its final try.
    expect(hsm.showSlots()).toMatch(/User PIN init\.:\s+yes/);
    const [again] = validateTokens(
      SOFTHSM_MODULE,
      [{ name: "a", label: "assinatura", mechanisms: SIGNING }],
      "user-1234",
    );
    expect(again.ok).toBe(true);
    expect(logins() - before).toBe(2);
  });

  it("does not log in to a locked token, nor to one on its final try", () => {
    const hsm = fresh();
    const locked = hsm.initToken("bloqueado");
    const last = hsm.initToken("ultima");
    // SoftHSM2 never locks a PIN by itself; real HSMs do. Set the flags a real HSM would report.
    hsm.setPinFlags(locked, { locked: true });
    hsm.setPinFlags(last, { finalTry: true });
    const [a, b] = validateTokens(
      SOFTHSM_MODULE,
      [
        { name: "a", label: "bloqueado", mechanisms: SIGNING },
        { name: "b", label: "ultima", mechanisms: SIGNING },
      ],
      "user-1234",
    );
    expect(a.ok).toBe(false);
    expect(checkOf(a, "user PIN not locked").ok).toBe(false);
    expect(checkOf(a, "user login").detail).toContain("not attempted");
    expect(b.ok).toBe(false);
    expect(checkOf(b, "user PIN not on its final try").detail).toContain("one more wrong PIN locks the token");
    expect(checkOf(b, "user login").detail).toContain("not attempted");
  });

  it("fails a token that lacks a required mechanism, naming it", () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    const [v] = validateTokens(
      SOFTHSM_MODULE,
      [{ name: "a", label: "assinatura", mechanisms: ["CKM_ECDSA", "CKM_ML_DSA"] }],
      "user-1234",
    );
    expect(v.ok).toBe(false);
    expect(checkOf(v, "mechanisms present").detail).toBe("missing CKM_ML_DSA");
  });

  it("fails login when no PIN is provided", () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    const [v] = validateTokens(SOFTHSM_MODULE, [{ name: "a", label: "assinatura", mechanisms: SIGNING }], undefined);
    expect(v.ok).toBe(false);
    expect(checkOf(v, "user login").detail).toContain("NO_PIN");
  });

  it("a preview without a PIN checks token, flags and mechanisms, and reports the login as not tried", () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    const req = [{ name: "a", label: "assinatura", mechanisms: SIGNING }];
    const [v] = validateTokens(SOFTHSM_MODULE, req, undefined, { loginRequired: false });
    expect(v.ok).toBe(true);
    expect(checkOf(v, "user login").detail).toMatch(/not tried: this run has no PIN/);
    expect(checkOf(v, "mechanisms present").ok).toBe(true);
    // What needs no login is still judged: a missing mechanism fails the preview.
    const [short] = validateTokens(
      SOFTHSM_MODULE,
      [{ name: "a", label: "assinatura", mechanisms: [...SIGNING, "CKM_ML_DSA"] }],
      undefined,
      { loginRequired: false },
    );
    expect(short.ok).toBe(false);
    expect(checkOf(short, "mechanisms present").detail).toBe("missing CKM_ML_DSA");
  });
});

describe("HSM keys (SoftHSM2)", () => {
  it("creates a sensitive, non-extractable key pair with attestation attributes, and adopts it afterwards", () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    const created = ensureKey(SOFTHSM_MODULE, { label: "assinatura" }, ecKey, "user-1234");
    expect(created).toMatchObject({
      label: "atos-notariais-v1",
      alwaysSensitive: true,
      neverExtractable: true,
      local: true,
      created: true,
    });
    expect(created.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const again = ensureKey(SOFTHSM_MODULE, { label: "assinatura" }, ecKey, "user-1234");
    expect(again.created).toBe(false);
    expect(again.fingerprint).toBe(created.fingerprint);
  });

  it("creates RSA keys of the configured size (the sizes the catalogue allows), read back from the modulus", () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    const rsa = ensureKey(
      SOFTHSM_MODULE,
      { label: "assinatura" },
      { ...ecKey, id: "selo-digital", algorithm: "RSA", curve: undefined, size: 3072 },
      "user-1234",
    );
    expect(rsa).toMatchObject({
      label: "selo-digital-v1",
      algorithm: "RSA",
      neverExtractable: true,
      size: "3072 bits",
    });
    const ec = ensureKey(SOFTHSM_MODULE, { label: "assinatura" }, ecKey, "user-1234");
    expect(ec.size).toBe("P-384");
  });

  it("keys are sign-only: a pair it made passes its own adoption checks (no decrypt, unwrap or derive)", () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    ensureKey(SOFTHSM_MODULE, { label: "assinatura" }, ecKey, "user-1234");
    const seen = inspectKey(SOFTHSM_MODULE, { label: "assinatura" }, ecKey, "user-1234");
    expect(seen.record?.label).toBe("atos-notariais-v1");
    expect(seen.problems).toEqual([]);
  });

  it("refuses to adopt a planted key, naming each attribute and the label, and leaves it untouched", () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    hsm.plantKeyPair("assinatura", "user-1234", "atos-notariais-v1", {
      algorithm: "EC",
      curve: "P-256",
      extractable: true,
      decrypt: true,
    });
    const before = readKey(SOFTHSM_MODULE, { label: "assinatura" }, ecKey, "user-1234")!;
    const made = pkcs11Calls.C_GenerateKeyPair ?? 0;
    let message = "";
    try {
      ensureKey(SOFTHSM_MODULE, { label: "assinatura" }, ecKey, "user-1234");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("key atos-notariais-v1 is not what the inventory declares");
    expect(message).toContain("CKA_EXTRACTABLE is true (expected false");
    expect(message).toContain("CKA_NEVER_EXTRACTABLE is false");
    expect(message).toContain("CKA_DECRYPT is true (expected false");
    expect(message).toContain("the curve is P-256 (expected P-384)");
    // Untouched: no key made, none destroyed, the same object under the label.
    expect(pkcs11Calls.C_GenerateKeyPair ?? 0).toBe(made);
    expect(pkcs11Calls.C_DestroyObject ?? 0).toBe(0);
    expect(readKey(SOFTHSM_MODULE, { label: "assinatura" }, ecKey, "user-1234")!.fingerprint).toBe(before.fingerprint);
  });

  it("refresh (read) reports a key that disappeared as gone and a replaced one by its new fingerprint", async () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    process.env.TEST_HSM_PIN = "user-1234";
    const inputs = {
      modulePath: SOFTHSM_MODULE,
      pinEnv: "TEST_HSM_PIN",
      token: { label: "assinatura" },
      key: { id: "atos-notariais", version: 1, algorithm: "EC", curve: "P-384", purpose: "notarial-signing" },
    };
    const made = await hsmKeyProvider.create!(inputs);
    const same = await hsmKeyProvider.read!(made.id, made.outs);
    expect(same.id).toBe(made.id);
    expect(same.props.record.fingerprint).toBe(made.outs.record.fingerprint);
    // Someone else deletes the pair (this program never does): refresh reports it gone.
    destroyByLabel(hsm, "atos-notariais-v1");
    const gone = await hsmKeyProvider.read!(made.id, made.outs);
    expect(gone.id).toBe("");
    // ...and puts another one, made as this program would, in its place: a new fingerprint.
    hsm.plantKeyPair("assinatura", "user-1234", "atos-notariais-v1", { algorithm: "EC", curve: "P-384" });
    const replaced = await hsmKeyProvider.read!(made.id, made.outs);
    expect(replaced.id).toBe(made.id);
    expect(replaced.props.record.fingerprint).not.toBe(made.outs.record.fingerprint);
    // An extractable replacement fails the refresh, naming why.
    destroyByLabel(hsm, "atos-notariais-v1");
    hsm.plantKeyPair("assinatura", "user-1234", "atos-notariais-v1", {
      algorithm: "EC",
      curve: "P-384",
      extractable: true,
    });
    await expect(hsmKeyProvider.read!(made.id, made.outs)).rejects.toThrow(/CKA_EXTRACTABLE is true/);
  });

  it("check (on preview) fails on a planted key when the PIN is there, and says nothing without it", async () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    hsm.plantKeyPair("assinatura", "user-1234", "selo-digital-v1", { algorithm: "RSA", bits: 3072, sensitive: false });
    const news = {
      modulePath: SOFTHSM_MODULE,
      pinEnv: "TEST_CHECK_PIN",
      token: { label: "assinatura" },
      key: { id: "selo-digital", version: 1, algorithm: "RSA", size: 3072, purpose: "digital-seal" },
    };
    process.env.TEST_CHECK_PIN = "user-1234";
    const withPin = await hsmKeyProvider.check!({}, news);
    expect(withPin.failures?.[0].reason).toMatch(
      /selo-digital-v1 is not what the inventory declares.*CKA_SENSITIVE is false/,
    );
    delete process.env.TEST_CHECK_PIN;
    const without = await hsmKeyProvider.check!({}, news);
    expect(without.failures ?? []).toEqual([]);
  });

  it("rotates to a new version and keeps the previous one", async () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    hsm.activate();
    process.env.TEST_HSM_PIN = "user-1234";
    const inputs = { modulePath: SOFTHSM_MODULE, pinEnv: "TEST_HSM_PIN", token: { label: "assinatura" } };
    const v1 = await hsmKeyProvider.create!({
      ...inputs,
      key: { id: "atos-notariais", version: 1, algorithm: "EC", curve: "P-384", purpose: "notarial-signing" },
    });
    const diff = await hsmKeyProvider.diff!(v1.id, v1.outs, {
      ...inputs,
      key: { id: "atos-notariais", version: 2, algorithm: "EC", curve: "P-384", purpose: "notarial-signing" },
    });
    expect(diff).toMatchObject({ changes: true, replaces: ["key"], deleteBeforeReplace: false });
    const v2 = await hsmKeyProvider.create!({
      ...inputs,
      key: { id: "atos-notariais", version: 2, algorithm: "EC", curve: "P-384", purpose: "notarial-signing" },
    });
    await hsmKeyProvider.delete!(v1.id, v1.outs);
    expect(listKeyLabels(SOFTHSM_MODULE, { label: "assinatura" }, "user-1234")).toEqual([
      "atos-notariais-v1",
      "atos-notariais-v2",
    ]);
    expect(v2.outs.record.fingerprint).not.toBe(v1.outs.record.fingerprint);
  });

  it("deleting the resource leaves the key material on the token", async () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    process.env.TEST_HSM_PIN = "user-1234";
    const inputs = {
      modulePath: SOFTHSM_MODULE,
      pinEnv: "TEST_HSM_PIN",
      token: { label: "assinatura" },
      key: { id: "api-tls", version: 3, algorithm: "EC", curve: "P-256", purpose: "tls" },
    };
    const made = await hsmKeyProvider.create!(inputs);
    const destroyed = pkcs11Calls.C_DestroyObject ?? 0;
    await hsmKeyProvider.delete!(made.id, made.outs);
    expect(pkcs11Calls.C_DestroyObject ?? 0).toBe(destroyed);
    const still = readKey(
      SOFTHSM_MODULE,
      { label: "assinatura" },
      { ...ecKey, id: "api-tls", version: 3, curve: "P-256" },
      "user-1234",
    );
    expect(still?.fingerprint).toBe(made.outs.record.fingerprint);
  });

  it("refuses to create keys without a PIN in the environment", async () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    delete process.env.TEST_NO_PIN;
    await expect(
      hsmKeyProvider.create!({
        modulePath: SOFTHSM_MODULE,
        pinEnv: "TEST_NO_PIN",
        token: { label: "assinatura" },
        key: { id: "x", version: 1, algorithm: "EC", curve: "P-256", purpose: "tls" },
      }),
    ).rejects.toThrow(/TEST_NO_PIN/);
  });
});

/** Destroys a pair straight through PKCS#11, as someone else might (this program has no such function). */
function destroyByLabel(hsm: ReturnType<typeof makeSoftHsm>, label: string) {
  hsm.activate();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require("pkcs11js");
  const p = new m.PKCS11();
  p.load(SOFTHSM_MODULE);
  p.C_Initialize();
  try {
    const slot = p.C_GetSlotList(true).find((x: Buffer) => p.C_GetTokenInfo(x).label.trim() === "assinatura");
    const session = p.C_OpenSession(slot, m.CKF_SERIAL_SESSION | m.CKF_RW_SESSION);
    p.C_Login(session, m.CKU_USER, "user-1234");
    p.C_FindObjectsInit(session, [{ type: m.CKA_LABEL, value: label }]);
    const found = p.C_FindObjects(session, 10);
    p.C_FindObjectsFinal(session);
    for (const h of found) p.C_DestroyObject(session, h);
    p.C_Logout(session);
    p.C_CloseSession(session);
  } finally {
    p.C_Finalize();
    p.close();
  }
}
