/**
 * report.json.sig: a signature over the exact bytes of report.json, made in the HSM with the inventory's
 * evidence-signing key (ECDSA P-256 over SHA-256, r || s), and its verification against the trust anchor
 * the repository keeps (anchor.ts). Plain module.
 */
import { verify } from "node:crypto";
import { z } from "zod";
import { type Anchor, anchorKeyFor } from "./anchor";

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

/**
 * Checks report.json's bytes against its signature file and the trust anchor (anchor.ts): the signature
 * file is complete, names the key report.json names as its signer, that key is in the anchor and its period
 * covers the report's date, and the signature verifies with the anchor's public key — never with a key read
 * from the cluster or the HSM. Every problem is listed; an empty list means verified.
 */
export function verifyReport(reportBytes: Buffer, sigText: string, anchor: Anchor, anchorWhere: string): string[] {
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
  let report: { signer?: { keyLabel?: string; fingerprint?: string }; generatedAt?: string; stack?: { name?: string } };
  try {
    report = JSON.parse(reportBytes.toString("utf8")) ?? {};
  } catch {
    return ["report.json is not JSON"];
  }
  // report.json names its signer too: it must be the key that signed.
  if (report.signer?.keyLabel !== sig.keyLabel || report.signer?.fingerprint !== sig.fingerprint)
    problems.push(
      `report.json names signer ${report.signer?.keyLabel} ${report.signer?.fingerprint}, the signature ${sig.keyLabel} ${sig.fingerprint}`,
    );
  if (report.stack?.name !== anchor.stack)
    problems.push(
      `report.json is of stack ${report.stack?.name}; the trust anchor ${anchorWhere} is of ${anchor.stack}`,
    );
  const { key, problems: keyProblems } = anchorKeyFor(anchor, anchorWhere, sig, String(report.generatedAt));
  problems.push(...keyProblems);
  if (!key) return problems;
  const ok = verify(
    "sha256",
    reportBytes,
    { key: key.publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(sig.signature, "base64"),
  );
  if (!ok) problems.push(`the signature does not match report.json (changed after signing, or another key signed it)`);
  return problems;
}
