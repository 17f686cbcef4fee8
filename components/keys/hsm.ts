/**
 * HSM operations the providers and operator commands share: validating the
 * signing tokens, ensuring key pairs exist and inspecting the ones that do
 * (one judgement, attributeProblems, for all of them). No Pulumi import.
 *
 * Key material is never destroyed here: there is deliberately no function that
 * calls C_DestroyObject.
 */
import { createHash, createPublicKey } from "node:crypto";
import type * as Pkcs11 from "pkcs11js";
import type { Inventory, KeySpec } from "./inventory";
import { CURVE_OIDS, keyLabel, keyObjectId } from "./keyid";
import { listSlots, pkcs11Code, slotHandle, SlotSnapshot, tryLogin, withModule } from "./pkcs11";
import { judgeToken, matchSlot, TokenRequirement, TokenVerdict } from "./slots";

/** Reads the user PIN from the named environment variable at call time. */
export function pinFromEnv(pinEnv: string): string | undefined {
  const v = process.env[pinEnv];
  return v === undefined || v === "" ? undefined : v;
}

/** Validates every required token; at most one login per token. */
/**
 * Judges each required token. Without a PIN, `loginRequired: false` (a preview
 * of untrusted code, which gets no PIN) checks everything that needs no login —
 * the token, its flags, its mechanisms — and reports the login as not tried;
 * with `loginRequired` (a deployment) a missing PIN is a failure.
 */
export function validateTokens(
  modulePath: string,
  reqs: TokenRequirement[],
  pin: string | undefined,
  opts: { loginRequired: boolean } = { loginRequired: true },
): TokenVerdict[] {
  return withModule(modulePath, (p, m) => {
    const slots = listSlots(p, m);
    return reqs.map((req) =>
      judgeToken(req, slots, (slot) =>
        pin !== undefined
          ? tryLogin(p, m, slotHandle(p, slot.slotId), pin)
          : opts.loginRequired
            ? { ok: false, code: "NO_PIN", message: "no user PIN was provided (see kms.pinEnv)" }
            : { ok: "not tried" },
      ),
    );
  });
}

export function snapshotSlots(modulePath: string): SlotSnapshot[] {
  return withModule(modulePath, (p, m) => listSlots(p, m));
}

export interface KeyRecord {
  label: string;
  /** CKA_ID as hex. */
  objectId: string;
  slotId: string;
  serial: string;
  algorithm: string;
  /** Attestation attributes read back from the private key. */
  alwaysSensitive: boolean;
  neverExtractable: boolean;
  local: boolean;
  /** The key's size as read from the token: the curve (P-256, P-384) or the RSA modulus length in bits. */
  size: string;
  /** SHA-256 over the public key's CKA_EC_PARAMS||CKA_EC_POINT or CKA_MODULUS||CKA_PUBLIC_EXPONENT. */
  fingerprint: string;
  /** The public key (SubjectPublicKeyInfo, PEM): what verifies the key's signatures; published with the inventory. */
  publicKey: string;
  /** True when this call generated the pair; false when it already existed. */
  created: boolean;
}

export interface TokenRef {
  label: string;
  serial?: string;
}

type Session = { p: Pkcs11.PKCS11; m: typeof Pkcs11; session: Buffer; slot: SlotSnapshot };

function withUserSession<T>(modulePath: string, token: TokenRef, pin: string, fn: (s: Session) => T): T {
  return withModule(modulePath, (p, m) => {
    const slots = listSlots(p, m);
    const { slot, problem } = matchSlot(
      { name: token.label, label: token.label, serial: token.serial, mechanisms: [] },
      slots,
    );
    if (!slot) throw new Error(problem);
    const t = slot.token!;
    if (t.userPinLocked || t.userPinFinalTry) {
      throw new Error(
        `token '${t.label}' (serial ${t.serial}): the user PIN is locked or on its final try; not logging in`,
      );
    }
    const session = p.C_OpenSession(slotHandle(p, slot.slotId), m.CKF_SERIAL_SESSION | m.CKF_RW_SESSION);
    try {
      try {
        p.C_Login(session, m.CKU_USER, pin);
      } catch (e) {
        throw new Error(`token '${t.label}' (serial ${t.serial}): login failed with ${pkcs11Code(e)}; not retried`);
      }
      try {
        return fn({ p, m, session, slot });
      } finally {
        p.C_Logout(session);
      }
    } finally {
      p.C_CloseSession(session);
    }
  });
}

function findObjects(s: Session, template: Pkcs11.Template): Buffer[] {
  s.p.C_FindObjectsInit(s.session, template);
  try {
    return s.p.C_FindObjects(s.session, 100);
  } finally {
    s.p.C_FindObjectsFinal(s.session);
  }
}

function boolAttr(s: Session, handle: Buffer, type: number): boolean {
  const [a] = s.p.C_GetAttributeValue(s.session, handle, [{ type }]);
  return a.value.length > 0 && a.value[0] === 1;
}

/** The curve a DER CKA_EC_PARAMS names, or its hex when it is none of ours. */
function curveOf(params: Buffer): string {
  const hex = params.toString("hex");
  return Object.entries(CURVE_OIDS).find(([, oid]) => oid === hex)?.[0] ?? `curve ${hex}`;
}

const JWK_CURVES: Record<string, string> = { "P-256": "P-256", "P-384": "P-384" };

/**
 * The public key as PEM (SPKI), from the token's public attributes: CKA_EC_POINT is the uncompressed
 * point wrapped in a DER OCTET STRING; RSA's modulus and exponent are big-endian integers. Node's
 * crypto builds the SPKI from a JWK, so no DER is written here.
 */
function publicKeyPem(algorithm: string, values: { value: Buffer }[]): string {
  const b64u = (b: Buffer) => b.toString("base64url");
  let jwk: Record<string, string>;
  if (algorithm === "EC") {
    const crv = JWK_CURVES[curveOf(values[0].value)];
    const der = values[1].value;
    // OCTET STRING: tag 0x04, a length (one byte, or 0x81 and one byte), then 0x04 || X || Y.
    const point = der[0] === 0x04 && der[1] === der.length - 2 ? der.subarray(2) : der.subarray(3);
    if (!crv || point[0] !== 0x04)
      throw new Error("the token's EC public key is not an uncompressed P-256/P-384 point");
    const half = (point.length - 1) / 2;
    jwk = { kty: "EC", crv, x: b64u(point.subarray(1, 1 + half)), y: b64u(point.subarray(1 + half)) };
  } else {
    jwk = { kty: "RSA", n: b64u(values[0].value), e: b64u(values[1].value) };
  }
  return createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "pem" }).toString();
}

/** RSA modulus length in bits (leading zero bytes are not part of it). */
function modulusBits(modulus: Buffer): number {
  let i = 0;
  while (i < modulus.length - 1 && modulus[i] === 0) i++;
  return (modulus.length - i) * 8 - Math.clz32(modulus[i]) + 24;
}

function describeKey(
  s: Session,
  key: Pick<KeySpec, "id" | "version" | "algorithm">,
  priv: Buffer,
  pub: Buffer,
  created: boolean,
): KeyRecord {
  const { m } = s;
  const pubAttrs =
    key.algorithm === "EC"
      ? [{ type: m.CKA_EC_PARAMS }, { type: m.CKA_EC_POINT }]
      : [{ type: m.CKA_MODULUS }, { type: m.CKA_PUBLIC_EXPONENT }];
  const values = s.p.C_GetAttributeValue(s.session, pub, pubAttrs);
  const hash = createHash("sha256");
  for (const v of values) hash.update(v.value);
  return {
    size: key.algorithm === "EC" ? curveOf(values[0].value) : `${modulusBits(values[0].value)} bits`,
    label: keyLabel(key),
    objectId: keyObjectId(key).toString("hex"),
    slotId: s.slot.slotId,
    serial: s.slot.token!.serial,
    algorithm: key.algorithm,
    alwaysSensitive: boolAttr(s, priv, m.CKA_ALWAYS_SENSITIVE),
    neverExtractable: boolAttr(s, priv, m.CKA_NEVER_EXTRACTABLE),
    local: boolAttr(s, priv, m.CKA_LOCAL),
    fingerprint: "SHA256:" + hash.digest("base64").replace(/=+$/, ""),
    publicKey: publicKeyPem(key.algorithm, values),
    created,
  };
}

function lookupPair(s: Session, key: Pick<KeySpec, "id" | "version">): { priv?: Buffer; pub?: Buffer } {
  const { m } = s;
  const base = [
    { type: m.CKA_LABEL, value: keyLabel(key) },
    { type: m.CKA_ID, value: keyObjectId(key) },
  ];
  const [priv] = findObjects(s, [{ type: m.CKA_CLASS, value: m.CKO_PRIVATE_KEY }, ...base]);
  const [pub] = findObjects(s, [{ type: m.CKA_CLASS, value: m.CKO_PUBLIC_KEY }, ...base]);
  return { priv, pub };
}

/** Makes sure the key version exists as a sensitive, non-extractable token key pair. */
export function ensureKey(modulePath: string, token: TokenRef, key: KeySpec, pin: string): KeyRecord {
  return withUserSession(modulePath, token, pin, (s) => ensureInSession(s, token, key));
}

/** Ensures several key versions of one token in a single login (kms:sync); same result as ensureKey each. */
export function ensureKeys(modulePath: string, token: TokenRef, keys: KeySpec[], pin: string): KeyRecord[] {
  return withUserSession(modulePath, token, pin, (s) => keys.map((k) => ensureInSession(s, token, k)));
}

/** What inspection and adoption judge a key version by: its name, type and size. */
export type KeyShape = Pick<KeySpec, "id" | "version" | "algorithm" | "curve" | "size">;

/**
 * What an existing pair must be for this program to adopt it as the inventory's key: the declared
 * type and size, a private key that is sensitive and never was extractable, and sign-only. An object
 * planted under the expected label and id fails here, naming each attribute; nothing is changed.
 */
function attributeProblems(s: Session, key: KeyShape, priv: Buffer, pub: Buffer): string[] {
  const { m, p, session } = s;
  const out: string[] = [];
  const ulong = (b: Buffer) => (b.length >= 4 ? b.readUInt32LE(0) : -1);
  const [keyType] = p.C_GetAttributeValue(session, priv, [{ type: m.CKA_KEY_TYPE }]);
  const wantType = key.algorithm === "EC" ? m.CKK_EC : m.CKK_RSA;
  if (ulong(keyType.value) !== wantType)
    out.push(`CKA_KEY_TYPE is ${ulong(keyType.value)} (expected ${key.algorithm === "EC" ? "CKK_EC" : "CKK_RSA"})`);
  else if (key.algorithm === "EC") {
    const [params] = p.C_GetAttributeValue(session, pub, [{ type: m.CKA_EC_PARAMS }]);
    if (curveOf(params.value) !== key.curve) out.push(`the curve is ${curveOf(params.value)} (expected ${key.curve})`);
  } else {
    const [modulus] = p.C_GetAttributeValue(session, pub, [{ type: m.CKA_MODULUS }]);
    const bits = modulusBits(modulus.value);
    if (bits !== key.size) out.push(`the modulus is ${bits} bits (expected ${key.size})`);
  }
  const expect: [string, number, boolean, string][] = [
    ["CKA_SENSITIVE", m.CKA_SENSITIVE, true, "the private key must be sensitive"],
    ["CKA_EXTRACTABLE", m.CKA_EXTRACTABLE, false, "the private key must never leave the HSM"],
    ["CKA_ALWAYS_SENSITIVE", m.CKA_ALWAYS_SENSITIVE, true, "it must have been sensitive since it was made"],
    ["CKA_NEVER_EXTRACTABLE", m.CKA_NEVER_EXTRACTABLE, true, "it must never have been extractable"],
    ["CKA_SIGN", m.CKA_SIGN, true, "it is a signing key"],
    ["CKA_DECRYPT", m.CKA_DECRYPT, false, "a signing key must not decrypt"],
    ["CKA_UNWRAP", m.CKA_UNWRAP, false, "a signing key must not unwrap"],
    ["CKA_DERIVE", m.CKA_DERIVE, false, "a signing key must not derive"],
  ];
  for (const [name, type, want, why] of expect) {
    const got = boolAttr(s, priv, type);
    if (got !== want) out.push(`${name} is ${got} (expected ${want}: ${why})`);
  }
  return out;
}

/** The error adoption raises for `problems` (attributeProblems' or inspectKeys'). */
export function adoptionError(token: TokenRef, serial: string, key: KeyShape, problems: string[]): Error {
  return new Error(
    `token '${token.label}' (serial ${serial}): key ${keyLabel(key)} is not what the inventory declares, so it ` +
      `is not adopted and nothing on the token was changed: ${problems.join("; ")}. Find out who made this ` +
      "object; to go on, declare a new version of the key in the inventory (key material is never deleted here)",
  );
}

function ensureInSession(s: Session, token: TokenRef, key: KeySpec): KeyRecord {
  const found = lookupPair(s, key);
  if (found.priv && found.pub) {
    const problems = attributeProblems(s, key, found.priv, found.pub);
    if (problems.length > 0) throw adoptionError(token, s.slot.token!.serial, key, problems);
    return describeKey(s, key, found.priv, found.pub, false);
  }
  if (found.priv || found.pub) {
    throw new Error(
      `key ${keyLabel(key)} is half present on token '${token.label}' (only the ${found.priv ? "private" : "public"} key); resolve it by hand`,
    );
  }
  const { m, p, session } = s;
  const label = keyLabel(key);
  const id = keyObjectId(key);
  const common = [
    { type: m.CKA_TOKEN, value: true },
    { type: m.CKA_LABEL, value: label },
    { type: m.CKA_ID, value: id },
  ];
  // Sign-only: the pair signs and verifies, nothing else (no decryption, key wrapping or derivation).
  const pubTemplate: Pkcs11.Template = [
    { type: m.CKA_CLASS, value: m.CKO_PUBLIC_KEY },
    ...common,
    { type: m.CKA_VERIFY, value: true },
    { type: m.CKA_ENCRYPT, value: false },
    { type: m.CKA_WRAP, value: false },
    { type: m.CKA_DERIVE, value: false },
  ];
  const privTemplate: Pkcs11.Template = [
    { type: m.CKA_CLASS, value: m.CKO_PRIVATE_KEY },
    ...common,
    { type: m.CKA_PRIVATE, value: true },
    { type: m.CKA_SENSITIVE, value: true },
    { type: m.CKA_EXTRACTABLE, value: false },
    { type: m.CKA_SIGN, value: true },
    { type: m.CKA_DECRYPT, value: false },
    { type: m.CKA_UNWRAP, value: false },
    { type: m.CKA_DERIVE, value: false },
  ];
  let mechanism: number;
  if (key.algorithm === "EC") {
    mechanism = m.CKM_EC_KEY_PAIR_GEN;
    pubTemplate.push({ type: m.CKA_EC_PARAMS, value: Buffer.from(CURVE_OIDS[key.curve!], "hex") });
  } else {
    mechanism = m.CKM_RSA_PKCS_KEY_PAIR_GEN;
    pubTemplate.push(
      { type: m.CKA_MODULUS_BITS, value: key.size! },
      { type: m.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
    );
  }
  const pair = p.C_GenerateKeyPair(session, { mechanism }, pubTemplate, privTemplate);
  return describeKey(s, key, pair.privateKey, pair.publicKey, true);
}

/**
 * Signs `data` in the HSM with an existing key version that passes adoption's checks (sensitive, never
 * extractable, sign-only): EC keys with CKM_ECDSA over SHA-256 of the data, computed here (SoftHSM2 has no
 * CKM_ECDSA_SHA256; the signature is r || s), RSA keys with CKM_SHA256_RSA_PKCS. The private key never
 * leaves the token. Returns the signature and the key's record (fingerprint, public key).
 */
export function signWithKey(
  modulePath: string,
  token: TokenRef,
  key: KeyShape,
  pin: string,
  data: Buffer,
): { signature: Buffer; record: KeyRecord } {
  return withUserSession(modulePath, token, pin, (s) => {
    const found = lookupPair(s, key);
    if (!found.priv || !found.pub)
      throw new Error(`key ${keyLabel(key)} is not on token '${token.label}': run the deployment (or kms:sync) first`);
    const problems = attributeProblems(s, key, found.priv, found.pub);
    if (problems.length > 0) throw adoptionError(token, s.slot.token!.serial, key, problems);
    const { m, p, session } = s;
    const ec = key.algorithm === "EC";
    p.C_SignInit(session, { mechanism: ec ? m.CKM_ECDSA : m.CKM_SHA256_RSA_PKCS }, found.priv);
    const input = ec ? createHash("sha256").update(data).digest() : data;
    const signature = Buffer.from(p.C_Sign(session, input, Buffer.alloc(ec ? 132 : 1024)));
    return { signature, record: describeKey(s, key, found.priv, found.pub, false) };
  });
}

/** Reads a key version without creating it; undefined when absent (or half present). */
export function readKey(modulePath: string, token: TokenRef, key: KeySpec, pin: string): KeyRecord | undefined {
  return inspectKey(modulePath, token, key, pin).record;
}

/** One key version as the token holds it, judged as adoption judges it; nothing on the token is changed. */
export interface KeyInspection {
  /** CKA_LABEL of the version (`<id>-v<version>`). */
  label: string;
  /**
   * "yes": the private and the public key are there under the label and id; "half": only one of them is;
   * "no": neither (then `problems` is empty, unless other key objects carry the label under another CKA_ID).
   */
  present: "yes" | "no" | "half";
  /** The pair's record when present (absent if even that cannot be read; `problems` then says why). */
  record?: KeyRecord;
  /**
   * Why what is under the label is not what the inventory declares: for a pair, each attribute that fails
   * (adoption's own judgement, attributeProblems); for a half, which half is missing. Empty for a
   * conforming pair and for an absent one.
   */
  problems: string[];
  /** Serial of the token inspected. */
  serial: string;
}

function inspectInSession(s: Session, key: KeyShape): KeyInspection {
  const label = keyLabel(key);
  const serial = s.slot.token!.serial;
  const found = lookupPair(s, key);
  if (found.priv && found.pub) {
    const problems = attributeProblems(s, key, found.priv, found.pub);
    try {
      return { label, present: "yes", record: describeKey(s, key, found.priv, found.pub, false), problems, serial };
    } catch (e) {
      // A pair of another type or shape (an RSA object where an EC key is declared, say) may not even be
      // describable; its problems already say why, or this one does.
      const code = pkcs11Code(e);
      const why = `its public key cannot be read as ${key.algorithm} (${code === "ERROR" ? (e as Error).message : code})`;
      return { label, present: "yes", problems: problems.length > 0 ? problems : [why], serial };
    }
  }
  if (found.priv || found.pub) {
    const [has, lacks] = found.priv ? ["private", "public"] : ["public", "private"];
    return {
      label,
      present: "half",
      problems: [`only the ${has} key is on the token (no ${lacks} key under this label and CKA_ID)`],
      serial,
    };
  }
  // Key objects under the label with another CKA_ID: the version is not there, but creating it would put a
  // second pair under the same label, so they are reported rather than passed over.
  const { m } = s;
  const wantId = keyObjectId(key).toString("hex");
  const problems: string[] = [];
  for (const [kind, cls] of [
    ["private", m.CKO_PRIVATE_KEY],
    ["public", m.CKO_PUBLIC_KEY],
  ] as const) {
    for (const h of findObjects(s, [
      { type: m.CKA_CLASS, value: cls },
      { type: m.CKA_LABEL, value: label },
    ])) {
      const [id] = s.p.C_GetAttributeValue(s.session, h, [{ type: m.CKA_ID }]);
      problems.push(
        `a ${kind} key labelled ${label} has CKA_ID ${id.value.toString("hex") || "(empty)"} (expected ${wantId})`,
      );
    }
  }
  return { label, present: "no", problems, serial };
}

/**
 * Inspects several key versions of one token in a single login (kms:sync, the evidence report), judging each
 * pair it finds exactly as adoption does (attributeProblems); creates, changes and deletes nothing.
 */
export function inspectKeys(modulePath: string, token: TokenRef, keys: KeyShape[], pin: string): KeyInspection[] {
  return withUserSession(modulePath, token, pin, (s) => keys.map((k) => inspectInSession(s, k)));
}

/** One inventory key version as inspectInventory found it. */
export interface InventoryKeyInspection extends KeyInspection {
  /** The inventory's token name (tokens[].name). */
  token: string;
  state: KeySpec["state"];
}

/**
 * Inspects every key version of the inventory, active and retired, on its token: one login per token that
 * has keys, in the inventory's order (inspectKeys for each token).
 */
export function inspectInventory(
  modulePath: string,
  inventory: Pick<Inventory, "tokens" | "keys">,
  pin: string,
): InventoryKeyInspection[] {
  const seen = new Map<KeySpec, InventoryKeyInspection>();
  for (const token of inventory.tokens) {
    const keys = inventory.keys.filter((k) => k.token === token.name);
    if (keys.length === 0) continue;
    const ref = { label: token.label, ...(token.serial ? { serial: token.serial } : {}) };
    inspectKeys(modulePath, ref, keys, pin).forEach((found, i) =>
      seen.set(keys[i], { token: token.name, state: keys[i].state, ...found }),
    );
  }
  return inventory.keys.flatMap((k) => seen.get(k) ?? []);
}

/**
 * Reads a key version and judges it as adoption would, changing nothing: the record when the pair
 * exists, and what is wrong with it (empty when it may be adopted, or when it does not exist yet).
 */
export function inspectKey(
  modulePath: string,
  token: TokenRef,
  key: KeyShape,
  pin: string,
): { record?: KeyRecord; problems: string[]; serial: string } {
  const [found] = inspectKeys(modulePath, token, [key], pin);
  // Half present, or only objects under another CKA_ID: not there for adoption (ensureKey decides).
  if (found.present !== "yes") return { problems: [], serial: found.serial };
  // A pair that cannot even be described is never "gone" to a refresh: it is refused, naming why.
  if (!found.record) throw adoptionError(token, found.serial, key, found.problems);
  return { record: found.record, problems: found.problems, serial: found.serial };
}

/** Labels of the private keys on a token (for kms:sync and tests). */
export function listKeyLabels(modulePath: string, token: TokenRef, pin: string): string[] {
  return withUserSession(modulePath, token, pin, (s) =>
    findObjects(s, [{ type: s.m.CKA_CLASS, value: s.m.CKO_PRIVATE_KEY }])
      .map((h) => s.p.C_GetAttributeValue(s.session, h, [{ type: s.m.CKA_LABEL }])[0].value.toString("utf8"))
      .sort(),
  );
}
