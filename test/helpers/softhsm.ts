/**
 * One SoftHSM2 token folder per test (SOFTHSM2_CONF), created with the real
 * softhsm2-util and pkcs11js.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { requireTool, SOFTHSM_MODULE, tempDir } from "./tools";

export interface SoftHsm {
  dir: string;
  conf: string;
  /** Environment for child processes (the engine, operator commands). */
  env: Record<string, string>;
  /** Creates an initialised token with a user PIN; returns its serial. */
  initToken(label: string, pins?: { so?: string; user?: string }): string;
  /** Creates a token whose user PIN was never set (only the SO PIN). */
  initTokenWithoutUserPin(label: string, soPin?: string): string;
  /** Marks a token's user PIN locked (or on its final try) in its object store. */
  setPinFlags(serial: string, flags: { locked?: boolean; finalTry?: boolean }): void;
  /** Makes this folder the one pkcs11js (in this process) reads. */
  activate(): void;
  /**
   * Plants a key pair on a token the way someone else might have (straight through PKCS#11, not
   * through this program), under `label` as label and id; returns nothing this program produced.
   */
  plantKeyPair(token: string, pin: string, label: string, opts: PlantOptions): void;
  showSlots(): string;
}

export interface PlantOptions {
  algorithm: "EC" | "RSA";
  /** EC curve (P-256 or P-384) or RSA modulus bits. */
  curve?: "P-256" | "P-384";
  bits?: number;
  extractable?: boolean;
  sensitive?: boolean;
  decrypt?: boolean;
}

const CURVES = { "P-256": "06082a8648ce3d030107", "P-384": "06052b81040022" };
const CKF_USER_PIN_FINAL_TRY = 0x20000;
const CKF_USER_PIN_LOCKED = 0x40000;
// SoftHSM's vendor attribute holding the token flags (CKA_VENDOR_DEFINED + 0x534B).
const TOKEN_FLAGS_TAG = Buffer.from("000000008000534b0000000000000002", "hex");

export function makeSoftHsm(): SoftHsm {
  requireTool("softhsm2-util", "apt-get install softhsm2");
  const dir = tempDir("softhsm");
  fs.mkdirSync(path.join(dir, "tokens"));
  const conf = path.join(dir, "softhsm2.conf");
  fs.writeFileSync(conf, `directories.tokendir = ${dir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf };
  const util = (...args: string[]) =>
    execFileSync("softhsm2-util", args, { env: { ...process.env, ...env }, encoding: "utf8" });

  const serialOf = (label: string): string => {
    const out = util("--show-slots");
    const blocks = out.split(/\nSlot /).filter((b) => new RegExp(`Label:\\s+${label}[ \\t]*(\\n|$)`).test(b));
    const serial = /Serial number:[ \t]*([0-9a-f]+)/.exec(blocks[blocks.length - 1] ?? "")?.[1];
    if (!serial) throw new Error(`token ${label} not found after creation`);
    return serial;
  };

  const hsm: SoftHsm = {
    dir,
    conf,
    env,
    initToken(label, pins = {}) {
      const before = new Set(listSerials());
      util(
        "--init-token",
        "--free",
        "--label",
        label,
        "--so-pin",
        pins.so ?? "so-1234",
        "--pin",
        pins.user ?? "user-1234",
      );
      const created = listSerials().find((s) => !before.has(s));
      return created ?? serialOf(label);
    },
    initTokenWithoutUserPin(label, soPin = "so-1234") {
      hsm.activate();
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const m = require("pkcs11js");
      const p = new m.PKCS11();
      p.load(SOFTHSM_MODULE);
      p.C_Initialize();
      try {
        const free = p.C_GetSlotList(true).find((s: Buffer) => !(p.C_GetTokenInfo(s).flags & m.CKF_TOKEN_INITIALIZED));
        p.C_InitToken(free, soPin, label.padEnd(32, " "));
      } finally {
        p.C_Finalize();
        p.close();
      }
      return serialOf(label);
    },
    setPinFlags(serial, flags) {
      for (const tokenDir of fs.readdirSync(path.join(dir, "tokens"))) {
        const file = path.join(dir, "tokens", tokenDir, "token.object");
        const buf = fs.readFileSync(file);
        if (!buf.includes(Buffer.from(serial))) continue;
        const at = buf.indexOf(TOKEN_FLAGS_TAG);
        if (at < 0) throw new Error(`no token flags in ${file}`);
        const off = at + TOKEN_FLAGS_TAG.length; // tag, type 2 (CK_ULONG), then the 8-byte value
        let v = buf.readBigUInt64BE(off);
        if (flags.locked) v |= BigInt(CKF_USER_PIN_LOCKED);
        if (flags.finalTry) v |= BigInt(CKF_USER_PIN_FINAL_TRY);
        buf.writeBigUInt64BE(v, off);
        fs.writeFileSync(file, buf);
        return;
      }
      throw new Error(`no token with serial ${serial} in ${dir}`);
    },
    activate() {
      process.env.SOFTHSM2_CONF = conf;
    },
    plantKeyPair(token, pin, label, o) {
      hsm.activate();
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const m = require("pkcs11js");
      const p = new m.PKCS11();
      p.load(SOFTHSM_MODULE);
      p.C_Initialize();
      try {
        const slot = p
          .C_GetSlotList(true)
          .find(
            (x: Buffer) =>
              p.C_GetTokenInfo(x).label.trim() === token && p.C_GetTokenInfo(x).flags & m.CKF_TOKEN_INITIALIZED,
          );
        const session = p.C_OpenSession(slot, m.CKF_SERIAL_SESSION | m.CKF_RW_SESSION);
        p.C_Login(session, m.CKU_USER, pin);
        const common = [
          { type: m.CKA_TOKEN, value: true },
          { type: m.CKA_LABEL, value: label },
          { type: m.CKA_ID, value: Buffer.from(label) },
        ];
        const pub = [{ type: m.CKA_CLASS, value: m.CKO_PUBLIC_KEY }, ...common, { type: m.CKA_VERIFY, value: true }];
        const priv = [
          { type: m.CKA_CLASS, value: m.CKO_PRIVATE_KEY },
          ...common,
          { type: m.CKA_PRIVATE, value: true },
          { type: m.CKA_SIGN, value: true },
          { type: m.CKA_SENSITIVE, value: o.sensitive ?? true },
          { type: m.CKA_EXTRACTABLE, value: o.extractable ?? false },
          { type: m.CKA_DECRYPT, value: o.decrypt ?? false },
          { type: m.CKA_UNWRAP, value: false },
          { type: m.CKA_DERIVE, value: false },
        ];
        if (o.algorithm === "EC")
          pub.push({ type: m.CKA_EC_PARAMS, value: Buffer.from(CURVES[o.curve ?? "P-256"], "hex") });
        else
          pub.push(
            { type: m.CKA_MODULUS_BITS, value: o.bits ?? 3072 },
            { type: m.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          );
        const mechanism = o.algorithm === "EC" ? m.CKM_EC_KEY_PAIR_GEN : m.CKM_RSA_PKCS_KEY_PAIR_GEN;
        p.C_GenerateKeyPair(session, { mechanism }, pub, priv);
        p.C_Logout(session);
        p.C_CloseSession(session);
      } finally {
        p.C_Finalize();
        p.close();
      }
    },
    showSlots() {
      return util("--show-slots");
    },
  };
  const listSerials = () =>
    [...util("--show-slots").matchAll(/Serial number:[ \t]*([0-9a-f]+)/g)].map((m) => m[1]).filter(Boolean);
  return hsm;
}
