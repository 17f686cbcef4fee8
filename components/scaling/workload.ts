/**
 * The link between the HPA and the workload manifests: the Deployment the HPA
 * targets exists in manifests/, sets no spec.replicas (the HPA owns it) and
 * sets CPU requests (utilisation targets are relative to them).
 */
import type { ManifestDoc } from "../platform/manifests";

interface Container {
  name?: string;
  resources?: { requests?: { cpu?: string | number } };
}

export function checkHpaTarget(
  docs: ManifestDoc[],
  target: { namespace: string; deployment: string; dir: string },
): string[] {
  const matches = docs.filter(
    (d) =>
      d.doc.kind === "Deployment" &&
      d.doc.metadata?.name === target.deployment &&
      (d.doc.metadata?.namespace ?? "default") === target.namespace,
  );
  const who = `Deployment ${target.namespace}/${target.deployment}`;
  if (matches.length === 0) {
    return [
      `${target.dir}/: no ${who} among ${docs.length} manifests; the HPA would target nothing (check workload.deployment and workload.namespace)`,
    ];
  }
  if (matches.length > 1)
    return [`${target.dir}/: ${who} is declared ${matches.length} times (${matches.map((m) => m.file).join(", ")})`];
  const { file, doc } = matches[0];
  const problems: string[] = [];
  const spec = (doc.spec ?? {}) as { replicas?: number; template?: { spec?: { containers?: Container[] } } };
  if (spec.replicas !== undefined) {
    problems.push(
      `${file}: ${who} sets spec.replicas (${spec.replicas}); remove it: the HPA owns the replica count, and Flux would reset it`,
    );
  }
  for (const c of spec.template?.spec?.containers ?? []) {
    if (c.resources?.requests?.cpu === undefined) {
      problems.push(
        `${file}: container ${c.name ?? "?"} of ${who} sets no CPU request; the HPA's CPU utilisation target needs one`,
      );
    }
  }
  return problems;
}
