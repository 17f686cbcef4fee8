/** The HPA's link to the workload manifests, and reading manifests with clear errors. */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadManifests, ManifestError } from "../../components/platform/manifests";
import { checkHpaTarget } from "../../components/scaling/workload";
import { PROJECT_ROOT, tempDir } from "../helpers/tools";

const target = { namespace: "cartorio", deployment: "cartorio-api", dir: "manifests" };

function folder(files: Record<string, string>): string {
  const dir = path.join(tempDir("manifests"), "manifests");
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const deployment = (extra = "", cpu = "cpu: 500m") => `apiVersion: apps/v1
kind: Deployment
metadata: {name: cartorio-api, namespace: cartorio}
spec:
${extra}  template:
    spec:
      containers:
        - name: api
          resources: {requests: {${cpu}}}
`;

describe("HPA target in manifests/", () => {
  it("the repository's manifests satisfy the HPA", () => {
    expect(checkHpaTarget(loadManifests(path.join(PROJECT_ROOT, "manifests")), target)).toEqual([]);
  });

  it("a missing Deployment is an error naming the folder", () => {
    const docs = loadManifests(folder({ "svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n" }));
    expect(checkHpaTarget(docs, target)).toEqual([
      "manifests/: no Deployment cartorio/cartorio-api among 1 manifests; the HPA would target nothing (check workload.deployment and workload.namespace)",
    ]);
  });

  it("spec.replicas is an error naming the file", () => {
    const docs = loadManifests(folder({ "app/deployment.yaml": deployment("  replicas: 3\n") }));
    expect(checkHpaTarget(docs, target)).toEqual([
      "manifests/app/deployment.yaml: Deployment cartorio/cartorio-api sets spec.replicas (3); remove it: the HPA owns the replica count, and Flux would reset it",
    ]);
  });

  it("a container without a CPU request is an error", () => {
    const docs = loadManifests(folder({ "deployment.yaml": deployment("", "memory: 1Gi") }));
    expect(checkHpaTarget(docs, target)[0]).toMatch(
      /^manifests\/deployment\.yaml: container api of Deployment cartorio\/cartorio-api sets no CPU request/,
    );
  });
});

describe("reading manifests", () => {
  it("names the file and document of invalid YAML, a missing kind and an empty file, all at once", () => {
    const dir = folder({
      "a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkind: [unclosed\n",
      "b.yaml": "apiVersion: v1\nmetadata: {name: sem-kind}\n",
      "c.yaml": "   \n",
      "d.yaml": "- just\n- a list\n",
    });
    try {
      loadManifests(dir);
      throw new Error("not refused");
    } catch (e) {
      expect(e).toBeInstanceOf(ManifestError);
      const p = (e as ManifestError).problems;
      expect(p[0]).toMatch(/^manifests\/a\.yaml: document 2 is not valid YAML/);
      expect(p).toContain("manifests/b.yaml: document 1 has no kind");
      expect(p).toContain("manifests/c.yaml: the file is empty; remove it or add a manifest");
      expect(p).toContain(
        "manifests/d.yaml: document 1 is not a Kubernetes object (a mapping with apiVersion and kind)",
      );
    }
  });
});
