/**
 * GitOps: the equivalent of
 *   flux bootstrap github --owner <owner> --repository <repo> --branch <branch> --path <path>
 * as components, so it is previewed, reviewed and enforced like everything else.
 *
 * FluxBootstrap: namespace flux-system, the controllers of a pinned release
 * (embedded from Go modules, or a download checked against a pinned sha256, or
 * preinstalled), the deploy key pair (a Pulumi secret), the flux-system source
 * Secret, the GitRepository and Kustomization named flux-system with the CLI's
 * URL form (so the `flux` CLI recognises the install), and then a wait until
 * both are Ready at the repository's revision, as the CLI waits.
 * Pulumi stays the only manager of Flux itself: nothing of flux-system is
 * committed to the repository (README: "Who manages Flux").
 * RepositoryHardening (GitHub): the read-only deploy key, a ruleset on the
 * branch, CODEOWNERS and the producao environment.
 */
import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { GitopsConfig } from "../config/schema";
import { LABELS, platformLabels } from "../platform/labels";
import {
  codeowners,
  deployKeyTitle,
  FLUX_NAMESPACE,
  FLUX_SYNC_NAME,
  gitRepositorySpec,
  knownHosts,
  kustomizationSpec,
  syncUrl,
} from "./flux";
import { decorateInstall, filterInstallManifest } from "./install";
import type { LocalGitServer } from "./local";
import { MAINTAINER_KEYS_SECRET, type MaintainerKey } from "./signing";
import { DeployKeyPair, FluxSync, LocalDeployKey } from "./providers";
import { durationSeconds } from "./sync";

export interface FluxBootstrapArgs {
  /** The GitOps repository, branch, path and Flux options (cartorio-plataforma:gitops). */
  gitops: GitopsConfig;
  /**
   * Whether Kubernetes objects are rendered to files instead of applied. The
   * source Secret and the wait are then left out: the renderer would write the
   * private key in plaintext, and there is nothing to wait for.
   */
  renderOnly: boolean;
  /**
   * The release's install manifest (readFluxManifest: embedded, or downloaded and checked against
   * its pinned sha256), read before any resource is registered; undefined when preinstalled.
   */
  installManifest?: string;
  /** The local Git server (gitops.git.server: local), as localGitServer read it. */
  localGit?: LocalGitServer;
  /** The maintainers' public keys (readMaintainerKeys), when gitops.requireSignedCommits is on. */
  maintainerKeys?: MaintainerKey[];
  /** Where to watch the sync from (cluster mode): the kubeconfig file and context the stack applies with. */
  cluster?: { kubeconfig: string; context: string };
}

export class FluxBootstrap extends pulumi.ComponentResource {
  public readonly syncUrl: pulumi.Output<string>;
  public readonly fluxVersion: pulumi.Output<string>;
  public readonly deployKeyFingerprint: pulumi.Output<string>;
  /** authorized_keys line of the deploy key (public). */
  public readonly deployKeyPublic: pulumi.Output<string>;
  /** Fingerprints of the keys Flux verifies commits against (gitops.requireSignedCommits), else empty. */
  public readonly maintainerKeyFingerprints: pulumi.Output<string[]>;
  /** The revision the sync was Ready at after this run (cluster mode), e.g. main@sha1:<commit>. */
  public readonly syncedRevision?: pulumi.Output<string>;

  constructor(name: string, args: FluxBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cartorio:gitops:FluxBootstrap", name, {}, opts);
    const g = args.gitops;
    const labels = platformLabels();
    const ownLabels = {
      ...labels,
      [LABELS.owner]: g.teams.infrastructure,
      // Holds the deploy key and cluster configuration, no personal data.
      [LABELS.dataClassification]: "interno",
    };

    // The one owner of flux-system (the release's own Namespace is filtered out of its manifest).
    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: FLUX_NAMESPACE,
          labels: {
            ...ownLabels,
            [LABELS.name]: FLUX_NAMESPACE,
            // As the CLI labels it: Flux's controllers do not all meet "restricted" yet.
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": "latest",
          },
        },
      },
      { parent: this, retainOnDelete: true },
    );

    const dependsOn: pulumi.Resource[] = [ns];
    if (args.installManifest !== undefined) {
      const docs = decorateInstall(filterInstallManifest(args.installManifest, g.flux), g.flux, ownLabels);
      const install = new k8s.yaml.v2.ConfigGroup(
        `${name}-install`,
        { objs: docs.filter((d) => d.kind !== "CustomResourceDefinition") },
        { parent: this, dependsOn: [ns] },
      );
      dependsOn.push(install);
      // CRDs are kept on delete: deleting one deletes every object of its kind, and with
      // controllers still running their finalizers would prune what Flux applied
      // (`flux uninstall` strips the finalizers first for the same reason).
      for (const crd of docs.filter((d) => d.kind === "CustomResourceDefinition")) {
        dependsOn.push(
          new k8s.apiextensions.v1.CustomResourceDefinition(
            `${name}-crd-${crd.metadata!.name}`,
            crd as unknown as k8s.apiextensions.v1.CustomResourceDefinitionArgs,
            {
              parent: this,
              retainOnDelete: true,
              // Until this round, CRDs were children of the install ConfigGroup: adopted, never re-created.
              aliases: [{ name: `${name}-install:${crd.metadata!.name}`, parent: install }],
            },
          ),
        );
      }
    }

    const key = new DeployKeyPair(
      `${name}-deploy-key`,
      { algorithm: g.flux.keyAlgorithm, comment: deployKeyTitle(g) },
      { parent: this },
    );
    if (args.localGit) {
      // The local analogue of RepositoryHardening's read-only GitHub deploy key.
      dependsOn.push(
        new LocalDeployKey(
          `${name}-local-deploy-key`,
          { accessFile: args.localGit.accessFile, publicKey: key.publicKey },
          { parent: this },
        ),
      );
    }

    if (!args.renderOnly) {
      dependsOn.push(
        new k8s.core.v1.Secret(
          `${name}-source-secret`,
          {
            metadata: { name: FLUX_SYNC_NAME, namespace: FLUX_NAMESPACE, labels },
            type: "Opaque",
            stringData: {
              identity: pulumi.secret(key.privateKey),
              "identity.pub": key.publicKey,
              known_hosts: args.localGit ? args.localGit.knownHosts : knownHosts(g.flux),
            },
          },
          // Created once, like the CLI's; the engine keeps stringData secret because the key is.
          { parent: this, dependsOn, additionalSecretOutputs: ["stringData", "data"] },
        ),
      );
    }

    if (g.requireSignedCommits) {
      if (!args.maintainerKeys?.length) {
        throw new Error("FluxBootstrap: gitops.requireSignedCommits is on but no maintainer key was given");
      }
      // Public keys only (readMaintainerKeys refuses private ones), so a ConfigMap would do; Flux reads a Secret.
      dependsOn.push(
        new k8s.core.v1.Secret(
          `${name}-maintainer-keys`,
          {
            metadata: { name: MAINTAINER_KEYS_SECRET, namespace: FLUX_NAMESPACE, labels },
            type: "Opaque",
            stringData: Object.fromEntries(args.maintainerKeys.map((k) => [k.file, k.content])),
          },
          { parent: this, dependsOn: [ns] },
        ),
      );
    }

    const gitRepository = new k8s.apiextensions.CustomResource(
      `${name}-git-repository`,
      {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "GitRepository",
        metadata: { name: FLUX_SYNC_NAME, namespace: FLUX_NAMESPACE, labels },
        spec: gitRepositorySpec(g, args.localGit?.address),
      },
      { parent: this, dependsOn },
    );
    const kustomization = new k8s.apiextensions.CustomResource(
      `${name}-kustomization`,
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: FLUX_SYNC_NAME, namespace: FLUX_NAMESPACE, labels },
        spec: kustomizationSpec(g),
      },
      { parent: this, dependsOn },
    );

    const timeoutSeconds = durationSeconds(g.syncTimeout);
    if (args.cluster && !args.renderOnly && timeoutSeconds > 0) {
      const sync = new FluxSync(
        `${name}-sync`,
        {
          ...args.cluster,
          namespace: FLUX_NAMESPACE,
          name: FLUX_SYNC_NAME,
          // The local server's branch is known; on GitHub, Ready at whatever the branch holds.
          revision: args.localGit?.revision ?? "",
          timeoutSeconds,
        },
        { parent: this, dependsOn: [gitRepository, kustomization] },
      );
      this.syncedRevision = sync.sourceRevision;
    }

    this.syncUrl = pulumi.output(syncUrl(g, args.localGit?.address));
    this.fluxVersion = pulumi.output(g.flux.version);
    this.deployKeyFingerprint = key.fingerprint;
    this.deployKeyPublic = key.publicKey;
    this.maintainerKeyFingerprints = pulumi.output(
      g.requireSignedCommits ? (args.maintainerKeys ?? []).flatMap((k) => k.fingerprints) : [],
    );
    this.registerOutputs({
      maintainerKeyFingerprints: this.maintainerKeyFingerprints,
      syncUrl: this.syncUrl,
      fluxVersion: this.fluxVersion,
      deployKeyFingerprint: this.deployKeyFingerprint,
      syncedRevision: this.syncedRevision,
    });
  }
}

export interface RepositoryHardeningArgs {
  gitops: GitopsConfig;
  /** The Flux deploy key's authorized_keys line. */
  deployKeyPublic: pulumi.Input<string>;
}

/** The branch of the GitOps repository that keeps producao's evidence chain, append-only. */
export const EVIDENCE_BRANCH = "evidencias";

/** Who may change what in the GitOps repository, codified. */
export class RepositoryHardening extends pulumi.ComponentResource {
  public readonly rulesetId: pulumi.Output<string>;

  constructor(name: string, args: RepositoryHardeningArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cartorio:gitops:RepositoryHardening", name, {}, opts);
    const g = args.gitops;
    const repository = g.repository;

    new github.RepositoryDeployKey(
      `${name}-deploy-key`,
      { repository, title: deployKeyTitle(g), key: args.deployKeyPublic, readOnly: true },
      { parent: this },
    );

    const ruleset = new github.RepositoryRuleset(
      `${name}-ruleset`,
      {
        repository,
        name: `protect-${g.branch}`,
        target: "branch",
        enforcement: "active",
        conditions: { refName: { includes: [`refs/heads/${g.branch}`], excludes: [] } },
        // The deploy identity commits CODEOWNERS below; everyone else goes through a PR.
        bypassActors: g.automation
          ? [{ actorId: g.automation.actorId, actorType: g.automation.actorType, bypassMode: "always" }]
          : [],
        rules: {
          deletion: true,
          nonFastForward: true,
          requiredSignatures: g.requireSignedCommits,
          pullRequest: {
            requireCodeOwnerReview: true,
            requiredApprovingReviewCount: 1,
            dismissStaleReviewsOnPush: true,
            requireLastPushApproval: true,
          },
          requiredStatusChecks: {
            strictRequiredStatusChecksPolicy: true,
            requiredChecks: g.requiredChecks.map((context) => ({ context })),
          },
        },
      },
      { parent: this },
    );

    // The evidence chain (docs/evidence.md): an append-only branch. Nobody may delete it, rewrite it or, but
    // the deploy identity that appends each deployment's report, push to it — no admin bypass.
    new github.RepositoryRuleset(
      `${name}-ruleset-evidencias`,
      {
        repository,
        name: `append-only-${EVIDENCE_BRANCH}`,
        target: "branch",
        enforcement: "active",
        conditions: { refName: { includes: [`refs/heads/${EVIDENCE_BRANCH}`], excludes: [] } },
        bypassActors: g.automation
          ? [{ actorId: g.automation.actorId, actorType: g.automation.actorType, bypassMode: "always" }]
          : [],
        rules: { creation: true, update: true, deletion: true, nonFastForward: true },
      },
      { parent: this },
    );

    // Committed straight to the branch by the provider, after the ruleset exists: the ruleset lets the
    // deploy identity (gitops.automation) bypass the PR rule, so this commit is accepted.
    new github.RepositoryFile(
      `${name}-codeowners`,
      {
        repository,
        branch: g.branch,
        file: ".github/CODEOWNERS",
        content: codeowners(g),
        commitMessage: "Update CODEOWNERS from cartorio-plataforma",
        overwriteOnCreate: true,
      },
      { parent: this, dependsOn: [ruleset] },
    );

    const reviewers = github.getTeamOutput({ slug: g.teams.deployReviewers }, { parent: this });
    new github.RepositoryEnvironment(
      `${name}-environment-producao`,
      {
        repository,
        environment: "producao",
        preventSelfReview: true,
        canAdminsBypass: false,
        reviewers: [{ teams: [reviewers.id.apply((id) => Number(id))] }],
        deploymentBranchPolicy: { protectedBranches: true, customBranchPolicies: false },
      },
      { parent: this },
    );

    this.rulesetId = ruleset.id;
    this.registerOutputs({ rulesetId: this.rulesetId });
  }
}
