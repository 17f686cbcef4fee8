/**
 * report.json.sig: a signature over the exact bytes of report.json, made in the HSM with the inventory's
 * evidence-signing key (ECDSA P-256 over SHA-256, r || s), and its verification against the public key the
 * inventory publishes (ConfigMap cartorio-kms-inventory, inventory.json: keys[].publicKey and fingerprint).
 * Plain module.
 */
import { createHash, createPublicKey, verify } from "node:crypto";
import { z } from "zod";
import { CURVE_OIDS } from "../keys/keyid";

export const SIGNATURE_SCHEMA = "cartorio.digital/evidencia-assinatura/v1";

export const signatureSchema = z
  .object({
    schema: z.literal(SIGNATURE_SCHEMA),
    keyLabel: z.string(),
    fingerprint: z.string(),
    algorithm: z.literal("ECDSA-P256-SHA256"),
    /** base64 of r || s (IEEE P1363), as CKM_ECDSA returns it. */
    signature: z.string().regex(/^[A-Za-z0-9+/]+=*$/),
  })
  .strict();
export type SignatureFile = z.infer<typeof signatureSchema>;

/** A key as the published inventory lists it (inventory.json). */
export interface PublishedKey {
  label: string;
  purpose?: string;
  state?: string;
  fingerprint?: string;
  publicKey?: string;
}

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

/**
 * Checks report.json's bytes against its signature file and the published inventory: the key exists there
 * with purpose evidence-signing, its PEM matches its fingerprint and the one the signature names, and the
 * signature verifies. Every problem is listed; an empty list means verified.
 */
export function verifyReport(reportBytes: Buffer, sigText: string, published: PublishedKey[]): string[] {
  let sig: SignatureFile;
  try {
    const parsed = signatureSchema.safeParse(JSON.parse(sigText));
    if (!parsed.success)
      return [`report.json.sig: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`];
    sig = parsed.data;
  } catch (e) {
    return [`report.json.sig is not JSON (${(e as Error).message})`];
  }
  const problems: string[] = [];
  const key = published.find((k) => k.label === sig.keyLabel);
  if (!key) return [`the published inventory has no key ${sig.keyLabel}`];
  if (key.purpose !== undefined && key.purpose !== "evidence-signing")
    problems.push(`key ${key.label} has purpose ${key.purpose}, not evidence-signing`);
  if (!key.publicKey) return [...problems, `the published inventory has no public key for ${key.label}`];
  const fp = fingerprintOfPem(key.publicKey);
  if (key.fingerprint && fp !== key.fingerprint)
    problems.push(
      `the published public key of ${key.label} is ${fp}, not its published fingerprint ${key.fingerprint}`,
    );
  if (fp !== sig.fingerprint) problems.push(`the signature names key fingerprint ${sig.fingerprint}; published: ${fp}`);
  try {
    // report.json names its signer too: it must be the key that signed.
    const signer = JSON.parse(reportBytes.toString("utf8"))?.signer;
    if (signer?.keyLabel !== sig.keyLabel || signer?.fingerprint !== sig.fingerprint)
      problems.push(
        `report.json names signer ${signer?.keyLabel} ${signer?.fingerprint}, the signature ${sig.keyLabel}`,
      );
  } catch {
    problems.push("report.json is not JSON");
  }
  const ok = verify(
    "sha256",
    reportBytes,
    { key: key.publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(sig.signature, "base64"),
  );
  if (!ok) problems.push(`the signature does not match report.json (changed after signing, or another key signed it)`);
  return problems;
}
