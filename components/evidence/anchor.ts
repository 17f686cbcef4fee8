/**
 * The evidence trust anchor: which public keys may sign a stack's evidence reports, and when. It lives in the
 * repository (configs/evidencias/, which CODEOWNERS gives to the security team) and changes only through a
 * reviewed PR (`npm run evidence:anchor`), never from the cluster or the HSM the reports describe: whoever
 * controls those can make a key and publish it, but cannot make the anchor list it. A retired key keeps
 * verifying the reports signed in its period; a report dated outside its key's period fails. Plain module.
 */
import { createHash, createPublicKey } from "node:crypto";
import * as fs from "node:fs";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { CURVE_OIDS } from "../keys/keyid";

/**
 * The inventory's fingerprint of a public key (components/keys/hsm.ts: SHA-256 over CKA_EC_PARAMS ||
 * CKA_EC_POINT, or CKA_MODULUS || CKA_PUBLIC_EXPONENT), recomputed from its PEM, so a published PEM that
 * is not the key the fingerprint names is caught.
 */
export function fingerprintOfPem(pem: string): string {
  const jwk = createPublicKey(pem).export({ format: "jwk" }) as Record<string, string>;
  const b = (s: string) => Buffer.from(s, "base64url");
  let parts: Buffer[];
  if (jwk.kty === "EC") {
    const point = Buffer.concat([Buffer.from([4]), b(jwk.x), b(jwk.y)]);
    parts = [Buffer.from(CURVE_OIDS[jwk.crv] ?? "", "hex"), Buffer.concat([Buffer.from([4, point.length]), point])];
  } else {
    parts = [b(jwk.n), b(jwk.e)];
  }
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return "SHA256:" + h.digest("base64").replace(/=+$/, "");
}

export const ANCHOR_SCHEMA = "cartorio.digital/evidencia-ancora/v1";

const anchorKeySchema = z
  .object({
    /** The key version's label in the HSM (inventory id-vN). */
    label: z.string().min(1),
    purpose: z.literal("evidence-signing"),
    /** SHA256:<base64> over the public key, as the inventory and the HSM provider compute it. */
    fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, "expected SHA256:<43 base64 characters>"),
    /** SubjectPublicKeyInfo, PEM. */
    publicKey: z.string().includes("-----BEGIN PUBLIC KEY-----", { message: "expected a PEM public key" }),
    /** From when reports signed by this key are evidence (ISO 8601, UTC). */
    validFrom: z.string().datetime(),
    /** Until when (exclusive); null while it is the current key. */
    validUntil: z.string().datetime().nullable(),
  })
  .strict();

export const anchorSchema = z
  .object({
    schema: z.literal(ANCHOR_SCHEMA),
    /** The stack whose reports these keys sign. */
    stack: z.string().min(1),
    keys: z.array(anchorKeySchema),
  })
  .strict();

export type Anchor = z.infer<typeof anchorSchema>;
export type AnchorKey = z.infer<typeof anchorKeySchema>;

/** Reads and checks an anchor file: its schema, each PEM against its fingerprint, each period's order. */
export function loadAnchor(file: string): Anchor {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new Error(
      `the evidence trust anchor ${file} does not exist: run npm run evidence:anchor -- --stack <stack> where the HSM is, and merge it through a PR`,
    );
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (e) {
    throw new Error(`the evidence trust anchor ${file} is not YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const r = anchorSchema.safeParse(value);
  if (!r.success)
    throw new Error(
      `the evidence trust anchor ${file} does not match ${ANCHOR_SCHEMA}: ` +
        r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "),
    );
  for (const [i, k] of r.data.keys.entries()) {
    let fp: string;
    try {
      fp = fingerprintOfPem(k.publicKey);
    } catch (e) {
      throw new Error(`${file}: keys.${i} (${k.label}): publicKey is not a public key (${(e as Error).message})`);
    }
    if (fp !== k.fingerprint)
      throw new Error(`${file}: keys.${i} (${k.label}): publicKey has fingerprint ${fp}, not ${k.fingerprint}`);
    if (k.validUntil !== null && Date.parse(k.validUntil) <= Date.parse(k.validFrom))
      throw new Error(
        `${file}: keys.${i} (${k.label}): validUntil ${k.validUntil} is not after validFrom ${k.validFrom}`,
      );
  }
  return r.data;
}

/** The anchor's key for a signature, and every reason it does not vouch for a report signed at `signedAt`. */
export function anchorKeyFor(
  anchor: Anchor,
  where: string,
  signer: { keyLabel: string; fingerprint: string },
  signedAt: string,
): { key?: AnchorKey; problems: string[] } {
  const key = anchor.keys.find((k) => k.fingerprint === signer.fingerprint);
  if (!key)
    return {
      problems: [
        `key ${signer.keyLabel} (${signer.fingerprint}) is not in the trust anchor ${where}` +
          (anchor.keys.length
            ? ` (it lists ${anchor.keys.map((k) => k.fingerprint).join(", ")})`
            : " (it lists no key)") +
          ": a report signed by a key the anchor does not list is not evidence",
      ],
    };
  const problems: string[] = [];
  if (key.label !== signer.keyLabel)
    problems.push(`the trust anchor names ${signer.fingerprint} ${key.label}, the signature ${signer.keyLabel}`);
  const at = Date.parse(signedAt);
  if (!(at >= Date.parse(key.validFrom)) || (key.validUntil !== null && !(at < Date.parse(key.validUntil))))
    problems.push(
      `the report is dated ${signedAt}, outside the period of key ${key.label} in the trust anchor ` +
        `(${key.validFrom} to ${key.validUntil ?? "now"})`,
    );
  return { key, problems };
}

/**
 * The anchor after a rotation to `current` (the evidence-signing keys the HSM holds and the inventory has
 * active): each one not listed yet is added, valid from `now`; each listed key still open that is no longer
 * current is closed at `now`. Returns the new anchor and a line per change (none: already up to date).
 */
export function rotateAnchor(
  anchor: Anchor,
  current: { label: string; fingerprint: string; publicKey: string }[],
  now: Date,
): { anchor: Anchor; changes: string[] } {
  const at = now.toISOString();
  const changes: string[] = [];
  const keys = anchor.keys.map((k) => {
    if (k.validUntil === null && !current.some((c) => c.fingerprint === k.fingerprint)) {
      changes.push(`~ ${k.label} ${k.fingerprint}: valid until ${at} (no longer an active evidence key)`);
      return { ...k, validUntil: at };
    }
    return k;
  });
  for (const c of current) {
    if (keys.some((k) => k.fingerprint === c.fingerprint)) continue;
    keys.push({ ...c, purpose: "evidence-signing", validFrom: at, validUntil: null });
    changes.push(`+ ${c.label} ${c.fingerprint}: valid from ${at}`);
  }
  return { anchor: { ...anchor, keys }, changes };
}

/** The anchor file's text: a header saying what it is, then the data. */
export function anchorText(anchor: Anchor): string {
  return (
    `# Evidence trust anchor of stack ${anchor.stack} (${ANCHOR_SCHEMA}): the public keys that may sign its\n` +
    "# evidence reports, and when. Changed by `npm run evidence:anchor` and merged through a PR that\n" +
    "# time-seguranca reviews (CODEOWNERS); npm run evidence:verify trusts nothing else. See docs/evidence.md.\n" +
    stringify(anchor, { lineWidth: 0 })
  );
}
