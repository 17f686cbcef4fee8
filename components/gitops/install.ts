/**
 * Flux's install manifest, filtered as `flux install --components ... --network-policy ...`
 * would generate it. Plain module: fetching is separate from filtering, so tests
 * filter a small manifest without a network.
 */
import { parseAllDocuments } from "yaml";
import type { GitopsConfig } from "../config/schema";
import { selectedControllers } from "./flux";

/** Every controller a Flux release ships. */
export const ALL_CONTROLLERS = [
  "source-controller",
  "kustomize-controller",
  "helm-controller",
  "notification-controller",
  "image-reflector-controller",
  "image-automation-controller",
  "source-watcher",
];

type Doc = {
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
};

/** The Kubernetes objects of a multi-document YAML text (empty documents skipped); `where` names it in errors. */
export function parseObjects<T extends { kind?: string }>(text: string, where: string): T[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`${where}: ${d.errors[0].message.split("\n")[0]}`);
      return d.toJS() as T | null;
    })
    .filter((d): d is T => !!d && typeof d.kind === "string");
}

/** The controller an object belongs to (by its app.kubernetes.io/component label or name). */
function controllerOf(doc: Doc): string | undefined {
  const component = doc.metadata?.labels?.["app.kubernetes.io/component"];
  if (component && ALL_CONTROLLERS.includes(component)) return component;
  const name = doc.metadata?.name ?? "";
  if (ALL_CONTROLLERS.includes(name)) return name;
  if (name === "webhook-receiver") return "notification-controller";
  return undefined;
}

/**
 * Keeps the chosen controllers, drops the network policies when off, adds
 * tolerations. Drops the release's own Namespace: FluxBootstrap declares
 * flux-system (retained on destroy), and one object must have one owner.
 */
export function filterInstallManifest(text: string, flux: GitopsConfig["flux"]): Doc[] {
  const keep = new Set(selectedControllers(flux));
  return parseObjects<Doc>(text, "Flux install manifest")
    .filter((d) => d.kind !== "Namespace")
    .filter((d) => {
      const c = controllerOf(d);
      if (c && !keep.has(c) && d.kind !== "CustomResourceDefinition") return false;
      return !(d.kind === "NetworkPolicy" && !flux.networkPolicy);
    })
    .map((d) => {
      if (d.kind === "Deployment" && flux.tolerationKeys.length > 0) {
        const tpl = (d.spec as { template: { spec: Record<string, unknown> } }).template;
        tpl.spec.tolerations = flux.tolerationKeys.map((key) => ({ key, operator: "Exists" }));
      }
      return d;
    });
}

/** Downloads the pinned release manifest (or its mirror). */
export async function fetchInstallManifest(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) {
    throw new Error(
      `could not download the Flux install manifest ${url}: HTTP ${res.status}; set gitops.flux.source: mirror with mirrorUrl for air-gapped clusters`,
    );
  }
  return res.text();
}
