/**
 * The embedded Flux install source (gitops.flux.source: embedded): the pieces of
 * the pinned release, collected at build time from the Go modules that carry
 * them (scripts/toolchain/flux/collect.sh), so an air-gapped site, and the local
 * stack, install Flux without downloading anything.
 *
 * This round it yields the CustomResourceDefinitions of the chosen controllers,
 * labelled as the release's install.yaml labels them (flux2's LabelTransformers
 * plus the version label the CLI adds). The controllers themselves are not part
 * of it yet. Plain module: no Pulumi import.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import type { GitopsConfig } from "../config/schema";
import { selectedControllers } from "./flux";
import { parseObjects } from "./install";

export interface EmbeddedComponent {
  version: string;
  module: string;
  collected: boolean;
  reason?: string;
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Where the toolchain build puts the collected release (scripts/toolchain/build.sh: FLUX_MANIFESTS). */
export function embeddedDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.CARTORIO_TOOLCHAIN_CACHE ?? path.join(os.homedir(), ".cache/cartorio-toolchain");
  return path.join(cache, "flux", version);
}

function readComponents(dir: string, version: string): Record<string, EmbeddedComponent> {
  const file = path.join(dir, "components.json");
  if (!fs.existsSync(path.join(dir, ".complete")) || !fs.existsSync(file)) {
    throw new Error(
      `gitops.flux.version ${version} with gitops.flux.source embedded: the release's manifests are not in ${dir}. ` +
        `The toolchain collects FLUX_VERSION of scripts/toolchain/versions.env: run scripts/toolchain/build.sh, ` +
        `or set gitops.flux.version to that version, or use source upstream/mirror.`,
    );
  }
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { components: Record<string, EmbeddedComponent> }).components;
}

/** The labels a LabelTransformer file of flux2 sets. */
function transformerLabels(file: string): Record<string, string> {
  return (parse(fs.readFileSync(file, "utf8")) as { labels?: Record<string, string> }).labels ?? {};
}

/** The CRDs of the chosen controllers from the collected release, in the release's order. */
export function embeddedCrds(flux: GitopsConfig["flux"], env: NodeJS.ProcessEnv = process.env): Manifest[] {
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
  const common = transformerLabels(path.join(dir, "flux2", "install", "labels.yaml"));
  const out: Manifest[] = [];
  for (const c of selectedControllers(flux)) {
    const labels = {
      ...common,
      ...transformerLabels(path.join(dir, "flux2", "bases", c, "labels.yaml")),
      // `flux install` adds the release version to every object it generates.
      "app.kubernetes.io/version": flux.version,
    };
    const crdDir = path.join(dir, c, "config", "crd");
    // The controller's own kustomization lists its CRDs: the release ships exactly those.
    const list = (parse(fs.readFileSync(path.join(crdDir, "kustomization.yaml"), "utf8")) as { resources: string[] })
      .resources;
    for (const rel of list) {
      const file = path.join(crdDir, rel);
      for (const doc of parseObjects<Manifest>(fs.readFileSync(file, "utf8"), file)) {
        doc.metadata.labels = { ...(doc.metadata.labels ?? {}), ...labels };
        out.push(doc);
      }
    }
  }
  return out;
}
