/**
 * GitOps: the equivalent of
 *   flux bootstrap github --owner <owner> --repository <repo> --branch <branch> --path <path>
 * as components, so it is previewed, reviewed and enforced like everything else.
 *
 * FluxBootstrap: namespace flux-system, the controllers from a pinned release
 * (or a mirror, or preinstalled), the deploy key pair (a Pulumi secret), the
 * flux-system source Secret, and the GitRepository and Kustomization named
 * flux-system with the CLI's URL form, so the `flux` CLI recognises the install.
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
  installManifestUrl,
  knownHosts,
  kustomizationSpec,
  syncUrl,
} from "./flux";
import { embeddedCrds } from "./embedded";
import { fetchInstallManifest, filterInstallManifest } from "./install";
import { DeployKeyPair } from "./providers";

export interface FluxBootstrapArgs {
  /** The GitOps repository, branch, path and Flux options (cartorio-plataforma:gitops). */
  gitops: GitopsConfig;
  /**
   * Whether Kubernetes objects are rendered to files instead of applied. The
   * source Secret is then left out: the renderer would write the private key in
   * plaintext.
   */
  renderOnly: boolean;
  /** The install manifest's text, instead of downloading it (tests, pre-fetched mirrors). */
  installManifest?: pulumi.Input<string>;
  /** The embedded source's objects when the caller already read them (embeddedCrds), instead of reading again. */
  embeddedObjects?: pulumi.Input<object[]>;
}

export class FluxBootstrap extends pulumi.ComponentResource {
  public readonly syncUrl: pulumi.Output<string>;
  public readonly fluxVersion: pulumi.Output<string>;
  public readonly deployKeyFingerprint: pulumi.Output<string>;
  /** authorized_keys line of the deploy key (public). */
  public readonly deployKeyPublic: pulumi.Output<string>;

  constructor(name: string, args: FluxBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cartorio:gitops:FluxBootstrap", name, {}, opts);
    const g = args.gitops;
    const labels = platformLabels();

    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: FLUX_NAMESPACE,
          labels: {
            ...labels,
            [LABELS.name]: FLUX_NAMESPACE,
            [LABELS.owner]: g.teams.infrastructure,
            // Holds the deploy key and cluster configuration, no personal data.
            [LABELS.dataClassification]: "interno",
            // As the CLI labels it: Flux's controllers do not all meet "restricted" yet.
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/warn-version": "latest",
          },
        },
      },
      { parent: this, retainOnDelete: true },
    );

    const dependsOn: pulumi.Resource[] = [ns];
    // One install mechanism whatever the source: the release's objects, filtered, in one ConfigGroup.
    const url = installManifestUrl(g.flux);
    const objs =
      g.flux.source === "embedded"
        ? pulumi.output(args.embeddedObjects ?? embeddedCrds(g.flux))
        : url
          ? pulumi
              .output(args.installManifest ?? fetchInstallManifest(url))
              .apply((t) => filterInstallManifest(t, g.flux))
          : undefined;
    if (objs) {
      const install = new k8s.yaml.v2.ConfigGroup(`${name}-install`, { objs }, { parent: this, dependsOn: [ns] });
      dependsOn.push(install);
    }

    const key = new DeployKeyPair(
      `${name}-deploy-key`,
      { algorithm: g.flux.keyAlgorithm, comment: deployKeyTitle(g) },
      { parent: this },
    );

    if (!args.renderOnly) {
      new k8s.core.v1.Secret(
        `${name}-source-secret`,
        {
          metadata: { name: FLUX_SYNC_NAME, namespace: FLUX_NAMESPACE, labels },
          type: "Opaque",
          stringData: {
            identity: pulumi.secret(key.privateKey),
            "identity.pub": key.publicKey,
            known_hosts: knownHosts(g.flux),
          },
        },
        // Created once, like the CLI's; the engine keeps stringData secret because the key is.
        { parent: this, dependsOn, additionalSecretOutputs: ["stringData", "data"] },
      );
    }

    new k8s.apiextensions.CustomResource(
      `${name}-git-repository`,
      {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "GitRepository",
        metadata: { name: FLUX_SYNC_NAME, namespace: FLUX_NAMESPACE, labels },
        spec: gitRepositorySpec(g),
      },
      { parent: this, dependsOn },
    );
    new k8s.apiextensions.CustomResource(
      `${name}-kustomization`,
      {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { name: FLUX_SYNC_NAME, namespace: FLUX_NAMESPACE, labels },
        spec: kustomizationSpec(g),
      },
      { parent: this, dependsOn },
    );

    this.syncUrl = pulumi.output(syncUrl(g));
    this.fluxVersion = pulumi.output(g.flux.version);
    this.deployKeyFingerprint = key.fingerprint;
    this.deployKeyPublic = key.publicKey;
    this.registerOutputs({
      syncUrl: this.syncUrl,
      fluxVersion: this.fluxVersion,
      deployKeyFingerprint: this.deployKeyFingerprint,
    });
  }
}

export interface RepositoryHardeningArgs {
  gitops: GitopsConfig;
  /** The Flux deploy key's authorized_keys line. */
  deployKeyPublic: pulumi.Input<string>;
}

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
