/**
 * What the audit takes from a live object (components/policy/audit.ts auditedObjects): a Deployment's
 * spec.replicas counts as declared (CART-SCL-002) only when a manager set it on the object itself, as its
 * managedFields record; the API server's default and the HPA's writes through the scale subresource don't.
 * (Found on the embedded cluster: every HPA-scaled Deployment was reported.)
 */
import { describe, expect, it } from "vitest";
import { auditedObjects } from "../../components/policy/audit";

const deployment = (managedFields: unknown[]) => ({
  metadata: { name: "cartorio-api", namespace: "cartorio", managedFields },
  spec: { replicas: 3, template: { spec: { containers: [] } } },
});
const replicasOf = (managedFields: unknown[]) =>
  auditedObjects([{ kind: "Deployment", items: [deployment(managedFields) as never] }])[0].spec?.replicas;

describe("live replicas", () => {
  it("drops spec.replicas that only the defaults and the HPA's scale subresource wrote", () => {
    expect(
      replicasOf([
        { manager: "kustomize-controller", operation: "Apply", fieldsV1: { "f:spec": { "f:selector": {} } } },
        {
          manager: "kube-controller-manager",
          operation: "Update",
          subresource: "scale",
          fieldsV1: { "f:spec": { "f:replicas": {} } },
        },
      ]),
    ).toBeUndefined();
  });

  it("keeps spec.replicas a manager applied or patched on the object", () => {
    expect(
      replicasOf([{ manager: "kubectl-patch", operation: "Update", fieldsV1: { "f:spec": { "f:replicas": {} } } }]),
    ).toBe(3);
    expect(
      replicasOf([
        { manager: "kustomize-controller", operation: "Apply", fieldsV1: { "f:spec": { "f:replicas": {} } } },
      ]),
    ).toBe(3);
  });
});
