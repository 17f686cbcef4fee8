/**
 * Signed history: the maintainers' public keys that Flux verifies every commit
 * against (GitRepository.spec.verify), read from a folder the security team owns
 * (gitops.maintainerKeys, CODEOWNERS). No Pulumi import: the program's pre-flight
 * and the tests use it.
 *
 * Each file is one maintainer: `<name>.asc`, an ASCII-armored OpenPGP public key
 * (`gpg --armor --export <id>`), or `<name>.sshpub`, an SSH public key
 * (`git config gpg.format ssh` signing: the line of its .pub file). Those are
 * source-controller's suffixes: it reads `.asc` data as OpenPGP keyrings and
 * `.sshpub` data as authorized keys, so each file becomes a Secret key as is.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import sshpk from "sshpk";

/** The Secret in flux-system that GitRepository.spec.verify.secretRef names. */
export const MAINTAINER_KEYS_SECRET = "maintainer-keys";

export interface MaintainerKey {
  /** File name, also the Secret's data key (its suffix tells source-controller the format). */
  file: string;
  format: "openpgp" | "ssh";
  /** OpenPGP fingerprint (hex) or SSH SHA256 fingerprint, for review and the outputs. */
  fingerprints: string[];
  /** The file as read: public keys only (checked). */
  content: string;
}

const PRIVATE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----/;
const FIX =
  "add each maintainer's public key as <name>.asc (gpg --armor --export <key id>) or <name>.sshpub " +
  "(their SSH signing key), reviewed by the security team";

/**
 * Reads and checks every key in `dir`. `now` decides whether an OpenPGP key can still sign
 * (expired and revoked keys are refused); it is passed in so tests never depend on today.
 * Throws one Error listing every problem, each naming the file and the fix.
 */
export async function readMaintainerKeys(dir: string, key: string, now: Date): Promise<MaintainerKey[]> {
  const where = `${key}: ${dir}`;
  let files: string[];
  try {
    files = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith(".") && e.name !== "README.md")
      .map((e) => e.name)
      .sort();
  } catch {
    throw new Error(`${where} is not a readable folder\n  fix: ${FIX}`);
  }
  const problems: string[] = [];
  const keys: MaintainerKey[] = [];
  // Lazy: openpgp is only loaded by stacks that verify commits.
  const openpgp = await import("openpgp");
  for (const file of files) {
    const at = `${where}/${file}`;
    const content = fs.readFileSync(path.join(dir, file), "utf8");
    if (PRIVATE.test(content)) {
      // Never echo the content: it is a secret that must not be in the repository at all.
      problems.push(
        `${at} holds a PRIVATE key: remove it from the repository and rotate it; commit only the public half`,
      );
      continue;
    }
    if (file.endsWith(".asc")) {
      try {
        const parsed = await openpgp.readKeys({ armoredKeys: content });
        const fingerprints: string[] = [];
        for (const k of parsed) {
          try {
            await k.getSigningKey(undefined, now);
          } catch (e) {
            problems.push(
              `${at}: key ${k.getFingerprint().toUpperCase()} cannot sign on ${now.toISOString().slice(0, 10)} ` +
                `(${(e as Error).message}); export a current key`,
            );
          }
          fingerprints.push(k.getFingerprint().toUpperCase());
        }
        keys.push({ file, format: "openpgp", fingerprints, content });
      } catch (e) {
        problems.push(`${at} is not an armored OpenPGP public key (${(e as Error).message})`);
      }
    } else if (file.endsWith(".sshpub")) {
      const lines = content
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith("#"));
      const fingerprints: string[] = [];
      for (const [i, line] of lines.entries()) {
        try {
          fingerprints.push(sshpk.parseKey(line, "ssh").fingerprint("sha256").toString());
        } catch (e) {
          problems.push(`${at} line ${i + 1} is not an SSH public key (${(e as Error).message})`);
        }
      }
      if (lines.length === 0) problems.push(`${at} holds no key`);
      else keys.push({ file, format: "ssh", fingerprints, content });
    } else {
      problems.push(
        `${at}: unexpected file (source-controller reads only .asc and .sshpub; an SSH key's .pub file goes in as <name>.sshpub)`,
      );
    }
  }
  if (problems.length === 0 && keys.length === 0) {
    problems.push(
      `${where} holds no maintainer key, and gitops.requireSignedCommits is on: Flux would refuse every commit`,
    );
  }
  if (problems.length > 0) throw new Error([...problems, `  fix: ${FIX}`].join("\n"));
  return keys;
}

/**
 * GitRepository.spec.verify: every commit HEAD points at is checked against the maintainers'
 * keys before Flux applies it. With a branch ref only HEAD can be verified (Tag modes need a tag ref).
 */
export function verifySpec() {
  return { mode: "HEAD", secretRef: { name: MAINTAINER_KEYS_SECRET } };
}
