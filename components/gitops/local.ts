/**
 * The local stack's Git server (gitops.git.server: local): the embedded
 * cluster's `fluxkit gitserver`, which writes its address and known_hosts line
 * into its folder and reads who may fetch or push from an access file
 * ("read|write <authorized_keys line>" per line). The program authorizes the
 * Flux deploy key there read-only, as RepositoryHardening registers it on
 * GitHub. Plain module: no Pulumi import.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { GitopsConfig } from "../config/schema";

export interface LocalGitServer {
  /** host:port */
  address: string;
  /** The server's own known_hosts line (pinned: read from its folder, never scanned). */
  knownHosts: string;
  /** Absolute path of the access file. */
  accessFile: string;
  /** The commit the branch points at on the server: the revision the sync must reach. */
  revision: string;
}

/** Reads the local server's folder; throws a message naming the key, the folder and the fix. */
export function localGitServer(g: GitopsConfig, projectRoot: string): LocalGitServer {
  const dir = path.resolve(projectRoot, g.git.localDir);
  const read = (f: string) => {
    try {
      return fs.readFileSync(path.join(dir, f), "utf8").trim();
    } catch {
      throw new Error(
        `cartorio-plataforma:gitops.git.localDir: ${path.join(dir, f)} is missing: the local Git server has not run. ` +
          `Start it with the embedded cluster (npm run cluster -- up), or set gitops.git.server: github.`,
      );
    }
  };
  const address = read("address");
  const knownHosts = read("known_hosts") + "\n";
  const bare = path.join(dir, "repos", g.owner, `${g.repository}.git`);
  let revision: string;
  try {
    revision = execFileSync("git", ["--git-dir", bare, "rev-parse", "--verify", `refs/heads/${g.branch}^{commit}`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch {
    throw new Error(
      `cartorio-plataforma:gitops.git.localDir: the local Git server has no branch ${g.branch} of ` +
        `${g.owner}/${g.repository} (${bare}). Publish this checkout first: npm run cluster -- publish ` +
        `--repo ${g.owner}/${g.repository} --branch ${g.branch}`,
    );
  }
  return { address, knownHosts, accessFile: path.join(dir, "access"), revision };
}

/** The key's type and base64 fields: what identifies it, whatever its comment. */
function keyId(publicKey: string): string {
  return publicKey.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** The access file's lines other than the given key's. */
function otherKeys(accessFile: string, publicKey: string): string[] {
  if (!fs.existsSync(accessFile)) return [];
  const id = keyId(publicKey);
  return fs
    .readFileSync(accessFile, "utf8")
    .split("\n")
    .filter((l) => l && keyId(l.replace(/^(read|write)\s+/, "")) !== id);
}

/** Gives a key `read` or `write` access in the access file (idempotent; other lines kept). */
export function authorize(accessFile: string, publicKey: string, access: "read" | "write"): void {
  const lines = [...otherKeys(accessFile, publicKey), `${access} ${publicKey.trim()}`];
  fs.writeFileSync(accessFile, lines.join("\n") + "\n", { mode: 0o600 });
}

/** Authorizes a key read-only (a deploy key). */
export function authorizeReadOnly(accessFile: string, publicKey: string): void {
  authorize(accessFile, publicKey, "read");
}

/** Removes a key from the access file; true when it was there. */
export function revoke(accessFile: string, publicKey: string): boolean {
  if (accessOf(accessFile, publicKey) === undefined) return false;
  const kept = otherKeys(accessFile, publicKey);
  fs.writeFileSync(accessFile, kept.map((l) => `${l}\n`).join(""), { mode: 0o600 });
  return true;
}

/** The access the file gives a key: "read", "write" or undefined. */
export function accessOf(accessFile: string, publicKey: string): "read" | "write" | undefined {
  if (!fs.existsSync(accessFile)) return undefined;
  const id = keyId(publicKey);
  for (const l of fs.readFileSync(accessFile, "utf8").split("\n")) {
    const m = /^(read|write)\s+(.*)$/.exec(l.trim());
    if (m && keyId(m[2]) === id) return m[1] as "read" | "write";
  }
  return undefined;
}
