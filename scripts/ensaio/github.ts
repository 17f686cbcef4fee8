/**
 * GitHub's side of the ensaio rehearsal, on the embedded cluster's Git server: stand-ins for the keys GitHub
 * signs with, and merges made the way GitHub makes them.
 *
 * On github.com, a pull request merged from the web UI becomes a merge, squash or rebase commit whose
 * committer is `GitHub <noreply@github.com>`, signed with GitHub's web-flow key (OpenPGP); a commit the
 * deploy App makes (CODEOWNERS) is signed for the App. Flux on producao verifies HEAD against the trusted
 * keys (gitops.maintainerKeys), so those keys must be among them (docs/gitops.md, "Whose signatures Flux
 * trusts"). Here: the web-flow stand-in is an OpenPGP key in a GnuPG home of its own, the App's and a
 * maintainer's are SSH signing keys; their public halves form the trusted folder the ensaio stack names.
 * No Pulumi import: npm run ensaio and the tests use it.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { maintainerGitEnv } from "../cluster/controlplane";

export type Signer = "web-flow" | "app" | "maintainer" | "outsider" | "none";
export type MergeMethod = "merge" | "squash" | "rebase";

export interface StandinKeys {
  dir: string;
  /** Folder of the trusted public keys (gitops.maintainerKeys of the ensaio stack). */
  trusted: string;
  gnupgHome: string;
  webFlowFingerprint: string;
  /** SSH private keys by signer. */
  ssh: Record<"app" | "maintainer" | "outsider", string>;
}

const IDENTITY: Record<Exclude<Signer, "none">, { name: string; email: string }> = {
  "web-flow": { name: "GitHub", email: "noreply@github.com" },
  app: { name: "cartorio-plataforma[bot]", email: "cartorio-plataforma[bot]@users.noreply.github.com" },
  maintainer: { name: "Mantenedora", email: "mantenedora@cartorio.example" },
  outsider: { name: "Intrusa", email: "intrusa@example.invalid" },
};

/** Makes the stand-in keys once (kept across runs, like the real ones) and writes the trusted folder. */
export function standinKeys(dir: string): StandinKeys {
  const gnupgHome = path.join(dir, "gnupg");
  const trusted = path.join(dir, "confianca");
  fs.mkdirSync(gnupgHome, { recursive: true, mode: 0o700 });
  fs.mkdirSync(trusted, { recursive: true });
  const gpg = (...args: string[]) =>
    execFileSync("gpg", ["--batch", "--quiet", ...args], {
      env: { ...process.env, GNUPGHOME: gnupgHome },
      encoding: "utf8",
    });
  const list = () => /^fpr:+([0-9A-F]{40}):/m.exec(gpg("--with-colons", "--list-secret-keys"))?.[1];
  if (!list())
    // No expiry: the rehearsal must not depend on today's date (the real web-flow key's expiry is checked by
    // readMaintainerKeys on producao).
    gpg(
      "--passphrase",
      "",
      "--quick-gen-key",
      "GitHub (web-flow commit signing) <noreply@github.com>",
      "rsa3072",
      "sign",
      "never",
    );
  const webFlowFingerprint = list()!;
  fs.writeFileSync(path.join(trusted, "github-web-flow.asc"), gpg("--armor", "--export", webFlowFingerprint));
  const ssh = {} as StandinKeys["ssh"];
  for (const who of ["app", "maintainer", "outsider"] as const) {
    const key = path.join(dir, `ssh-${who}`);
    if (!fs.existsSync(key)) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", who, "-f", key]);
    ssh[who] = key;
  }
  // The outsider's key is made to sign, never trusted.
  fs.copyFileSync(`${ssh.app}.pub`, path.join(trusted, "github-app.sshpub"));
  fs.copyFileSync(`${ssh.maintainer}.pub`, path.join(trusted, "mantenedora.sshpub"));
  return { dir, trusted, gnupgHome, webFlowFingerprint, ssh };
}

/** git -c options that make `signer` the committer and sign as it. */
function signing(keys: StandinKeys, signer: Signer): { args: string[]; env: NodeJS.ProcessEnv } {
  if (signer === "none") {
    const id = IDENTITY.maintainer;
    return {
      args: ["-c", "commit.gpgsign=false"],
      env: { GIT_COMMITTER_NAME: id.name, GIT_COMMITTER_EMAIL: id.email },
    };
  }
  const id = IDENTITY[signer];
  const env = { GIT_COMMITTER_NAME: id.name, GIT_COMMITTER_EMAIL: id.email, GNUPGHOME: keys.gnupgHome };
  if (signer === "web-flow")
    return {
      args: [
        "-c",
        "gpg.format=openpgp",
        "-c",
        `user.signingkey=${keys.webFlowFingerprint}`,
        "-c",
        "commit.gpgsign=true",
      ],
      env,
    };
  return {
    args: ["-c", "gpg.format=ssh", "-c", `user.signingkey=${keys.ssh[signer]}`, "-c", "commit.gpgsign=true"],
    env,
  };
}

export interface Clone {
  dir: string;
  /** Environment that reaches the server (its pinned host key, the pushing maintainer's key). */
  env: NodeJS.ProcessEnv;
  git(...args: string[]): string;
  /** Commits the work tree as `signer` (author: the PR's author). */
  commit(message: string, signer: Signer): string;
  push(ref?: string): void;
}

/** A working clone of owner/name on the cluster folder's Git server, pushing as the server's maintainer. */
export function clone(clusterDir: string, repo: string, work: string, keys: StandinKeys): Clone {
  const address = fs.readFileSync(path.join(clusterDir, "git", "address"), "utf8").trim();
  const env = { ...maintainerGitEnv(clusterDir), GNUPGHOME: keys.gnupgHome };
  const author = ["-c", "user.name=Equipe de Aplicação", "-c", "user.email=aplicacao@cartorio.example"];
  const git = (...args: string[]) => execFileSync("git", ["-C", work, ...author, ...args], { env, encoding: "utf8" });
  fs.rmSync(work, { recursive: true, force: true });
  execFileSync("git", ["clone", "--quiet", `ssh://git@${address}/${repo}`, work], { env, stdio: "pipe" });
  const c: Clone = {
    dir: work,
    env,
    git,
    commit(message, signer) {
      const s = signing(keys, signer);
      execFileSync("git", ["-C", work, ...author, ...s.args, "commit", "--quiet", "--allow-empty", "-am", message], {
        env: { ...env, ...s.env },
      });
      return git("rev-parse", "HEAD").trim();
    },
    push(ref = "main") {
      git("push", "--quiet", "--force", "origin", `HEAD:refs/heads/${ref}`);
    },
  };
  return c;
}

/**
 * Merges branch `head` into `base` as GitHub's merge button does, committed and signed by the web-flow
 * stand-in, and pushes base. merge: a merge commit "Merge pull request #N from …"; squash: one commit
 * "<title> (#N)"; rebase: each commit of the PR replayed on base and re-signed (GitHub re-commits them).
 * Returns base's new head.
 */
export function mergePullRequest(
  c: Clone,
  keys: StandinKeys,
  pr: { number: number; title: string; head: string; base?: string; method: MergeMethod },
): string {
  const base = pr.base ?? "main";
  const s = signing(keys, "web-flow");
  const run = (...args: string[]) =>
    execFileSync(
      "git",
      ["-C", c.dir, "-c", "user.name=GitHub", "-c", "user.email=noreply@github.com", ...s.args, ...args],
      {
        env: { ...c.env, ...s.env },
        encoding: "utf8",
      },
    );
  c.git("checkout", "--quiet", base);
  if (pr.method === "merge") {
    run(
      "merge",
      "--quiet",
      "--no-ff",
      "-m",
      `Merge pull request #${pr.number} from cartorio-digital/${pr.head}\n\n${pr.title}`,
      pr.head,
    );
  } else if (pr.method === "squash") {
    run("merge", "--quiet", "--squash", pr.head);
    run("commit", "--quiet", "-m", `${pr.title} (#${pr.number})`);
  } else {
    // Replayed onto base and re-committed (so re-signed) as GitHub does; base then fast-forwards to it.
    c.git("checkout", "--quiet", pr.head);
    run("rebase", "--quiet", "--force-rebase", base);
    c.git("checkout", "--quiet", base);
    c.git("merge", "--quiet", "--ff-only", pr.head);
  }
  c.push(base);
  return c.git("rev-parse", "HEAD").trim();
}

/**
 * Sets label `key` of the Deployment in `file` (its metadata.labels) to `value`, adding it when missing: the
 * change a rehearsed pull request makes, visible on the cluster once Flux applies it.
 */
export function setDeploymentLabel(file: string, key: string, value: string): void {
  const text = fs.readFileSync(file, "utf8");
  const escaped = key.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const line = new RegExp(`${escaped}: .*`);
  fs.writeFileSync(
    file,
    line.test(text)
      ? text.replace(line, `${key}: ${value}`)
      : text.replace(/^(metadata:\n(?:.*\n)*?\s+labels:\n)/m, `$1    ${key}: ${value}\n`),
  );
}

/**
 * kubectl arguments that ask source-controller to fetch the flux-system GitRepository now, as
 * `flux reconcile source git flux-system` does (the annotation Flux watches).
 */
export function reconcileSourceArgs(): string[] {
  return [
    "annotate",
    "--overwrite",
    "gitrepository/flux-system",
    "-n",
    "flux-system",
    `reconcile.fluxcd.io/requestedAt=${Date.now()}`,
  ];
}
