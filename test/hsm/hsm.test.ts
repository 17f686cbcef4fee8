/**
 * HSM slot validation and key management against real SoftHSM2, each test with
 * its own token folder.
 */
import { describe, expect, it } from "vitest";
import { ensureKey, listKeyLabels, readKey, validateTokens } from "../../components/keys/hsm";
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
    const [v] = validateTokens(SOFTHSM_MODULE, [{ name: "a", label: "assinatura", mechanisms: SIGNING }], "wrong-pin");
    expect(v.ok).toBe(false);
    expect(checkOf(v, "user login").detail).toContain("CKR_PIN_INCORRECT");
    // SoftHSM2 raises CKF_USER_PIN_COUNT_LOW after each failure: exactly one try shows as one failed login.
    const after = hsm.showSlots();
    expect(after).toMatch(/User PIN init\.:\s+yes/);
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

  it("creates RSA keys of the configured size", () => {
    const hsm = fresh();
    hsm.initToken("assinatura");
    const rsa = ensureKey(
      SOFTHSM_MODULE,
      { label: "assinatura" },
      { ...ecKey, id: "selo-digital", algorithm: "RSA", curve: undefined, size: 2048 },
      "user-1234",
    );
    expect(rsa).toMatchObject({ label: "selo-digital-v1", algorithm: "RSA", neverExtractable: true });
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
    await hsmKeyProvider.delete!(made.id, made.outs);
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
