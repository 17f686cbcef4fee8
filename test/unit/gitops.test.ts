/** GitOps components under mocks: every resource and the properties that matter. */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import ignore from "ignore";
import { stringify } from "yaml";
import { gitopsSchema } from "../../components/config/schema";
import { codeowners, deployKeyTitle, installManifestUrl, syncUrl } from "../../components/gitops/flux";
import { embeddedDir, embeddedManifest } from "../../components/gitops/embedded";
import { ALL_CONTROLLERS, filterInstallManifest, parseObjects, verifySha256 } from "../../components/gitops/install";
import { fingerprintOf, generateDeployKey } from "../../components/gitops/keygen";
import { MAINTAINER_KEYS_SECRET, readMaintainerKeys } from "../../components/gitops/signing";
import * as openpgp from "openpgp";
import { recordResources, Registered, settle } from "../helpers/mocks";
import { githubRequests } from "../../components/gitops/github-objects";
import { tempDir } from "../helpers/tools";

let registered: Registered[] = [];
const find = (type: string) => registered.filter((r) => r.type === type);

const INSTALL = ALL_CONTROLLERS.filter((c) => c !== "source-watcher")
  .map(
    (c) => `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${c}, namespace: flux-system, labels: {app.kubernetes.io/component: ${c}}}
spec: {template: {spec: {containers: [{name: manager, image: ghcr.io/fluxcd/${c}:v1, args: [--watch-all-namespaces=true, "--events-addr=http://notification-controller.flux-system.svc.cluster.local./"]}]}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${c}, namespace: flux-system, labels: {app.kubernetes.io/component: ${c}}}
`,
  )
  .join("").concat(`---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress, namespace: flux-system}
spec: {podSelector: {}, policyTypes: [Ingress, Egress], egress: [{}]}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gitrepositories.source.toolkit.fluxcd.io, labels: {app.kubernetes.io/component: source-controller}}
spec: {group: source.toolkit.fluxcd.io, names: {kind: GitRepository, plural: gitrepositories}, scope: Namespaced, versions: []}
`);

const gitops = gitopsSchema.parse({ knownTeams: [], automation: { actorType: "Integration", actorId: 314159 } });

describe("GitOps components under mocks", () => {
  beforeAll(async () => {
    registered = await recordResources("producao", {
      state: (r) =>
        r.type === "pulumi-nodejs:dynamic/cartorio:DeployKeyPair"
          ? { ...generateDeployKey("ecdsa-p384", r.inputs.comment) }
          : undefined,
      calls: {
        "github:index/getTeam:getTeam": (i) => ({ id: i.slug === "time-seguranca" ? "5151" : "4242", slug: i.slug }),
        "github:index/getRepository:getRepository": (i) => ({ repoId: 777, name: i.name }),
      },
    });
    const { FluxBootstrap, RepositoryHardening } = await import("../../components/gitops");
    const flux = new FluxBootstrap("flux", { gitops, renderOnly: false, installManifest: INSTALL });
    new RepositoryHardening("repository", { gitops, deployKeyPublic: flux.deployKeyPublic });
    await settle();
  });

  it("GitRepository flux-system with the CLI's URL form, branch, interval and secret", () => {
    const [repo] = find("kubernetes:source.toolkit.fluxcd.io/v1:GitRepository");
    expect(repo.inputs.metadata).toMatchObject({ name: "flux-system", namespace: "flux-system" });
    expect(repo.inputs.spec).toEqual({
      interval: "1m",
      ref: { branch: "main" },
      secretRef: { name: "flux-system" },
      url: "ssh://git@github.com/cartorio-digital/infraestrutura",
    });
  });

  it("Kustomization flux-system with the path, interval and prune, orphaning what it applied when deleted", () => {
    const [ks] = find("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization");
    expect(ks.inputs.metadata).toMatchObject({ name: "flux-system", namespace: "flux-system" });
    expect(ks.inputs.spec).toEqual({
      interval: "10m",
      path: "./clusters/producao",
      prune: true,
      deletionPolicy: "Orphan",
      sourceRef: { kind: "GitRepository", name: "flux-system" },
    });
  });

  it("the source Secret holds identity, identity.pub and the pinned known_hosts", () => {
    const [secret] = find("kubernetes:core/v1:Secret");
    expect(secret.inputs.metadata).toMatchObject({ name: "flux-system", namespace: "flux-system" });
    // The engine receives stringData as a secret: the private key makes the whole map secret.
    const SECRET_SIG = "4dabf18193072939515e22adb298388d";
    expect(secret.inputs.stringData[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
    const data = secret.inputs.stringData.value;
    expect(Object.keys(data).sort()).toEqual(["identity", "identity.pub", "known_hosts"]);
    expect(data.identity).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(data.known_hosts).toMatch(/^github\.com ssh-ed25519 AAAA/);
    expect(data["identity.pub"]).toMatch(/^ecdsa-sha2-nistp384 /);
  });

  it("the controllers come from the release manifest, filtered to the chosen components", () => {
    const [group] = find("kubernetes:yaml/v2:ConfigGroup");
    const deployments = (group.inputs.objs as { kind: string; metadata: { name: string } }[])
      .filter((o) => o.kind === "Deployment")
      .map((o) => o.metadata.name);
    expect(deployments).toEqual(["source-controller", "kustomize-controller", "helm-controller"]);
  });

  it("Flux's objects carry the platform's labels, and its CRDs are resources of their own kept on delete", () => {
    const [group] = find("kubernetes:yaml/v2:ConfigGroup");
    for (const o of group.inputs.objs as { metadata: { labels: Record<string, string> } }[]) {
      expect(o.metadata.labels).toMatchObject({
        "cartorio.digital/owner": "time-infraestrutura",
        "cartorio.digital/data-classification": "interno",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/version": "v2.9.5",
      });
    }
    const crds = find("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition");
    // (Kept on delete: the engine's lifecycle test destroys the stack and finds them.)
    expect(crds.map((c) => c.name)).toEqual(["flux-crd-gitrepositories.source.toolkit.fluxcd.io"]);
  });

  it("a read-only deploy key titled as the CLI titles it", () => {
    const [key] = find("github:index/repositoryDeployKey:RepositoryDeployKey");
    expect(key.inputs).toMatchObject({
      repository: "infraestrutura",
      title: "flux-system-main-flux-system-./clusters/producao",
      readOnly: true,
    });
    expect(key.inputs.key).toMatch(/^ecdsa-sha2-nistp384 /);
  });

  it("a ruleset on main: code-owner review, the PR checks, no force push, no deletion", () => {
    const rs = find("github:index/repositoryRuleset:RepositoryRuleset").find((r) => r.inputs.name === "protect-main")!;
    expect(rs.inputs).toMatchObject({
      target: "branch",
      enforcement: "active",
      conditions: { refName: { includes: ["refs/heads/main"] } },
    });
    expect(rs.inputs.rules).toMatchObject({
      deletion: true,
      nonFastForward: true,
      pullRequest: { requireCodeOwnerReview: true, requiredApprovingReviewCount: 1 },
    });
    // The deploy identity may bypass the PR rule: the provider commits CODEOWNERS straight to main. Break glass:
    // the security team may merge a PR whose checks fail, through the PR only, so it stays on record.
    expect(rs.inputs.bypassActors).toEqual([
      { actorId: 314159, actorType: "Integration", bypassMode: "always" },
      { actorId: 5151, actorType: "Team", bypassMode: "pull_request" },
    ]);
    // CODEOWNERS is committed after the ruleset exists, which lets the deploy identity through.
    const order = registered.map((r) => r.type);
    expect(order.indexOf("github:index/repositoryFile:RepositoryFile")).toBeGreaterThan(
      order.indexOf("github:index/repositoryRuleset:RepositoryRuleset"),
    );
    expect(rs.inputs.rules.requiredStatusChecks.requiredChecks.map((c: { context: string }) => c.context)).toEqual([
      "typecheck",
      "lint",
      "test",
      "conftest",
      "preview",
    ]);
  });

  it("runner groups: the HSM deploy runner only for deploy.yml as committed on main, the preview runner only for pr.yml; this repository only", () => {
    const groups = Object.fromEntries(
      find("github:index/actionsRunnerGroup:ActionsRunnerGroup").map((g) => [g.inputs.name, g.inputs]),
    );
    expect(groups["cartorio-hsm"]).toEqual({
      name: "cartorio-hsm",
      visibility: "selected",
      selectedRepositoryIds: [777],
      allowsPublicRepositories: false,
      restrictedToWorkflows: true,
      // A PR's own copy of a workflow runs at refs/pull/N/merge: it can name the label, never get this runner.
      selectedWorkflows: ["cartorio-digital/infraestrutura/.github/workflows/deploy.yml@refs/heads/main"],
    });
    expect(groups["cartorio-hsm-preview"]).toMatchObject({
      restrictedToWorkflows: true,
      selectedWorkflows: ["cartorio-digital/infraestrutura/.github/workflows/pr.yml@*"],
    });
  });

  it("the environment and the deploy key are kept on destroy and feature toggles; rulesets, groups and CODEOWNERS are not", () => {
    const kept = githubRequests(gitops, "ssh-ed25519 AAAA")
      .filter((r) => r.retain)
      .map((r) => r.type);
    expect(kept.sort()).toEqual(["RepositoryDeployKey", "RepositoryEnvironment"]);
  });

  it("a ruleset on evidencias: append-only, the deploy identity alone may push, deletion and rewrites refused with no bypass", () => {
    const rs = find("github:index/repositoryRuleset:RepositoryRuleset").find(
      (r) => r.inputs.name === "append-only-evidencias",
    )!;
    expect(rs.inputs).toMatchObject({
      target: "branch",
      enforcement: "active",
      conditions: { refName: { includes: ["refs/heads/evidencias"] } },
      rules: { creation: true, update: true, deletion: true, nonFastForward: true },
    });
    // Bypass lets the deploy identity create and update the branch; deletion and non-fast-forward still
    // need a bypass actor, and the only one is that identity (no admin role, no team).
    expect(rs.inputs.bypassActors).toEqual([{ actorId: 314159, actorType: "Integration", bypassMode: "always" }]);
  });

  it("CODEOWNERS: security owns the rules, the pack's logic, key handling, the inventories, the evidence trust anchor and its verification, and .github/", () => {
    const [file] = find("github:index/repositoryFile:RepositoryFile");
    expect(file.inputs).toMatchObject({ file: ".github/CODEOWNERS", branch: "main" });
    const owner = ownerOf(file.inputs.content as string);
    const sec = "@cartorio-digital/time-seguranca";
    const infra = "@cartorio-digital/time-infraestrutura";
    expect(owner("manifests/cartorio-api/deployment.yaml")).toBe("@cartorio-digital/time-aplicacao");
    for (const f of [
      "policies/kms.rego",
      "policies/catalogue.yaml",
      "policypack/index.ts",
      "policypack/PulumiPolicy.yaml",
      "components/policy/rules.ts",
      "components/keys/hsm.ts",
      "components/keys/providers.ts",
      "configs/kms/producao.yaml",
      "configs/gitops/maintainers/mantenedora.asc",
      "configs/evidencias/producao.yaml",
      "components/evidence/verify.ts",
      ".github/workflows/pr.yml",
      ".github/CODEOWNERS",
    ])
      expect(owner(f), f).toBe(sec);
    for (const f of ["components/gitops/index.ts", "components/scaling/objects.ts", "clusters/producao/apps.yaml"])
      expect(owner(f), f).toBe(infra);
    expect(owner("Pulumi.producao.yaml")).toBe(infra);
    expect(owner("README.md")).toBe(infra);
  });

  it("CODEOWNERS points each team at its areas' pages under docs/", () => {
    const [file] = find("github:index/repositoryFile:RepositoryFile");
    const content = file.inputs.content as string;
    for (const page of ["cluster", "gitops", "scaling", "engine", "production", "policy", "keys", "evidence"]) {
      expect(fs.existsSync(path.join(__dirname, `../../docs/${page}.md`)), page).toBe(true);
      expect(content).toContain(`docs/${page}.md`);
    }
  });

  it("the producao environment needs a reviewer from the configured team", () => {
    const [env] = find("github:index/repositoryEnvironment:RepositoryEnvironment");
    expect(env.inputs).toMatchObject({
      environment: "producao",
      preventSelfReview: true,
      reviewers: [{ teams: [4242] }],
    });
  });
});

/** Who owns a path under a CODEOWNERS text: gitignore-style patterns, the last match wins (GitHub's rule). */
function ownerOf(text: string): (file: string) => string | undefined {
  const rules = text
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) => l.trim().split(/\s+/))
    .map(([pattern, ...owners]) => ({ match: ignore().add(pattern), owners: owners.join(" ") }));
  return (file) => rules.filter((r) => r.match.ignores(file)).at(-1)?.owners;
}

describe("Flux decisions", () => {
  it("name things as flux bootstrap github does", () => {
    expect(syncUrl(gitops)).toBe("ssh://git@github.com/cartorio-digital/infraestrutura");
    expect(deployKeyTitle(gitops)).toBe("flux-system-main-flux-system-./clusters/producao");
    expect(installManifestUrl({ ...gitops.flux, source: "upstream" })).toBe(
      "https://github.com/fluxcd/flux2/releases/download/v2.9.5/install.yaml",
    );
    expect(
      installManifestUrl({
        ...gitops.flux,
        source: "mirror",
        mirrorUrl: "https://espelho.cartorio.example/flux/install.yaml",
      }),
    ).toBe("https://espelho.cartorio.example/flux/install.yaml");
    expect(installManifestUrl({ ...gitops.flux, source: "preinstalled" })).toBeUndefined();
  });

  it("filters extras, network policies and adds tolerations on request", () => {
    const docs = filterInstallManifest(INSTALL, {
      ...gitops.flux,
      componentsExtra: ["image-reflector-controller"],
      networkPolicy: false,
      tolerationKeys: ["dedicado"],
    });
    const names = docs.filter((d) => d.kind === "Deployment").map((d) => d.metadata!.name);
    expect(names).toContain("image-reflector-controller");
    expect(names).not.toContain("image-automation-controller");
    expect(docs.some((d) => d.kind === "NetworkPolicy")).toBe(false);
    // The chosen controllers' CRDs stay; an unchosen controller's go with it, as `flux install --components` does.
    expect(docs.some((d) => d.kind === "CustomResourceDefinition")).toBe(true);
    const withoutSource = filterInstallManifest(INSTALL, { ...gitops.flux, components: ["kustomize-controller"] });
    expect(withoutSource.some((d) => d.kind === "CustomResourceDefinition")).toBe(false);
    const dep = docs.find((d) => d.kind === "Deployment") as { spec: { template: { spec: { tolerations: unknown } } } };
    expect(dep.spec.template.spec.tolerations).toEqual([{ key: "dedicado", operator: "Exists" }]);
  });

  it("sends events to notification-controller only when it is installed (#29: no --events-addr to nothing)", () => {
    const args = (docs: ReturnType<typeof filterInstallManifest>) =>
      docs
        .filter((d) => d.kind === "Deployment")
        .flatMap(
          (d) => (d.spec as { template: { spec: { containers: { args?: string[] }[] } } }).template.spec.containers,
        )
        .flatMap((c) => c.args ?? []);
    const without = args(
      filterInstallManifest(INSTALL, { ...gitops.flux, components: ["source-controller", "kustomize-controller"] }),
    );
    expect(without).toContain("--watch-all-namespaces=true");
    expect(without.filter((a) => a.startsWith("--events-addr="))).toEqual([]);
    const withNotifications = args(
      filterInstallManifest(INSTALL, {
        ...gitops.flux,
        components: ["source-controller", "kustomize-controller", "notification-controller"],
      }),
    );
    expect(withNotifications.filter((a) => a.startsWith("--events-addr="))).toHaveLength(3);
  });

  it("generates ECDSA P-384 and ed25519 deploy keys with matching fingerprints", () => {
    for (const alg of ["ecdsa-p384", "ed25519"] as const) {
      const k = generateDeployKey(alg, "t");
      expect(k.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
      expect(fingerprintOf(k.publicKey)).toBe(k.fingerprint);
      expect(k.publicKey.startsWith(alg === "ed25519" ? "ssh-ed25519 " : "ecdsa-sha2-nistp384 ")).toBe(true);
    }
  });

  it("CODEOWNERS names the organisation's teams", () => {
    expect(codeowners({ ...gitops, teams: { ...gitops.teams, security: "sec" } })).toContain(
      "/policies/            @cartorio-digital/sec",
    );
  });
});

const FIXTURE_KEYS = path.resolve(__dirname, "../fixtures/maintainers");
// Fixed clocks: the fixture keys were made on 2026-11-29 and never expire.
const LATER = new Date("2031-06-01T00:00:00Z");

describe("signed history: the maintainers' keys Flux verifies commits against", () => {
  const problems = async (dir: string, at = LATER) =>
    readMaintainerKeys(dir, "cartorio-plataforma:gitops.maintainerKeys", at).then(
      () => "",
      (e: Error) => e.message,
    );
  const folder = (files: Record<string, string>) => {
    const dir = tempDir("maintainers");
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
    return dir;
  };

  it("reads OpenPGP (.asc) and SSH (.sshpub) public keys with their fingerprints; README.md is documentation", async () => {
    const keys = await readMaintainerKeys(FIXTURE_KEYS, "k", LATER);
    expect(keys.map((k) => [k.file, k.format])).toEqual([
      ["mantenedor.sshpub", "ssh"],
      ["mantenedora.asc", "openpgp"],
    ]);
    expect(keys[0].fingerprints[0]).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(keys[1].fingerprints[0]).toMatch(/^[0-9A-F]{40}$/);
  });

  it("an empty folder stops the run, naming the key and the fix (Flux would refuse every commit)", async () => {
    const msg = await problems(path.resolve(__dirname, "../../configs/gitops/maintainers"));
    expect(msg).toContain("cartorio-plataforma:gitops.maintainerKeys");
    expect(msg).toContain("holds no maintainer key");
    expect(msg).toContain("gpg --armor --export");
  });

  it("refuses a private key without echoing it, unknown files and unreadable keys, all at once", async () => {
    const { privateKey } = await openpgp.generateKey({
      userIDs: [{ name: "Vazada", email: "vazada@cartorio.example" }],
      type: "curve25519",
      format: "armored",
    });
    const msg = await problems(
      folder({
        "vazada.asc": privateKey,
        "notas.txt": "x",
        "ruim.asc": "not a key",
        "ruim.sshpub": "ssh-ed25519 AAAA",
        "id_ed25519.pub": "ssh-ed25519 AAAA",
      }),
    );
    expect(msg).toContain("vazada.asc holds a PRIVATE key");
    expect(msg).not.toContain(privateKey.split("\n")[2]);
    expect(msg).toContain("notas.txt: unexpected file");
    expect(msg).toContain("id_ed25519.pub: unexpected file");
    expect(msg).toMatch(/ruim\.asc is not an armored OpenPGP public key/);
    expect(msg).toMatch(/ruim\.sshpub line 1 is not an SSH public key/);
  });

  it("an OpenPGP key that has expired by the given date cannot sign: refused (the clock is injected)", async () => {
    const made = new Date("2026-01-01T00:00:00Z");
    const { publicKey } = await openpgp.generateKey({
      userIDs: [{ name: "Antiga", email: "antiga@cartorio.example" }],
      type: "curve25519",
      date: made,
      keyExpirationTime: 365 * 24 * 3600,
      format: "armored",
    });
    const dir = folder({ "antiga.asc": publicKey });
    expect(await problems(dir, new Date("2026-06-01T00:00:00Z"))).toBe("");
    expect(await problems(dir, new Date("2027-06-01T00:00:00Z"))).toMatch(
      /antiga\.asc: key [0-9A-F]{40} cannot sign on 2027-06-01/,
    );
  });

  it("FluxBootstrap with signed history: Secret maintainer-keys holds the keys and the GitRepository verifies HEAD", async () => {
    const keys = await readMaintainerKeys(FIXTURE_KEYS, "k", LATER);
    const signed = { ...gitops, requireSignedCommits: true };
    const seen = await recordResources("producao");
    const { FluxBootstrap } = await import("../../components/gitops");
    new FluxBootstrap("signed", { gitops: signed, renderOnly: false, installManifest: INSTALL, maintainerKeys: keys });
    await settle();
    const secret = seen.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name === "signed-maintainer-keys")!;
    expect(secret.inputs.metadata).toMatchObject({ name: MAINTAINER_KEYS_SECRET, namespace: "flux-system" });
    const data = secret.inputs.stringData.value ?? secret.inputs.stringData;
    expect(Object.keys(data).sort()).toEqual(["mantenedor.sshpub", "mantenedora.asc"]);
    const repo = seen.find((r) => r.type === "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository")!;
    expect(repo.inputs.spec).toMatchObject({ verify: { mode: "HEAD", secretRef: { name: MAINTAINER_KEYS_SECRET } } });
    expect(() => new FluxBootstrap("sem", { gitops: signed, renderOnly: false, installManifest: INSTALL })).toThrow(
      /requireSignedCommits is on but no maintainer key/,
    );
  });
});

describe("the embedded Flux source", () => {
  /** A collected release as scripts/toolchain/flux/collect.sh lays it out, small. */
  function fakeRelease(components: Record<string, { collected: boolean; reason?: string }>): string {
    const cache = tempDir("flux");
    const dir = path.join(cache, "flux", "v9.9.9");
    const label = (file: string, labels: Record<string, string>) => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, stringify({ apiVersion: "builtin", kind: "LabelTransformer", labels }));
    };
    label(path.join(dir, "flux2/install/labels.yaml"), { "app.kubernetes.io/part-of": "flux" });
    const entries: Record<string, object> = {};
    for (const [c, v] of Object.entries(components)) {
      entries[c] = { version: "v1.0.0", module: `github.com/fluxcd/${c}`, ...v };
      label(path.join(dir, "flux2/bases", c, "labels.yaml"), { "app.kubernetes.io/component": c });
      if (!v.collected) continue;
      const crd = path.join(dir, c, "config/crd");
      fs.mkdirSync(path.join(crd, "bases"), { recursive: true });
      fs.writeFileSync(path.join(crd, "kustomization.yaml"), stringify({ resources: [`bases/${c}.yaml`] }));
      fs.writeFileSync(
        path.join(crd, "bases", `${c}.yaml`),
        `---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: things.${c}\n`,
      );
    }
    fs.writeFileSync(path.join(dir, "components.json"), JSON.stringify({ release: "v9.9.9", components: entries }));
    fs.writeFileSync(path.join(dir, ".complete"), "");
    fs.writeFileSync(path.join(dir, "install.yaml"), "# assembled\n" + INSTALL);
    return cache;
  }
  const flux = (components: string[]) =>
    gitopsSchema.parse({ flux: { version: "v9.9.9", source: "embedded", components } }).flux;

  it("yields the install.yaml the toolchain assembled for the release", () => {
    const cache = fakeRelease({
      "source-controller": { collected: true },
      "kustomize-controller": { collected: true },
    });
    expect(embeddedManifest(flux(["source-controller"]), { CARTORIO_TOOLCHAIN_CACHE: cache })).toBe(
      "# assembled\n" + INSTALL,
    );
  });

  it("refuses a controller whose module was not collected, saying why and what to do", () => {
    const cache = fakeRelease({
      "source-controller": { collected: true },
      "notification-controller": { collected: false, reason: "this module version is not available" },
    });
    expect(() =>
      embeddedManifest(flux(["source-controller", "notification-controller"]), { CARTORIO_TOOLCHAIN_CACHE: cache }),
    ).toThrow(
      /gitops\.flux\.components\/componentsExtra: .*notification-controller v1\.0\.0 \(this module version is not available\)\. Remove it from the list, or use source upstream or mirror/,
    );
  });

  it("names the missing release, the version the toolchain collects and the command", () => {
    expect(() =>
      embeddedManifest(flux(["source-controller"]), {
        CARTORIO_TOOLCHAIN_CACHE: tempDir("no-flux"),
      }),
    ).toThrow(/gitops\.flux\.version v9\.9\.9 with gitops\.flux\.source embedded: .*run scripts\/toolchain\/build\.sh/);
  });

  it("the install manifest's own Namespace is dropped: FluxBootstrap owns flux-system", () => {
    const docs = filterInstallManifest(
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n---\n" + INSTALL,
      gitops.flux,
    );
    expect(docs.some((d) => d.kind === "Namespace")).toBe(false);
  });
});

describe("the embedded release the toolchain assembled (the install source of the local stack and producao)", () => {
  // The default version, assembled by scripts/toolchain/build.sh (npm test builds it first).
  const version = gitopsSchema.parse({}).flux.version;
  const dir = embeddedDir(version);
  const components = JSON.parse(fs.readFileSync(path.join(dir, "components.json"), "utf8")).components as Record<
    string,
    { version: string; collected: boolean }
  >;
  const docs = parseObjects<{
    kind: string;
    metadata: { name: string; labels?: Record<string, string> };
    spec?: { template?: { spec: { containers: { image: string; args: string[] }[] } } };
  }>(fs.readFileSync(path.join(dir, "install.yaml"), "utf8"), "install.yaml");
  const names = (kind: string) => docs.filter((d) => d.kind === kind).map((d) => d.metadata.name);

  it("holds, per served controller, every CRD of its module and its Deployment at the version the release names", () => {
    const served = Object.entries(components).filter(([, c]) => c.collected);
    expect(served.map(([c]) => c).sort()).toEqual(["helm-controller", "kustomize-controller", "source-controller"]);
    for (const [c, { version: v }] of served) {
      for (const f of fs.readdirSync(path.join(dir, c, "config/crd/bases"))) {
        const crd = parseObjects<{ kind: string; metadata: { name: string } }>(
          fs.readFileSync(path.join(dir, c, "config/crd/bases", f), "utf8"),
          f,
        )[0];
        expect(names("CustomResourceDefinition"), `${c} ${f}`).toContain(crd.metadata.name);
      }
      const dep = docs.find((d) => d.kind === "Deployment" && d.metadata.name === c)!;
      expect(dep.spec!.template!.spec.containers[0].image).toBe(`ghcr.io/fluxcd/${c}:${v}`);
      // flux2's base patch for the release: the controller watches every namespace, logs JSON.
      expect(dep.spec!.template!.spec.containers[0].args).toEqual(
        expect.arrayContaining(["--watch-all-namespaces", "--log-encoding=json"]),
      );
      expect(dep.metadata.labels).toMatchObject({
        "app.kubernetes.io/part-of": "flux",
        "app.kubernetes.io/component": c,
      });
    }
    for (const [c] of Object.entries(components).filter(([, x]) => !x.collected))
      expect(names("Deployment")).not.toContain(c);
  });

  it("holds the release's namespace, RBAC and network policies", () => {
    expect(names("Namespace")).toEqual(["flux-system"]);
    expect(names("ClusterRoleBinding").sort()).toEqual(["cluster-reconciler", "crd-controller"]);
    expect(names("NetworkPolicy").sort()).toEqual(["allow-egress", "allow-scraping", "allow-webhooks"]);
    expect(names("ServiceAccount").sort()).toEqual(["helm-controller", "kustomize-controller", "source-controller"]);
  });
});

describe("a downloaded install manifest (upstream, mirror)", () => {
  it("is refused when its sha256 is not the pinned one, naming both and the key", () => {
    const text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n";
    const sum = "5b0d1a5d0b3c1e0e1f4bb1f5d8a6a3d2c5c0e4e0d7d8c3b9a1f2e3d4c5b6a7f8";
    expect(() => verifySha256(text, sum, "https://espelho.cartorio.example/install.yaml")).toThrow(
      /cartorio-plataforma:gitops\.flux\.manifestSha256: https:\/\/espelho\.cartorio\.example\/install\.yaml has sha256 [0-9a-f]{64}, not the pinned 5b0d.*Nothing was applied/,
    );
    const good = createHash("sha256").update(text).digest("hex");
    expect(verifySha256(text, good, "x")).toBe(text);
  });
});
