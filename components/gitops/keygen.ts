/**
 * The Flux deploy key pair, as `flux bootstrap` makes it (ECDSA P-384 by
 * default, ed25519 selectable). Plain module; sshpk is required inside the
 * function because the dynamic provider that calls it is serialized.
 */
import { generateKeyPairSync } from "node:crypto";

export type DeployKeyAlgorithm = "ecdsa-p384" | "ed25519";

export interface DeployKey {
  /** OpenSSH private key (the `identity` of the flux-system Secret). */
  privateKey: string;
  /** authorized_keys line (`identity.pub`, and the GitHub deploy key). */
  publicKey: string;
  /** SHA256 fingerprint as ssh-keygen -l prints it. */
  fingerprint: string;
}

export function generateDeployKey(algorithm: DeployKeyAlgorithm, comment = "flux"): DeployKey {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sshpk = require("sshpk") as typeof import("sshpk");
  const pem =
    algorithm === "ed25519"
      ? generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" })
      : generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ type: "pkcs8", format: "pem" });
  const key = sshpk.parsePrivateKey(String(pem), "pem");
  key.comment = comment;
  const pub = key.toPublic();
  return {
    privateKey: key.toString("openssh"),
    publicKey: pub.toString("ssh").trim(),
    fingerprint: pub.fingerprint("sha256").toString(),
  };
}

/** Fingerprint of an authorized_keys line. */
export function fingerprintOf(publicKey: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sshpk = require("sshpk") as typeof import("sshpk");
  return sshpk.parseKey(publicKey, "ssh").fingerprint("sha256").toString();
}
