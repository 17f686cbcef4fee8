/**
 * Naming of key versions on the HSM. Kept apart from inventory.ts so the
 * dynamic providers, which are serialized into state, capture no parser.
 */

/** CKA_LABEL of a key version: `<id>-v<version>`. */
export function keyLabel(k: { id: string; version: number }): string {
  return `${k.id}-v${k.version}`;
}

/** CKA_ID of a key version: the label's bytes, readable in softhsm2-util and pkcs11-tool. */
export function keyObjectId(k: { id: string; version: number }): Buffer {
  return Buffer.from(keyLabel(k), "utf8");
}
