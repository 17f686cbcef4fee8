/**
 * Naming of key versions on the HSM. Kept apart from inventory.ts so the
 * dynamic providers, which are serialized into state, capture no parser.
 */

/** DER-encoded named-curve OIDs, as CKA_EC_PARAMS holds them (hsm.ts writes them, evidence verification reads them). */
export const CURVE_OIDS: Record<string, string> = {
  "P-256": "06082a8648ce3d030107",
  "P-384": "06052b81040022",
};

/** CKA_LABEL of a key version: `<id>-v<version>`. */
export function keyLabel(k: { id: string; version: number }): string {
  return `${k.id}-v${k.version}`;
}

/** CKA_ID of a key version: the label's bytes, readable in softhsm2-util and pkcs11-tool. */
export function keyObjectId(k: { id: string; version: number }): Buffer {
  return Buffer.from(keyLabel(k), "utf8");
}
