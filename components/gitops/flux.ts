/**
 * What `flux bootstrap github` decides, as plain functions: the sync URL, the
 * deploy key title, the install manifest's source and the sync objects. No
 * Pulumi import: the component, the tests and the README table use them.
 */
import type { GitopsConfig } from "../config/schema";
import { verifySpec } from "./signing";

export const FLUX_NAMESPACE = "flux-system";
/** Name of the GitRepository, the Kustomization and the source Secret, as the CLI names them. */
export const FLUX_SYNC_NAME = "flux-system";

/**
 * The CLI's URL form for GitHub over SSH; with the local Git server (gitops.git.server: local),
 * the same path on its address (host:port).
 */
export function syncUrl(g: Pick<GitopsConfig, "owner" | "repository">, localAddress?: string): string {
  return `ssh://git@${localAddress ?? "github.com"}/${g.owner}/${g.repository}`;
}

/** The Kustomization path as the CLI writes it: ./ plus the path without a leading ./ */
export function syncPath(path: string): string {
  return `./${path.replace(/^\.\//, "")}`;
}

/** `<namespace>-<branch>-<secretName>-<path>`, e.g. flux-system-main-flux-system-./clusters/producao */
export function deployKeyTitle(g: Pick<GitopsConfig, "branch" | "path">): string {
  return `${FLUX_NAMESPACE}-${g.branch}-${FLUX_SYNC_NAME}-${syncPath(g.path)}`;
}

/** Where the controllers' manifest is downloaded from; undefined when embedded or preinstalled. */
export function installManifestUrl(flux: GitopsConfig["flux"]): string | undefined {
  switch (flux.source) {
    case "upstream":
      return `https://github.com/fluxcd/flux2/releases/download/${flux.version}/install.yaml`;
    case "mirror":
      return flux.mirrorUrl;
    case "embedded":
    case "preinstalled":
      return undefined;
  }
}

/** The controllers to keep from install.yaml: the chosen components and extras. */
export function selectedControllers(flux: GitopsConfig["flux"]): string[] {
  return [...flux.components, ...flux.componentsExtra];
}

/** known_hosts as pinned in config, one line per key, newline-terminated. */
export function knownHosts(flux: GitopsConfig["flux"]): string {
  return (
    flux.knownHosts
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"))
      .join("\n") + "\n"
  );
}

export function gitRepositorySpec(g: GitopsConfig, localAddress?: string) {
  return {
    interval: g.flux.interval,
    ref: { branch: g.branch },
    secretRef: { name: FLUX_SYNC_NAME },
    url: syncUrl(g, localAddress),
    ...(g.requireSignedCommits ? { verify: verifySpec() } : {}),
  };
}

/**
 * As the CLI writes it, plus `deletionPolicy: Orphan`: deleting this object (pulumi destroy,
 * features.gitops: false, a kubectl delete) leaves what Flux applied in place instead of
 * garbage-collecting it, as `flux uninstall` does. Pruning while it exists is unchanged.
 */
export function kustomizationSpec(g: GitopsConfig) {
  return {
    interval: g.flux.kustomizationInterval,
    path: syncPath(g.path),
    prune: true,
    deletionPolicy: "Orphan",
    sourceRef: { kind: "GitRepository", name: FLUX_SYNC_NAME },
  };
}

/** CODEOWNERS: who owns which path of the repository (later lines win in GitHub's matching). */
export function codeowners(g: GitopsConfig): string {
  const t = (slug: string) => `@${g.owner}/${slug}`;
  const { application, security, infrastructure } = g.teams;
  // The last matching pattern wins: general lines first, the security team's last, so
  // enforcement (rules, the pack's logic), key handling and the pipeline itself cannot be
  // weakened without its review, even where they live under components/.
  return [
    "# Managed by cartorio-plataforma (components/gitops); edit the config, not this file.",
    "# The last matching pattern wins. Each area's page says what it covers: docs/<area>.md.",
    "# Infrastructure: docs/cluster.md, docs/gitops.md, docs/scaling.md, docs/engine.md, docs/production.md",
    `*                     ${t(infrastructure)}`,
    "# Application: the workload's manifests (docs/gitops.md, docs/scaling.md)",
    `/manifests/           ${t(application)}`,
    `/components/          ${t(infrastructure)}`,
    `/clusters/            ${t(infrastructure)}`,
    `/Pulumi.*.yaml        ${t(infrastructure)}`,
    "# Security: docs/policy.md, docs/keys.md, docs/evidence.md",
    `/policies/            ${t(security)}`,
    `/policypack/          ${t(security)}`,
    `/components/policy/   ${t(security)}`,
    `/components/keys/     ${t(security)}`,
    `/components/evidence/ ${t(security)}`,
    `/configs/kms/         ${t(security)}`,
    `/configs/gitops/      ${t(security)}`,
    `/configs/evidencias/  ${t(security)}`,
    `/.github/             ${t(security)}`,
    "",
  ].join("\n");
}
