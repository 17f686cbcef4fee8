/**
 * The embedded Flux install source (gitops.flux.source: embedded): the pieces of
 * the pinned release, collected at build time from the Go modules that carry
 * them (scripts/toolchain/flux/collect.sh), so an air-gapped site, and the local
 * stack, install Flux without downloading anything.
 *
 * The build assembles the release's install.yaml from them (each controller's
 * config/ built as its release publishes it, flux2's manifests/install overlay on
 * top, with the kustomize API); it goes through the same filter as a downloaded
 * one. Plain module: no Pulumi import.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { GitopsConfig } from "../config/schema";
import { installManifestUrl, selectedControllers } from "./flux";
import { fetchInstallManifest } from "./install";

export interface EmbeddedComponent {
  version: string;
  module: string;
  collected: boolean;
  reason?: string;
}

/** Where the toolchain build puts the collected release (scripts/toolchain/build.sh: FLUX_MANIFESTS). */
export function embeddedDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.CARTORIO_TOOLCHAIN_CACHE ?? path.join(os.homedir(), ".cache/cartorio-toolchain");
  return path.join(cache, "flux", version);
}

function readComponents(dir: string, version: string): Record<string, EmbeddedComponent> {
  const file = path.join(dir, "components.json");
  if (!fs.existsSync(path.join(dir, "install.yaml")) || !fs.existsSync(file)) {
    throw new Error(
      `gitops.flux.version ${version} with gitops.flux.source embedded: the release's manifests are not in ${dir}. ` +
        `The toolchain collects FLUX_VERSION of scripts/toolchain/versions.env: run scripts/toolchain/build.sh, ` +
        `or set gitops.flux.version to that version, or use source upstream/mirror.`,
    );
  }
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { components: Record<string, EmbeddedComponent> }).components;
}

/** The release's install.yaml as the toolchain assembled it (scripts/toolchain/flux: fluxkit assemble). */
export function embeddedManifest(flux: GitopsConfig["flux"], env: NodeJS.ProcessEnv = process.env): string {
  const dir = embeddedDir(flux.version, env);
  const components = readComponents(dir, flux.version);
  const missing = selectedControllers(flux).filter((c) => !components[c]?.collected);
  if (missing.length > 0) {
    throw new Error(
      `gitops.flux.components/componentsExtra: the embedded source of Flux ${flux.version} does not carry ` +
        missing
          .map((c) =>
            components[c]
              ? `${c} ${components[c].version} (${components[c].reason ?? "not collected"})`
              : `${c} (not part of this release)`,
          )
          .join("; ") +
        `. Remove ${missing.length > 1 ? "them" : "it"} from the list, or use source upstream or mirror.`,
    );
  }
  return fs.readFileSync(path.join(dir, "install.yaml"), "utf8");
}

/**
 * The install manifest a stack's Flux source names: assembled at build time (embedded), or
 * downloaded and checked against its pinned sha256 (upstream, mirror); undefined when preinstalled.
 */
export async function readFluxManifest(flux: GitopsConfig["flux"]): Promise<string | undefined> {
  switch (flux.source) {
    case "embedded":
      return embeddedManifest(flux);
    case "upstream":
    case "mirror":
      return fetchInstallManifest(installManifestUrl(flux)!, flux.manifestSha256!);
    case "preinstalled":
      return undefined;
  }
}
