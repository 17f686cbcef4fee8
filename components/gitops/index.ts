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
 * branch, CODEOWNERS, the producao environment and the HSM runners' groups.
 */
import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { GitopsConfig } from "../config/schema";
import { LABELS, platformLabels } from "../platform/labels";
import {
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
import { DeployKeyPair, FluxSync, GithubRecord, LocalDeployKey } from "./providers";
import { durationSeconds } from "./sync";
import { githubRequests, resolveRefs, type RepositoryRef, type TeamRef } from "./github-objects";

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

    // The key is kept with the source Secret when the stack is destroyed (as GitHub keeps the deploy key), and
    // adopted from it by the next up: the Git host never has to learn a new key because of a destroy.
    const key = new DeployKeyPair(
      `${name}-deploy-key`,
      {
        algorithm: g.flux.keyAlgorithm,
        comment: deployKeyTitle(g),
        adopt:
          args.cluster && !args.renderOnly
            ? { ...args.cluster, namespace: FLUX_NAMESPACE, name: FLUX_SYNC_NAME }
            : undefined,
      },
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
          // Created once, like the CLI's; the engine keeps stringData secret because the key is. Kept on delete:
          // it is where the next up adopts the deploy key from.
          { parent: this, dependsOn, additionalSecretOutputs: ["stringData", "data"], retainOnDelete: true },
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
  /** Where gitops.github.api: record writes the requests (absolute). */
  recordDir?: string;
}

/**
 * Who may change what in the GitOps repository, codified (components/gitops/github-objects.ts): sent to
 * GitHub, or written as JSON for review (gitops.github.api: record). The environment and the deploy key are
 * kept on destroy and when the feature is turned off (retainOnDelete).
 */
export class RepositoryHardening extends pulumi.ComponentResource {
  /** The requests as sent (record) or their resources' ids (github), by resource name. */
  public readonly requests: pulumi.Output<string[]>;

  constructor(name: string, args: RepositoryHardeningArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cartorio:gitops:RepositoryHardening", name, {}, opts);
    const requests = githubRequests(args.gitops, args.deployKeyPublic, name);
    const made = new Map<string, pulumi.CustomResource>();
    const record = args.gitops.github.api === "record";
    const teamIds = new Map<string, pulumi.Output<number>>();
    const resolve = (ref: TeamRef | RepositoryRef): unknown => {
      if (record) return ref;
      if ("repositoryName" in ref)
        return github.getRepositoryOutput({ name: ref.repositoryName }, { parent: this }).repoId;
      if (!teamIds.has(ref.teamSlug))
        teamIds.set(
          ref.teamSlug,
          github.getTeamOutput({ slug: ref.teamSlug }, { parent: this }).id.apply((id) => Number(id)),
        );
      return teamIds.get(ref.teamSlug);
    };
    for (const r of requests) {
      const opts: pulumi.CustomResourceOptions = {
        parent: this,
        retainOnDelete: r.retain,
        dependsOn: r.after.map((n) => made.get(n)!),
      };
      const inputs = resolveRefs(r.args, resolve) as Record<string, unknown>;
      const resource = record
        ? new GithubRecord(r.name, { dir: args.recordDir!, githubType: r.type, request: inputs }, opts)
        : // eslint-disable-next-line @typescript-eslint/no-explicit-any
          new (github as any)[r.type](r.name, inputs, opts);
      made.set(r.name, resource);
    }
    this.requests = pulumi.output(requests.map((r) => `${r.type}/${r.name}`));
    this.registerOutputs({ requests: this.requests });
  }
}
