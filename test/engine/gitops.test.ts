/**
 * The GitOps loop for real: the local stack through the engine on the embedded
 * cluster, with Flux's source- and kustomize-controller (built from their Go
 * modules, run out of cluster as their service accounts) reconciling a clone of
 * this repository from the cluster's local Git server over SSH.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedDir } from "../../components/gitops/embedded";
import { maintainerGitEnv } from "../../scripts/cluster/controlplane";
import { reconcileSourceArgs, setDeploymentLabel } from "../../scripts/ensaio/github";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import { engineProject, EngineProject } from "../helpers/engine";
import { eventually, PROJECT_ROOT, tempDir } from "../helpers/tools";

const ENGINE_TIMEOUT = 600_000;
let cluster: TestCluster;
let project: EngineProject;
let head: string;
const logs: string[] = [];
const collect = (s: string) => logs.push(s);
const pack = () => [path.join(project.dir, "policypack")];
const versions = Object.fromEntries(
  fs
    .readFileSync(path.join(PROJECT_ROOT, "scripts/toolchain/versions.env"), "utf8")
    .split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => l.split("=") as [string, string]),
);

/** The controller's version the release names (components.json of the collected release). */
const controllerVersion = (release: string, c: string): string =>
  JSON.parse(fs.readFileSync(path.join(embeddedDir(release), "components.json"), "utf8")).components[c].version;
const json = (args: string[]) => JSON.parse(cluster.kubectlOk([...args, "-o", "json"]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asks source-controller to fetch now, as `flux reconcile source git flux-system` does. */
function reconcileNow() {
  cluster.kubectlOk(reconcileSourceArgs());
}

function setConfig(change: (cfg: Record<string, Record<string, unknown>>) => void) {
  return project.stack("local", (cfg) => change(cfg as Record<string, Record<string, unknown>>));
}

describe("the GitOps loop on the embedded cluster", () => {
  beforeAll(async () => {
    cluster = await startTestCluster();
    head = cluster.publish();
    project = await engineProject({ kubeconfig: cluster.kubeconfig, gitDir: cluster.gitDir });
  }, ENGINE_TIMEOUT);
  afterAll(async () => cluster?.stop());

  it(
    "up installs Flux and returns once GitRepository and Kustomization flux-system are Ready at the published commit",
    async () => {
      const stack = await project.stack("local");
      const res = await stack.up({ onOutput: collect, policyPacks: pack() });
      expect(res.summary.result).toBe("succeeded");
      expect(res.outputs.gitops.value.syncedRevision).toBe(`main@sha1:${head}`);
      const repo = json(["get", "gitrepository", "flux-system", "-n", "flux-system"]);
      expect(repo.spec.url).toMatch(/^ssh:\/\/git@127\.0\.0\.1:\d+\/cartorio-digital\/infraestrutura$/);
      expect(repo.status.artifact.revision).toBe(`main@sha1:${head}`);
      const ks = json(["get", "kustomization", "flux-system", "-n", "flux-system"]);
      expect(ks.status.lastAppliedRevision).toBe(`main@sha1:${head}`);
      expect(ks.status.conditions.find((c: { type: string }) => c.type === "Ready").status).toBe("True");
      // The controllers' Deployments are in the API as the release declares them, and awaited as on producao:
      // their pods are kwok's simulated ones (Ready, no container), the work is done by the processes beside.
      for (const c of ["source-controller", "kustomize-controller"]) {
        const dep = json(["get", "deployment", c, "-n", "flux-system"]);
        expect(dep.spec.template.spec.containers[0].image).toBe(
          `ghcr.io/fluxcd/${c}:${controllerVersion(versions.FLUX_VERSION, c)}`,
        );
        expect(dep.status.readyReplicas).toBe(1);
        const pods = json(["get", "pods", "-n", "flux-system", "-l", `app=${c}`]);
        expect(pods.items.map((p: { spec: { nodeName?: string } }) => p.spec.nodeName)).toEqual([
          expect.stringMatching(/^kwok-node-\d+$/),
        ]);
        expect(dep.metadata.labels).toMatchObject({
          "app.kubernetes.io/part-of": "flux",
          "cartorio.digital/owner": "time-infraestrutura",
        });
      }
    },
    ENGINE_TIMEOUT,
  );

  it("what clusters/producao declares is applied: the infrastructure objects and manifests/, so the HPA's target exists", async () => {
    await eventually("Deployment cartorio/cartorio-api applied by cartorio-apps", 180, () =>
      cluster.kubectl(["get", "deployment", "cartorio-api", "-n", "cartorio"]).status === 0 ? true : undefined,
    );
    for (const [kind, name] of [
      ["service", "cartorio-api"],
      ["serviceaccount", "cartorio-api"],
      ["networkpolicy", "cartorio-api"],
      ["limitrange", ""],
      ["resourcequota", ""],
    ]) {
      const out = cluster.kubectlOk(["get", kind, ...(name ? [name] : []), "-n", "cartorio", "-o", "name"]);
      expect(out.trim(), kind).not.toBe("");
    }
    const dep = json(["get", "deployment", "cartorio-api", "-n", "cartorio"]);
    // Applied by Flux (its field manager), not by Pulumi.
    expect(dep.metadata.labels["kustomize.toolkit.fluxcd.io/name"]).toBe("cartorio-apps");
  });

  it("exactly one resource of the stack owns namespace flux-system", async () => {
    const state = (await (await project.stack("local")).exportStack()).deployment.resources as {
      type: string;
      inputs?: { metadata?: { name?: string } };
    }[];
    const owners = state.filter(
      (r) => r.type === "kubernetes:core/v1:Namespace" && r.inputs?.metadata?.name === "flux-system",
    );
    expect(owners).toHaveLength(1);
  });

  it("the deploy key is authorized read-only: it fetches the repository and cannot push", () => {
    const secret = json(["get", "secret", "flux-system", "-n", "flux-system"]);
    const keyFile = path.join(tempDir("deploy-key"), "identity");
    fs.writeFileSync(keyFile, Buffer.from(secret.data.identity, "base64"), { mode: 0o600 });
    const address = fs.readFileSync(path.join(cluster.gitDir, "address"), "utf8").trim();
    const env = {
      ...process.env,
      GIT_SSH_COMMAND: `ssh -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${cluster.gitDir}/known_hosts -i ${keyFile}`,
    };
    const url = `ssh://git@${address}/cartorio-digital/infraestrutura`;
    expect(execFileSync("git", ["ls-remote", url, "refs/heads/main"], { env, encoding: "utf8" })).toContain(head);
    const real = spawnSync("git", ["-C", PROJECT_ROOT, "push", url, `${head}:refs/heads/intrusa`], {
      env,
      encoding: "utf8",
    });
    expect(real.status).not.toBe(0);
    expect(real.stderr).toMatch(/read-only access|pre-receive hook declined/);
  });

  it(
    "a commit pushed to the Git server that changes manifests/ reaches the cluster without pulumi up",
    async () => {
      const work = tempDir("clone");
      const address = fs.readFileSync(path.join(cluster.gitDir, "address"), "utf8").trim();
      const env = maintainerGitEnv(path.dirname(cluster.gitDir));
      const git = (...args: string[]) => execFileSync("git", ["-C", work, ...args], { env, encoding: "utf8" });
      execFileSync("git", ["clone", "--quiet", `ssh://git@${address}/cartorio-digital/infraestrutura`, work], { env });
      const file = path.join(work, "manifests/cartorio-api/deployment.yaml");
      fs.writeFileSync(
        file,
        fs
          .readFileSync(file, "utf8")
          .replace(/^(metadata:\n(?:.*\n)*?\s+labels:\n)/m, "$1    cartorio.digital/release: teste-gitops\n"),
      );
      git(
        "-c",
        "user.name=Equipe",
        "-c",
        "user.email=equipe@cartorio.example",
        "commit",
        "-qam",
        "Label the API for the GitOps test",
      );
      git("push", "--quiet", "origin", "HEAD:main");
      const pushed = git("rev-parse", "HEAD").trim();
      reconcileNow();
      const label = await eventually("the new label on Deployment cartorio-api", 180, () => {
        const dep = JSON.parse(
          cluster.kubectlOk(["get", "deployment", "cartorio-api", "-n", "cartorio", "-o", "json"]),
        );
        return dep.metadata.labels["cartorio.digital/release"];
      });
      expect(label).toBe("teste-gitops");
      const repo = json(["get", "gitrepository", "flux-system", "-n", "flux-system"]);
      expect(repo.status.artifact.revision).toBe(`main@sha1:${pushed}`);
      // Back to this checkout, so later tests sync what the stack was planned for.
      head = cluster.publish();
      reconcileNow();
    },
    ENGINE_TIMEOUT,
  );

  it(
    "with signed history on, the real source-controller applies only commits signed by a maintainer key (OpenPGP or SSH)",
    async () => {
      // Maintainers' keys made for this test: an OpenPGP key (gpg) and an SSH signing key; one outsider key.
      const keysDir = tempDir("maintainers");
      const gnupg = tempDir("gnupg");
      fs.chmodSync(gnupg, 0o700);
      const gpgEnv = { ...process.env, GNUPGHOME: gnupg };
      const gpg = (...args: string[]) => execFileSync("gpg", ["--batch", ...args], { env: gpgEnv, encoding: "utf8" });
      gpg(
        "--passphrase",
        "",
        "--quick-gen-key",
        "Mantenedora <mantenedora@cartorio.example>",
        "ed25519",
        "sign",
        "never",
      );
      const fpr = gpg("--with-colons", "--list-secret-keys").match(/^fpr:+([0-9A-F]{40}):/m)![1];
      fs.writeFileSync(path.join(keysDir, "mantenedora.asc"), gpg("--armor", "--export", fpr));
      const sshKeys = tempDir("ssh-signing");
      for (const who of ["mantenedor", "intruso"])
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", who, "-f", path.join(sshKeys, who)]);
      fs.copyFileSync(path.join(sshKeys, "mantenedor.pub"), path.join(keysDir, "mantenedor.sshpub"));

      const work = tempDir("signed-clone");
      const address = fs.readFileSync(path.join(cluster.gitDir, "address"), "utf8").trim();
      const env = { ...maintainerGitEnv(path.dirname(cluster.gitDir)), GNUPGHOME: gnupg };
      const git = (...args: string[]) => execFileSync("git", ["-C", work, ...args], { env, encoding: "utf8" });
      execFileSync("git", ["clone", "--quiet", `ssh://git@${address}/cartorio-digital/infraestrutura`, work], { env });
      const deployment = path.join(work, "manifests/cartorio-api/deployment.yaml");
      /** Commits a new value of label cartorio.digital/release, signed as `sign` says, and pushes it. */
      const pushRelease = (release: string, sign: string[]) => {
        setDeploymentLabel(deployment, "cartorio.digital/release", release);
        git("-c", "user.name=Equipe", "-c", "user.email=equipe@cartorio.example", ...sign, "commit", "-qam", release);
        git("push", "--quiet", "origin", "HEAD:main");
        return git("rev-parse", "HEAD").trim();
      };
      const byPgp = ["-c", `user.signingkey=${fpr}`, "-c", "commit.gpgsign=true"];
      const bySsh = (who: string) => [
        "-c",
        "gpg.format=ssh",
        "-c",
        `user.signingkey=${path.join(sshKeys, who)}`,
        "-c",
        "commit.gpgsign=true",
      ];
      const repo = () => json(["get", "gitrepository", "flux-system", "-n", "flux-system"]);
      const condition = (type: string) =>
        (repo().status?.conditions ?? []).find((c: { type: string }) => c.type === type) as
          | { status: string; reason: string; message: string }
          | undefined;
      const release = () =>
        json(["get", "deployment", "cartorio-api", "-n", "cartorio"]).metadata.labels["cartorio.digital/release"];

      const signed = pushRelease("assinada-pgp", byPgp);
      const on = await (
        await setConfig((cfg) => {
          Object.assign(cfg["cartorio-plataforma:gitops"], { requireSignedCommits: true, maintainerKeys: keysDir });
        })
      ).up({ onOutput: collect, policyPacks: pack() });
      expect(on.outputs.gitops.value.syncedRevision).toBe(`main@sha1:${signed}`);
      expect(on.outputs.gitops.value.maintainerKeyFingerprints).toContain(fpr);
      expect(repo().spec.verify).toEqual({ mode: "HEAD", secretRef: { name: "maintainer-keys" } });
      expect(condition("SourceVerified")).toMatchObject({ status: "True" });
      expect(condition("SourceVerified")!.message).toContain(signed);
      await eventually("the signed release label on cartorio-api", 180, () =>
        release() === "assinada-pgp" ? true : undefined,
      );

      // Unsigned, and signed by a key that is not a maintainer's: fetched, refused, never applied.
      for (const [name, sign] of [
        ["sem-assinatura", []],
        ["assinada-intruso", bySsh("intruso")],
      ] as const) {
        const refused = pushRelease(name, [...sign]);
        reconcileNow();
        const verdict = await eventually(`source-controller refusing ${name} (${refused})`, 120, () => {
          const c = condition("SourceVerified");
          return c?.status === "False" && c.message.includes(refused) ? c : undefined;
        });
        expect(verdict.reason).toBe("InvalidCommitSignature");
        expect(repo().status.artifact.revision).toBe(`main@sha1:${signed}`);
        expect(condition("Ready")?.status).toBe("False");
      }
      await sleep(5000);
      expect(release()).toBe("assinada-pgp");

      // A maintainer's SSH signature is as good as an OpenPGP one.
      const bySshKey = pushRelease("assinada-ssh", bySsh("mantenedor"));
      reconcileNow();
      await eventually("the SSH-signed commit applied", 180, () =>
        repo().status?.artifact?.revision === `main@sha1:${bySshKey}` && release() === "assinada-ssh"
          ? true
          : undefined,
      );
      expect(condition("SourceVerified")).toMatchObject({ status: "True" });

      // Back to this checkout (unsigned) and the local stack's own settings.
      head = cluster.publish();
      const off = await (
        await setConfig((cfg) => {
          const g = cfg["cartorio-plataforma:gitops"] as Record<string, unknown>;
          delete g.requireSignedCommits;
          delete g.maintainerKeys;
        })
      ).up({ onOutput: collect, policyPacks: pack() });
      expect(off.outputs.gitops.value.syncedRevision).toBe(`main@sha1:${head}`);
      expect(repo().spec.verify).toBeUndefined();
    },
    ENGINE_TIMEOUT,
  );

  it(
    "raising the pinned Flux version upgrades in place: no object replaced or deleted, the sync objects kept",
    async () => {
      const previous = versions.FLUX_PREVIOUS_VERSION;
      const uid = () => json(["get", "gitrepository", "flux-system", "-n", "flux-system"]).metadata.uid;
      const before = uid();
      const at = (v: string) =>
        setConfig((cfg) => {
          const g = cfg["cartorio-plataforma:gitops"] as { flux: Record<string, unknown> };
          g.flux.version = v;
        });
      const down = await (await at(previous)).up({ onOutput: collect, policyPacks: pack() });
      expect(
        json(["get", "crd", "gitrepositories.source.toolkit.fluxcd.io"]).metadata.labels["app.kubernetes.io/version"],
      ).toBe(previous);
      const upgrade = await (await at(versions.FLUX_VERSION)).up({ onOutput: collect, policyPacks: pack() });
      for (const r of [down, upgrade]) {
        const changes = r.summary.resourceChanges ?? {};
        expect(changes.replace ?? 0).toBe(0);
        expect(changes.delete ?? 0).toBe(0);
        expect(changes.create ?? 0).toBe(0);
        expect(changes.update ?? 0).toBeGreaterThan(0);
      }
      expect(
        json(["get", "crd", "gitrepositories.source.toolkit.fluxcd.io"]).metadata.labels["app.kubernetes.io/version"],
      ).toBe(versions.FLUX_VERSION);
      expect(
        json(["get", "deployment", "kustomize-controller", "-n", "flux-system"]).spec.template.spec.containers[0].image,
      ).toBe(`ghcr.io/fluxcd/kustomize-controller:${controllerVersion(versions.FLUX_VERSION, "kustomize-controller")}`);
      expect(uid()).toBe(before);
      expect(upgrade.outputs.gitops.value.syncedRevision).toBe(`main@sha1:${head}`);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "features.gitops: false removes Flux's objects from the stack and prunes nothing Flux applied; turning it on again converges",
    async () => {
      const off = await (
        await setConfig((cfg) => {
          cfg["cartorio-plataforma:features"].gitops = false;
        })
      ).up({ onOutput: collect, policyPacks: pack() });
      expect(off.summary.result).toBe("succeeded");
      expect(cluster.kubectl(["get", "kustomization", "flux-system", "-n", "flux-system"]).status).not.toBe(0);
      // Give the controllers time to do damage, if they were going to.
      await sleep(5000);
      cluster.kubectlOk(["get", "deployment", "cartorio-api", "-n", "cartorio"]);
      cluster.kubectlOk(["get", "crd", "kustomizations.kustomize.toolkit.fluxcd.io"]);
      cluster.kubectlOk(["get", "namespace", "flux-system"]);
      const on = await (
        await setConfig((cfg) => {
          cfg["cartorio-plataforma:features"].gitops = true;
        })
      ).up({ onOutput: collect, policyPacks: pack() });
      expect(on.outputs.gitops.value.syncedRevision).toBe(`main@sha1:${head}`);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "a producao-shaped preview (cluster mode, embedded source, producao's controllers, sync from github.com) passes the policy pack",
    async () => {
      let saved: Record<string, unknown> = {};
      const stack = await setConfig((cfg) => {
        saved = structuredClone(cfg["cartorio-plataforma:gitops"]);
        // producao's GitOps settings, as Pulumi.producao.yaml leaves them to the defaults, with signed
        // history verified against the test maintainers' keys (producao's own folder is empty until the
        // security team commits the real ones).
        cfg["cartorio-plataforma:gitops"] = {
          flux: { source: "embedded" },
          requireSignedCommits: true,
          maintainerKeys: path.join(PROJECT_ROOT, "test/fixtures/maintainers"),
        };
      });
      try {
        const preview = await stack.preview({ onOutput: collect, policyPacks: pack() });
        expect(preview.stdout).not.toMatch(/mandatory/);
        expect(preview.stdout).toMatch(/Policies:\s+✅ cartorio-plataforma@/);
        expect(preview.stdout).toMatch(/helm-controller/);
        // Without signed history, the pack stops the same preview: a sync from github.com must verify.
        const unverified = await setConfig((cfg) => {
          cfg["cartorio-plataforma:gitops"] = { flux: { source: "embedded" } };
        });
        const refused = await unverified.preview({ onOutput: collect, policyPacks: pack() }).then(
          () => "",
          (e: Error) => e.message,
        );
        expect(refused).toMatch(/CART-GIT-001: GitRepository flux-system\/flux-system: spec\.verify is not set/);
        expect(refused).toMatch(/mandatory/);
      } finally {
        await setConfig((cfg) => {
          cfg["cartorio-plataforma:gitops"] = saved;
        });
      }
    },
    ENGINE_TIMEOUT,
  );

  it(
    "destroy never prunes what Flux applied: cartorio-api, Flux's CRDs and namespace flux-system stay",
    async () => {
      const stack = await project.stack("local");
      await stack.destroy({ onOutput: collect });
      await sleep(5000);
      cluster.kubectlOk(["get", "deployment", "cartorio-api", "-n", "cartorio"]);
      cluster.kubectlOk(["get", "crd", "gitrepositories.source.toolkit.fluxcd.io"]);
      cluster.kubectlOk(["get", "namespace", "flux-system"]);
      expect(cluster.kubectl(["get", "gitrepository", "flux-system", "-n", "flux-system"]).status).not.toBe(0);
      // The deploy key is no longer authorized on the Git server.
      expect(fs.readFileSync(path.join(cluster.gitDir, "access"), "utf8")).not.toMatch(/^read /m);
    },
    ENGINE_TIMEOUT,
  );
});
