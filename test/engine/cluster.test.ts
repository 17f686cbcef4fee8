/**
 * The local stack through the real engine against a real API server: the
 * embedded control plane (etcd, kube-apiserver with Pod Security admission,
 * kube-controller-manager, and the GitOps loop beside it) started for this file
 * and stopped after.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadManifests } from "../../components/platform/manifests";
import { listKeyLabels } from "../../components/keys/hsm";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import { engineProject, EngineProject, USER_PIN } from "../helpers/engine";
import { commitCopy, projectCommand, runEvidence } from "../helpers/evidence";
import { validateReport } from "../../components/evidence/schema";
import { PROJECT_ROOT, SOFTHSM_MODULE } from "../helpers/tools";

const ENGINE_TIMEOUT = 600_000;
let cluster: TestCluster;
let project: EngineProject;
let head: string;
const logs: string[] = [];
const collect = (s: string) => logs.push(s);
const pack = () => [path.join(project.dir, "policypack")];

describe("the local stack on the embedded cluster", () => {
  beforeAll(async () => {
    cluster = await startTestCluster();
    project = await engineProject({ kubeconfig: cluster.kubeconfig, gitDir: cluster.gitDir });
    // The copy's own commit is what Flux syncs and what the evidence report names.
    head = commitCopy(project);
    cluster.publish(project.dir);
  }, ENGINE_TIMEOUT);
  afterAll(async () => cluster?.stop());

  it(
    "up applies everything with the policy pack; a second up changes nothing",
    async () => {
      const stack = await project.stack("local");
      const res = await stack.up({ onOutput: collect, policyPacks: pack() });
      expect(res.summary.result).toBe("succeeded");
      expect(res.outputs.kubernetesMode.value).toBe("cluster");
      // Areas that are off export nothing, rather than an undefined output the engine warns about.
      // (Other warnings are legitimate here: the provider relays the HPA controller's FailedGetScale
      // events while nothing applies manifests/ yet.)
      expect(res.stdout).not.toMatch(/Undefined value .* will not show as a stack output/);
      const again = await stack.up({ onOutput: collect, policyPacks: pack() });
      expect(Object.keys(again.summary.resourceChanges ?? {})).toEqual(["same"]);
    },
    ENGINE_TIMEOUT,
  );

  it("the objects are in the API server: namespaces, HPA, PDB, default deny, KMS inventory, Flux CRDs and sync objects", () => {
    for (const ns of ["cartorio", "flux-system"]) cluster.kubectlOk(["get", "namespace", ns]);
    const labels = JSON.parse(cluster.kubectlOk(["get", "namespace", "cartorio", "-o", "json"])).metadata.labels;
    expect(labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    for (const [kind, name] of [
      ["hpa", "cartorio-api"],
      ["pdb", "cartorio-api"],
      ["networkpolicy", "default-deny"],
      ["configmap", "cartorio-kms-inventory"],
    ])
      cluster.kubectlOk(["get", kind, name, "-n", "cartorio"]);
    for (const crd of ["gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"]) {
      const obj = JSON.parse(cluster.kubectlOk(["get", "crd", crd, "-o", "json"]));
      expect(obj.metadata.labels).toMatchObject({
        "app.kubernetes.io/part-of": "flux",
        "app.kubernetes.io/instance": "flux-system",
        "app.kubernetes.io/version": "v2.9.5",
      });
    }
    const repo = JSON.parse(
      cluster.kubectlOk(["get", "gitrepository", "flux-system", "-n", "flux-system", "-o", "json"]),
    );
    // The local stack syncs from the embedded cluster's Git server (test/engine/gitops.test.ts follows the loop).
    expect(repo.spec.url).toMatch(/^ssh:\/\/git@127\.0\.0\.1:\d+\/cartorio-digital\/infraestrutura$/);
    cluster.kubectlOk(["get", "kustomization", "flux-system", "-n", "flux-system"]);
    // The deploy key reached the cluster as a Secret and nowhere in the engine's output.
    const secret = JSON.parse(cluster.kubectlOk(["get", "secret", "flux-system", "-n", "flux-system", "-o", "json"]));
    const identity = Buffer.from(secret.data.identity, "base64").toString();
    expect(identity).toMatch(/PRIVATE KEY/);
    expect(logs.join("").includes(identity.split("\n")[1])).toBe(false);
  });

  it("kubectl describe hpa cartorio-api -n cartorio shows the bounds, both metrics and the behavior from config", () => {
    const text = cluster.kubectlOk(["describe", "hpa", "cartorio-api", "-n", "cartorio"]);
    expect(text).toMatch(/Min replicas:\s+3/);
    expect(text).toMatch(/Max replicas:\s+20/);
    expect(text).toMatch(/resource cpu on pods\s+\(as a percentage of request\):\s+<unknown> \/ 70%/);
    expect(text).toMatch(/resource memory on pods\s+\(as a percentage of request\):\s+<unknown> \/ 80%/);
    expect(text).toMatch(
      /Scale Up:\s+Stabilization Window: 0 seconds\s+Select Policy: Max\s+Policies:\s+- Type: Percent\s+Value: 100\s+Period: 15 seconds\s+- Type: Pods\s+Value: 4\s+Period: 15 seconds/,
    );
    expect(text).toMatch(
      /Scale Down:\s+Stabilization Window: 300 seconds\s+Select Policy: Max\s+Policies:\s+- Type: Percent\s+Value: 100\s+Period: 15 seconds/,
    );
    expect(text).toMatch(/Deployment\/cartorio-api/);
  });

  it(
    "npm run evidence on the local stack waits for Flux to apply its commit, reads the cluster, and verifies against the trust anchor alone",
    async () => {
      const stack = await project.stack("local");
      const dir = runEvidence(project, "local", await stack.outputs());
      const report = validateReport(JSON.parse(fs.readFileSync(path.join(dir, "report.json"), "utf8")));
      expect(report.audit.status).toBe("collected");
      if (report.audit.status === "collected") {
        expect(report.audit.data.objects).toBeGreaterThan(20);
        // What the platform applied passes its own rulebook on the live cluster (HPA-set replicas included).
        expect(report.audit.data.findings.filter((f) => f.level === "deny")).toEqual([]);
      }
      expect(report.hpa.status === "collected" && report.hpa.data.describe).toMatch(/Max replicas:\s+20/);
      // What the HPA controller read and decided, as data: always written now (the cluster has a metrics API).
      if (report.hpa.status === "collected") {
        expect(report.hpa.data.replicas).toMatchObject({ min: 3, max: 20 });
        expect(Array.isArray(report.hpa.data.currentMetrics) && Array.isArray(report.hpa.data.decisions)).toBe(true);
      }
      // Flux's own word that it applied this very commit, re-read from the cluster.
      expect(report.flux).toMatchObject({
        status: "collected",
        data: { expected: head, revision: `main@sha1:${head}`, converged: true },
      });
      // The pods of namespace cartorio, whatever their state (simulated by kwok here: no image digest reported).
      expect(report.running.status === "collected" && report.running.data.namespace).toBe("cartorio");
      expect(report.chain).toEqual({ sequence: 1, previous: null });
      expect(report.loadTest).toEqual({ status: "not run", reason: "features.loadtest is off in this stack" });
      // The cluster is not consulted: verification passes with the cluster stopped.
      await cluster.stop();
      try {
        const verify = projectCommand(project, "evidence-verify", [dir]);
        expect(verify.stderr).toBe("");
        expect(verify.stdout).toContain("in the trust anchor .local/evidencias/local.yaml");
        expect(verify.status).toBe(0);
      } finally {
        await cluster.start();
      }
      for (const f of fs.readdirSync(dir)) expect(fs.readFileSync(path.join(dir, f), "utf8")).not.toContain(USER_PIN);
    },
    ENGINE_TIMEOUT,
  );

  describe("Pod Security admission on namespace cartorio", () => {
    const pod = (name: string, container: Record<string, unknown>, podSecurity: Record<string, unknown> = {}) =>
      stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: "cartorio" },
        spec: {
          // The rest of the rulebook too: namespace cartorio also has the rulebook's webhook, and the pod that
          // is admitted must pass it, so that the rejections here are Pod Security's alone.
          automountServiceAccountToken: false,
          securityContext: podSecurity,
          containers: [{ name: "app", image: "registry.cartorio.example/app@sha256:" + "b".repeat(64), ...container }],
        },
      });
    const restricted = {
      resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "16Mi" } },
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        seccompProfile: { type: "RuntimeDefault" },
      },
    };

    it("rejects a privileged pod, in the API's own words", () => {
      const res = cluster.kubectl(
        ["apply", "--dry-run=server", "-f", "-"],
        // Privileged implies escalation: the API's validation refuses allowPrivilegeEscalation: false beside it.
        pod("privilegiado", {
          securityContext: { ...restricted.securityContext, allowPrivilegeEscalation: undefined, privileged: true },
        }),
      );
      expect(res.status).not.toBe(0);
      expect(res.stderr).toMatch(
        /violates PodSecurity "restricted:latest": .*privileged \(container "app" must not set securityContext\.privileged=true\)/,
      );
    });

    it("rejects a pod without runAsNonRoot", () => {
      const { runAsNonRoot: _omit, ...rest } = restricted.securityContext;
      const res = cluster.kubectl(
        ["apply", "--dry-run=server", "-f", "-"],
        pod("sem-nonroot", { securityContext: rest }),
      );
      expect(res.status).not.toBe(0);
      expect(res.stderr).toMatch(/violates PodSecurity "restricted:latest": runAsNonRoot != true/);
    });

    it("admits a restricted pod (the rejections above are Pod Security's, not something else)", () => {
      cluster.kubectlOk(["apply", "--dry-run=server", "-f", "-"], pod("conforme", restricted));
    });

    it("admits every file of manifests/, and the pods its workloads would create", () => {
      const dir = path.join(PROJECT_ROOT, "manifests");
      // Every Kubernetes object of the folder (its kustomization.yaml is kustomize's, not the API's).
      const objects = loadManifests(dir).filter((m) => !m.doc.apiVersion?.startsWith("kustomize.config.k8s.io/"));
      expect(objects.length).toBeGreaterThan(3);
      for (const m of objects) {
        // Flux applies the same files here: their fields are its, and this dry run is about admission alone.
        const res = cluster.kubectl(
          ["apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-"],
          stringify(m.doc),
        );
        expect(res.stderr, m.file).not.toMatch(/Warning|violates/);
        expect(res.status, `${m.file}: ${res.stderr}`).toBe(0);
      }
      // Deployments are only warned about; the pods their ReplicaSets create are what enforcement judges.
      // Those pods name their ServiceAccounts, which admission looks up: create them for real (what Flux
      // would apply first), then remove them.
      const accounts = objects.filter((m) => m.doc.kind === "ServiceAccount");
      for (const m of accounts) cluster.kubectlOk(["apply", "--server-side", "-f", "-"], stringify(m.doc));
      const workloads = objects.map((m) => m.doc).filter((d) => d.kind === "Deployment");
      expect(workloads.length).toBeGreaterThan(0);
      for (const d of workloads) {
        const tpl = (d.spec as { template: { metadata?: object; spec: object } }).template;
        const asPod = stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { ...(tpl.metadata ?? {}), name: `${d.metadata?.name}-pod`, namespace: "cartorio" },
          spec: tpl.spec,
        });
        const res = cluster.kubectl(["apply", "--dry-run=server", "-f", "-"], asPod);
        expect(res.status, `${d.metadata?.name}: ${res.stderr}`).toBe(0);
        expect(res.stderr).not.toMatch(/Warning|violates/);
      }
      for (const m of accounts) cluster.kubectlOk(["delete", "-f", "-"], stringify(m.doc));
    });
  });

  it(
    "drift: maxReplicas changed with kubectl shows in preview --refresh, and up --refresh restores it",
    async () => {
      cluster.kubectlOk([
        "patch",
        "hpa",
        "cartorio-api",
        "-n",
        "cartorio",
        "--type=merge",
        "-p",
        '{"spec":{"maxReplicas":7}}',
      ]);
      const stack = await project.stack("local");
      const preview = await stack.preview({ refresh: true, diff: true, onOutput: collect });
      expect(preview.changeSummary.update).toBe(1);
      expect(preview.stdout).toMatch(/maxReplicas\s*:\s*7\s*=>\s*20/);
      const res = await stack.up({ refresh: true, onOutput: collect, policyPacks: pack() });
      expect(res.summary.resourceChanges?.update).toBe(1);
      const hpa = JSON.parse(cluster.kubectlOk(["get", "hpa", "cartorio-api", "-n", "cartorio", "-o", "json"]));
      expect(hpa.spec.maxReplicas).toBe(20);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "with the cluster down, up fails naming the kubeconfig and context, and the state is unchanged",
    async () => {
      const stack = await project.stack("local");
      const before = (await stack.exportStack()).deployment.resources.map((r: { urn: string }) => r.urn).sort();
      await cluster.stop();
      try {
        const err = await stack.up({ onOutput: collect }).then(
          () => undefined,
          (e: Error) => e,
        );
        const text = String(err);
        expect(text).toContain(`context local of kubeconfig ${cluster.kubeconfig}`);
        expect(text).toMatch(/is not reachable: ECONNREFUSED/);
        expect(text).toContain("npm run cluster -- up");
        expect(text).not.toMatch(/at .*\.ts:\d+/);
        const after = (await stack.exportStack()).deployment.resources.map((r: { urn: string }) => r.urn).sort();
        expect(after).toEqual(before);
      } finally {
        await cluster.start();
      }
      const preview = await stack.preview({ onOutput: collect });
      expect(Object.keys(preview.changeSummary)).toEqual(["same"]);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "destroy keeps namespaces cartorio and flux-system, the workload's guard rails (default deny, HPA, PDB, KMS inventory) and every HSM key; up after destroy adopts them",
    async () => {
      const stack = await project.stack("local");
      await stack.destroy({ onOutput: collect });
      for (const ns of ["cartorio", "flux-system"]) cluster.kubectlOk(["get", "namespace", ns]);
      // Flux's cartorio-api keeps running: so do its NetworkPolicy, HPA, PDB and the inventory it mounts (#29).
      for (const [kind, name] of [
        ["networkpolicy", "default-deny"],
        ["hpa", "cartorio-api"],
        ["pdb", "cartorio-api"],
        ["configmap", "cartorio-kms-inventory"],
      ])
        cluster.kubectlOk(["get", kind, name, "-n", "cartorio"]);
      project.hsm.activate();
      expect(listKeyLabels(SOFTHSM_MODULE, { label: "cartorio-local" }, USER_PIN)).toEqual([
        "atos-notariais-v1",
        "evidencias-v1",
        "selo-digital-v1",
      ]);
      const res = await stack.up({ onOutput: collect, policyPacks: pack() });
      expect(res.summary.result).toBe("succeeded");
      const again = await stack.up({ onOutput: collect });
      expect(Object.keys(again.summary.resourceChanges ?? {})).toEqual(["same"]);
      cluster.kubectlOk(["get", "hpa", "cartorio-api", "-n", "cartorio"]);
    },
    ENGINE_TIMEOUT,
  );
});
