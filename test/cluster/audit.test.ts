/**
 * npm run audit against the embedded cluster (a real kube-apiserver and its controllers): what runs is
 * judged, not only what was proposed. Compliant objects pass, and so does what Kubernetes bootstraps
 * (exempt by name and content against `kube bootstrap-policy`); a non-compliant object created with
 * kubectl is reported under its namespace with its rule id, and the command exits non-zero — also when
 * it wears a built-in's name or label, or a controller owner reference to nothing.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import * as fs from "node:fs";
import { parseAllDocuments, stringify } from "yaml";
import { gitopsSchema } from "../../components/config/schema";
import { embeddedDir } from "../../components/gitops/embedded";
import { bootstrapObjects } from "../../scripts/cluster/alive";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiReader } from "../../components/platform/kubeapi";
import { readLiveObjects } from "../../components/policy/audit";
import type { K8sObject } from "../../components/policy/rules";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import { PROJECT_ROOT } from "../helpers/tools";

let cluster: TestCluster;
const IMAGE = "registry.cartorio.example/cartorio/cartorio-api@sha256:" + "4".repeat(64);
const labels = {
  "app.kubernetes.io/name": "api",
  "app.kubernetes.io/part-of": "cartorio-plataforma",
  "cartorio.digital/owner": "time-aplicacao",
  "cartorio.digital/data-classification": "confidencial",
};

/** A namespace as the platform declares one: labelled, default deny, a compliant Deployment and its Service. */
const compliant = [
  {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "cartorio", labels: { ...labels, "pod-security.kubernetes.io/enforce": "restricted" } },
  },
  {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "default-deny", namespace: "cartorio" },
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "api", namespace: "cartorio", labels },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/name": "api" } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "api",
              image: IMAGE,
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "128Mi" } },
              readinessProbe: { httpGet: { path: "/readyz", port: 8080 } },
              livenessProbe: { httpGet: { path: "/healthz", port: 8080 } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
        },
      },
    },
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "api", namespace: "cartorio", labels },
    spec: { selector: { "app.kubernetes.io/name": "api" }, ports: [{ port: 80, targetPort: 8080 }] },
  },
];

function runAudit() {
  return spawnSync(
    process.execPath,
    [
      path.join(PROJECT_ROOT, "scripts/ops/run.mjs"),
      "audit",
      "--kubeconfig",
      cluster.kubeconfig,
      "--context",
      cluster.context,
    ],
    { cwd: PROJECT_ROOT, encoding: "utf8" },
  );
}

describe("npm run audit: the rulebook over the live objects of the embedded cluster", () => {
  beforeAll(async () => {
    cluster = await startTestCluster({ flux: false });
    cluster.kubectlOk(["apply", "-f", "-"], compliant.map((d) => stringify(d)).join("---\n"));
    // The controllers made the ReplicaSet and its pods: owned objects, judged through their owner.
    const deadline = Date.now() + 60_000;
    while (!JSON.parse(cluster.kubectlOk(["get", "pods", "-n", "cartorio", "-o", "json"])).items.length) {
      if (Date.now() > deadline) throw new Error("no pod after 60 s");
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 180_000);
  afterAll(async () => cluster?.stop());

  it("what the platform declares passes: exit 0, no mandatory finding", () => {
    const res = runAudit();
    expect(res.stderr).toBe("");
    expect(res.stdout).toMatch(/^audit of context .*: \d+ objects judged$/m);
    expect(res.stdout).toContain("audit: 0 mandatory finding(s)");
    expect(res.status, res.stdout).toBe(0);
  });

  it("what Kubernetes bootstraps, untouched, is exempt: no RBAC object judged, no finding outside the platform's namespace", async () => {
    // Exempt, not merely passing: most built-ins would pass the rules anyway.
    const objects = await readLiveObjects(apiReader({ kubeconfig: cluster.kubeconfig, context: cluster.context }));
    expect(typeof objects).not.toBe("string");
    const rbac = (objects as K8sObject[]).filter((o) => /^(Cluster)?Role(Binding)?$/.test(o.kind ?? ""));
    // Judged, and passing (below): only the roles the embedded cluster gives kwok and metrics-server (the
    // add-ons of an alive cluster, applied by npm run cluster), never Kubernetes' own.
    const name = (o: { kind?: string; metadata?: { namespace?: string; name?: string } }) =>
      `${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
    const addons = bootstrapObjects({
      stagesDir: path.join(cluster.toolsBin, "kwok-stages"),
      metricsPort: 1,
      caBundle: "",
    })
      .map((o) => o as { kind?: string; metadata?: { namespace?: string; name?: string } })
      .filter((o) => /^(Cluster)?Role(Binding)?$/.test(o.kind ?? ""));
    expect(addons.length).toBeGreaterThan(0);
    expect(rbac.map(name).sort()).toEqual(addons.map(name).sort());
    const res = runAudit();
    expect(res.status, res.stdout + res.stderr).toBe(0);
    // cluster-admin, the controllers' roles (wildcards) and their bindings, the kube-system roles ...
    expect(res.stdout).not.toMatch(/^cluster-scoped:$/m);
    expect(res.stdout).not.toMatch(/^namespace (?!cartorio:)/m);
  });

  it("a non-compliant object created with kubectl is reported under its namespace, and the audit fails", () => {
    cluster.kubectlOk(["create", "service", "nodeport", "exposto", "-n", "cartorio", "--tcp=80:8080"]);
    cluster.kubectlOk(["create", "clusterrolebinding", "atalho", "--clusterrole=cluster-admin", "--user=estagiario"]);
    const res = runAudit();
    expect(res.status, res.stdout + res.stderr).toBe(1);
    const nsBlock =
      res.stdout.split("\nnamespace cartorio:\n")[1]?.split(/\n(?:namespace |cluster-scoped:|audit: )/)[0] ?? "";
    expect(nsBlock).toContain(
      "DENY CART-NET-001: Service cartorio/exposto: type NodePort exposes the service on every node",
    );
    expect(res.stdout).toMatch(
      /cluster-scoped:\n(?:.*\n)* {2}DENY CART-RBAC-002: ClusterRoleBinding atalho: binds the ClusterRole cluster-admin/,
    );
    // Owned objects are judged through their owner; Kubernetes' own RBAC defaults are not judged at all.
    expect(res.stdout).not.toMatch(/ReplicaSet |Pod cartorio\/|ClusterRoleBinding cluster-admin:/);
    expect(res.stdout).toMatch(/audit: [1-9]\d* mandatory finding\(s\)/);
  });

  it("a binding named system:anything to cluster-admin, and a privileged Pod with a controller owner that isn't there, are reported", () => {
    // The name and label of Kubernetes' own RBAC defaults are anyone's to choose.
    cluster.kubectlOk([
      "create",
      "clusterrolebinding",
      "system:anything",
      "--clusterrole=cluster-admin",
      "--user=intruso",
    ]);
    cluster.kubectlOk(["label", "clusterrolebinding", "system:anything", "kubernetes.io/bootstrapping=rbac-defaults"]);
    // A made-up ReplicaSet as controller. The garbage collector deletes a dependent whose owner is gone, so the
    // pod carries a finalizer and stays (as anyone who may create it may also make it stay).
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "oculto",
        namespace: "cartorio",
        finalizers: ["cartorio.digital/test-keep"],
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "ReplicaSet", name: "api-fantasma", uid: randomUUID(), controller: true },
        ],
      },
      spec: { containers: [{ name: "shell", image: IMAGE, securityContext: { privileged: true } }] },
    };
    // Pod Security (the namespace enforces restricted) refuses it today: it stands for a pod that predates the
    // enforcement, so it is created with the label off and the label put back (which only warns about it).
    const enforce = "pod-security.kubernetes.io/enforce";
    cluster.kubectlOk(["label", "namespace", "cartorio", `${enforce}-`]);
    cluster.kubectlOk(["apply", "-f", "-"], stringify(pod));
    cluster.kubectlOk(["label", "namespace", "cartorio", `${enforce}=restricted`]);
    const res = runAudit();
    expect(res.status, res.stdout + res.stderr).toBe(1);
    expect(res.stdout).toMatch(
      /cluster-scoped:\n(?:.*\n)* {2}DENY CART-RBAC-002: ClusterRoleBinding system:anything: binds the ClusterRole cluster-admin/,
    );
    const nsBlock =
      res.stdout.split("\nnamespace cartorio:\n")[1]?.split(/\n(?:namespace |cluster-scoped:|audit: )/)[0] ?? "";
    expect(nsBlock).toMatch(/^ {2}DENY CART-PSS-001: Pod cartorio\/oculto: container shell is privileged$/m);
    // The built-in binding cluster-admin, untouched, still is not.
    expect(res.stdout).not.toMatch(/ClusterRoleBinding cluster-admin:/);
    cluster.kubectlOk([
      "patch",
      "pod",
      "oculto",
      "-n",
      "cartorio",
      "--type=merge",
      "-p",
      '{"metadata":{"finalizers":null}}',
    ]);
  });

  it("a second Flux source, an OCIRepository beside the institutional sync, is reported (CART-GIT-002)", () => {
    // Flux's CRDs as the pinned release declares them (this file's cluster runs without Flux).
    const release = gitopsSchema.parse({}).flux.version;
    const wanted = ["gitrepositories.source.toolkit.fluxcd.io", "ocirepositories.source.toolkit.fluxcd.io"];
    const crds = parseAllDocuments(fs.readFileSync(path.join(embeddedDir(release), "install.yaml"), "utf8"))
      .map((d) => d.toJSON() as K8sObject)
      .filter((d) => d?.kind === "CustomResourceDefinition" && wanted.includes(d.metadata?.name as string));
    expect(crds).toHaveLength(2);
    cluster.kubectlOk(["apply", "--server-side", "-f", "-"], crds.map((d) => stringify(d)).join("---\n"));
    cluster.kubectlOk(["wait", "--for=condition=established", "--timeout=60s", ...wanted.map((c) => `crd/${c}`)]);
    const source = {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "OCIRepository",
      metadata: { name: "outra-fonte", namespace: "cartorio", labels },
      spec: { interval: "5m", url: "oci://ghcr.io/intruso/manifestos", ref: { tag: "latest" } },
    };
    cluster.kubectlOk(["apply", "-f", "-"], stringify(source));
    const res = runAudit();
    expect(res.status, res.stdout + res.stderr).toBe(1);
    expect(res.stdout).toMatch(
      /^ {2}DENY CART-GIT-002: OCIRepository cartorio\/outra-fonte: a Flux source other than/m,
    );
    cluster.kubectlOk(["delete", "ocirepository", "outra-fonte", "-n", "cartorio"]);
  });

  it("an unreachable cluster is an error, exit 2, with the fix", () => {
    const res = spawnSync(
      process.execPath,
      [path.join(PROJECT_ROOT, "scripts/ops/run.mjs"), "audit", "--kubeconfig", "/nonexistent/kubeconfig"],
      { cwd: PROJECT_ROOT, encoding: "utf8" },
    );
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/npm run cluster -- up|--kubeconfig/);
  });
});
