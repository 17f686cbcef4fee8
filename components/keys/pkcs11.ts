/**
 * Thin PKCS#11 access over pkcs11js, for any vendor's module (SoftHSM2 here).
 *
 * pkcs11js is required inside each function, never at module top level: the
 * dynamic providers that call this are serialized into state, and a native
 * module cannot be. Each call loads, initialises and finalises the module, so a
 * long-lived provider process sees tokens created by other processes.
 */
import type * as Pkcs11 from "pkcs11js";

type Pkcs11Module = typeof Pkcs11;

function lib(): Pkcs11Module {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("pkcs11js") as Pkcs11Module;
}

export interface TokenState {
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
  flags: number;
  initialized: boolean;
  userPinInitialized: boolean;
  userPinLocked: boolean;
  userPinFinalTry: boolean;
  userPinCountLow: boolean;
  writeProtected: boolean;
  loginRequired: boolean;
}

export interface SlotSnapshot {
  /** Slot id as a decimal string (PKCS#11 slot ids are 64-bit). */
  slotId: string;
  description: string;
  token?: TokenState;
  /** Mechanism names the token offers (all CKM_ aliases of each value). */
  mechanisms: string[];
}

/**
 * PKCS#11 calls made through withModule in this process, by function name (C_Login, C_GenerateKeyPair…):
 * what the tests count to prove "one login per token" and that nothing is ever destroyed.
 */
export const pkcs11Calls: Record<string, number> = {};

/** Runs `fn` with an initialised module and always finalises it. */
export function withModule<T>(modulePath: string, fn: (p: Pkcs11.PKCS11, m: Pkcs11Module) => T): T {
  const m = lib();
  const raw = new m.PKCS11();
  // Every call goes through this tally; the native object itself is what runs it.
  const p = new Proxy(raw, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (typeof value !== "function" || typeof key !== "string") return value;
      return (...args: unknown[]) => {
        pkcs11Calls[key] = (pkcs11Calls[key] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  try {
    p.load(modulePath);
  } catch (e) {
    throw new Error(`cannot load the PKCS#11 module ${modulePath}: ${(e as Error).message}; check kms.module`);
  }
  p.C_Initialize();
  try {
    return fn(p, m);
  } finally {
    try {
      p.C_Finalize();
    } finally {
      p.close();
    }
  }
}

/**
 * Mechanism names by value, made on each call (a few hundred constants): no module-level cache, because
 * dynamic providers are serialized with the values of the module variables their code reaches, and a Map
 * filled before that (the program's HSM pre-flight fills it) is no Map once serialized.
 */
function mechanismsByValue(m: Pkcs11Module): Map<number, string[]> {
  const names = new Map<number, string[]>();
  for (const [name, value] of Object.entries(m)) {
    if (name.startsWith("CKM_") && typeof value === "number") {
      const list = names.get(value) ?? [];
      list.push(name);
      names.set(value, list);
    }
  }
  return names;
}

function tokenState(info: Pkcs11.TokenInfo, m: Pkcs11Module): TokenState {
  const f = Number(info.flags);
  return {
    label: info.label.trim(),
    serial: info.serialNumber.trim(),
    manufacturer: info.manufacturerID.trim(),
    model: info.model.trim(),
    flags: f,
    initialized: (f & m.CKF_TOKEN_INITIALIZED) !== 0,
    userPinInitialized: (f & m.CKF_USER_PIN_INITIALIZED) !== 0,
    userPinLocked: (f & m.CKF_USER_PIN_LOCKED) !== 0,
    userPinFinalTry: (f & m.CKF_USER_PIN_FINAL_TRY) !== 0,
    userPinCountLow: (f & m.CKF_USER_PIN_COUNT_LOW) !== 0,
    writeProtected: (f & m.CKF_WRITE_PROTECTED) !== 0,
    loginRequired: (f & m.CKF_LOGIN_REQUIRED) !== 0,
  };
}

export function slotIdOf(handle: Buffer): string {
  return handle.readBigUInt64LE(0).toString();
}

/** Lists slots with a token present, as `softhsm2-util --show-slots` does. */
export function listSlots(p: Pkcs11.PKCS11, m: Pkcs11Module): SlotSnapshot[] {
  const byValue = mechanismsByValue(m);
  return p.C_GetSlotList(true).map((handle) => {
    const info = p.C_GetSlotInfo(handle);
    const token = tokenState(p.C_GetTokenInfo(handle), m);
    const mechanisms = p
      .C_GetMechanismList(handle)
      .flatMap((v) => byValue.get(Number(v)) ?? [`CKM_0x${Number(v).toString(16)}`]);
    return {
      slotId: slotIdOf(handle),
      description: info.slotDescription.trim(),
      token,
      mechanisms: [...new Set(mechanisms)].sort(),
    };
  });
}

export function slotHandle(p: Pkcs11.PKCS11, slotId: string): Buffer {
  const h = p.C_GetSlotList(true).find((s) => slotIdOf(s) === slotId);
  if (!h) throw new Error(`slot ${slotId} has no token any more`);
  return h;
}

export type LoginResult = { ok: true } | { ok: false; code: string; message: string };

/**
 * Logs in once as the user and out again. Never retries: each wrong PIN
 * counts against the token's retry limit.
 */
export function tryLogin(p: Pkcs11.PKCS11, m: Pkcs11Module, slot: Buffer, pin: string): LoginResult {
  const session = p.C_OpenSession(slot, m.CKF_SERIAL_SESSION);
  try {
    p.C_Login(session, m.CKU_USER, pin);
    p.C_Logout(session);
    return { ok: true };
  } catch (e) {
    const code = pkcs11Code(e);
    return { ok: false, code, message: (e as Error).message };
  } finally {
    p.C_CloseSession(session);
  }
}

/** The CKR_ name of a pkcs11js error, or "ERROR". */
export function pkcs11Code(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return /CKR_[A-Z_]+/.exec(msg)?.[0] ?? "ERROR";
}
