/**
 * Flux's install manifest, filtered as `flux install --components ... --network-policy ...`
 * would generate it, then made the platform's own: labelled as everything it
 * installs, images pinned by the digests of config. Plain module: fetching is
 * separate from filtering, so tests filter a small manifest without a network.
 */
import { createHash } from "node:crypto";
import { parseAllDocuments } from "yaml";
import { FLUX_CONTROLLERS, type GitopsConfig } from "../config/schema";
import { selectedControllers } from "./flux";

/** Every controller a Flux release ships. */
export const ALL_CONTROLLERS: readonly string[] = FLUX_CONTROLLERS;

export type Doc = {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
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

/**
 * Arguments the platform adds to a controller, wherever it runs (its Deployment, and the
 * embedded cluster's out-of-cluster process): a new revision cancels a pending health check,
 * so a fix is applied without waiting out the timeout of a rollout that will not become healthy.
 */
export const EXTRA_ARGS: Record<string, string[]> = {
  "kustomize-controller": ["--feature-gates=CancelHealthCheckOnNewRevision=true"],
};

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
      // As `flux install --components`: an unchosen controller's CRDs go too.
      if (c && !keep.has(c)) return false;
      return !(d.kind === "NetworkPolicy" && !flux.networkPolicy);
    })
    .map((d) => {
      if (d.kind === "Deployment" && flux.tolerationKeys.length > 0) {
        const tpl = (d.spec as { template: { spec: Record<string, unknown> } }).template;
        tpl.spec.tolerations = flux.tolerationKeys.map((key) => ({ key, operator: "Exists" }));
      }
      // Without notification-controller, a controller told to send its events there would retry an address
      // nothing answers (as `flux install --components` leaves it out).
      if (d.kind === "Deployment" && !keep.has("notification-controller")) {
        const tpl = (d.spec as { template: { spec: PodSpec } }).template;
        for (const c of tpl.spec.containers ?? []) {
          if (c.args) c.args = c.args.filter((a) => !a.startsWith("--events-addr="));
        }
      }
      return d;
    });
}

/**
 * The platform's stamp on Flux's objects: its labels (owner, LGPD class, name) on every
 * object and pod template, the release version as `flux install` adds it, each
 * controller's image pinned by the digest config records for it, and (awaitControllers
 * false) no wait for Deployments whose pods no kubelet will run.
 */
export function decorateInstall(docs: Doc[], flux: GitopsConfig["flux"], labels: Record<string, string>): Doc[] {
  return docs.map((d) => {
    const name = controllerOf(d) ?? d.metadata?.name ?? "flux";
    // The release's own labels win (app.kubernetes.io/part-of: flux is how the flux CLI finds its objects).
    const stamp = (own: Record<string, string> | undefined) => ({
      "app.kubernetes.io/name": name,
      ...labels,
      ...(own ?? {}),
      "app.kubernetes.io/version": flux.version,
    });
    d.metadata = { ...d.metadata, labels: stamp(d.metadata?.labels) };
    if (d.kind === "Deployment") {
      if (!flux.awaitControllers) {
        d.metadata.annotations = { ...(d.metadata.annotations ?? {}), "pulumi.com/skipAwait": "true" };
      }
      const tpl = (d.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } }).template;
      tpl.metadata = { ...tpl.metadata, labels: stamp(tpl.metadata?.labels) };
      const [manager] = tpl.spec.containers ?? [];
      if (manager) manager.args = [...(manager.args ?? []), ...(EXTRA_ARGS[name] ?? [])];
      for (const c of tpl.spec.containers ?? []) {
        const digest = flux.imageDigests[name as keyof typeof flux.imageDigests];
        if (digest && c.image && !c.image.includes("@")) c.image = `${c.image}@${digest}`;
      }
    }
    return d;
  });
}

type PodSpec = { containers?: { image?: string; args?: string[] }[] };

/** Refuses a manifest whose sha256 is not the one config pins (gitops.flux.manifestSha256). */
export function verifySha256(text: string, expected: string, where: string): string {
  const actual = createHash("sha256").update(text).digest("hex");
  if (actual !== expected) {
    throw new Error(
      `cartorio-plataforma:gitops.flux.manifestSha256: ${where} has sha256 ${actual}, not the pinned ${expected}. ` +
        `Nothing was applied. Review the file; if it is the release you mean, pin its sha256.`,
    );
  }
  return text;
}

/** Downloads the pinned release manifest (or its mirror) and checks it against the pinned sha256. */
export async function fetchInstallManifest(url: string, sha256: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) {
    throw new Error(
      `could not download the Flux install manifest ${url}: HTTP ${res.status}; use gitops.flux.source: embedded ` +
        `(built from Go modules) or mirror with mirrorUrl for air-gapped clusters`,
    );
  }
  return verifySha256(await res.text(), sha256, url);
}
