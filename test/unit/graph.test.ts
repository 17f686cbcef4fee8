/**
 * The resource graph of each stack under mocks: which components and resources
 * the composition root creates from the stack file. (The engine tests run the same
 * program for real.)
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { rawFromStackFile } from "../../components/config/load";
import { recordResources, Registered, settle } from "../helpers/mocks";
import { PROJECT_ROOT } from "../helpers/tools";

// Nothing downloads Flux's install manifest (embedded source); a download would be recorded here.
const fetched: string[] = [];
globalThis.fetch = (async (url: string) => {
  fetched.push(String(url));
  return new Response("apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n");
}) as typeof fetch;

const LOCAL_GIT = {
  address: "127.0.0.1:40022",
  knownHosts: "[127.0.0.1]:40022 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEIVTH/hkoEGRm130wJ6w+BQVSZ7DC5PynsfZd/OuTDC\n",
  accessFile: "/nonexistent/access",
  revision: "0123456789abcdef0123456789abcdef01234567",
};

/** The embedded cluster's OPA process, as its folder would say. */
const LOCAL_ADMISSION = {
  clientConfig: { url: "https://127.0.0.1:40443/", caBundle: Buffer.from("test CA").toString("base64") },
  rulesDir: "/nonexistent/admission/rules",
};

/**
 * producao verifies signed commits against configs/gitops/maintainers/, empty until the security team
 * commits the real keys: the graph is drawn with the test maintainers' public keys instead.
 */
const TEST_MAINTAINERS = path.join(PROJECT_ROOT, "test/fixtures/maintainers");

async function graphOf(stack: string, change: (raw: Record<string, unknown>) => void = () => {}) {
  vi.resetModules();
  const raw = rawFromStackFile(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`));
  change(raw);
  const config = Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [`cartorio-plataforma:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  pulumi.runtime.setAllConfig(config);
  // The admission certificate (producao) is made by its provider at deploy time: stand-in PEM under mocks.
  const registered = await recordResources(stack, {
    state: (r) =>
      r.type === "pulumi-nodejs:dynamic/cartorio:AdmissionCertificate"
        ? { caPem: "test CA PEM", certPem: "test certificate PEM", keyPem: "test key PEM" }
        : undefined,
  });
  // Components register through the same monitor; record them too.
  const mod = await import("../../index");
  // The cluster pre-flight and the local Git server are the engine tests' business: here nothing is asked.
  const outputs = await mod.default({
    clusterProblem: async () => undefined,
    localGitServer: () => LOCAL_GIT,
    localAdmission: () => LOCAL_ADMISSION,
  });
  await settle();
  expect(outputs.stack).toBe(stack);
  return registered;
}

const types = (g: Registered[]) => [...new Set(g.map((r) => r.type))].sort();

describe("resource graph under mocks", () => {
  let local: Registered[];
  let producao: Registered[];
  beforeAll(async () => {
    local = await graphOf("local");
    producao = await graphOf("producao", (raw) => {
      (raw.gitops as Record<string, unknown>).maintainerKeys = TEST_MAINTAINERS;
    });
  });

  it("producao as committed stops before registering anything: no maintainer key yet, named with the fix", async () => {
    const err = await graphOf("producao").then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain("cartorio-plataforma:gitops.maintainerKeys");
    expect(err?.message).toContain("configs/gitops/maintainers holds no maintainer key");
  });

  it("producao's sync verifies every commit against the maintainers' keys, from Secret maintainer-keys", () => {
    const repo = producao.find((r) => r.type === "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository")!;
    expect(repo.inputs.spec.verify).toEqual({ mode: "HEAD", secretRef: { name: "maintainer-keys" } });
    const keys = producao.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name === "flux-maintainer-keys")!;
    // The Kubernetes SDK marks every Secret's data secret (a wrapped value under mocks), public keys included.
    const data = keys.inputs.stringData.value ?? keys.inputs.stringData;
    expect(Object.keys(data).sort()).toEqual(["mantenedor.sshpub", "mantenedora.asc"]);
    // The local stack syncs the developer's own pushes: nothing verified, no keys Secret.
    const localRepo = local.find((r) => r.type === "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository")!;
    expect(localRepo.inputs.spec.verify).toBeUndefined();
    expect(local.some((r) => r.name === "flux-maintainer-keys")).toBe(false);
  });

  it("local applies to the embedded cluster: its kubeconfig path (never its contents) and context local", () => {
    const provider = local.find((r) => r.type === "pulumi:providers:kubernetes")!;
    expect(provider.name).toBe("cluster");
    expect(provider.inputs.kubeconfig).toBe(".local/cluster/kubeconfig");
    expect(provider.inputs.context).toBe("local");
    expect(provider.inputs.renderYamlToDirectory).toBeUndefined();
  });

  it("both stacks declare the rulebook at admission, fail closed, with kube-system and flux-system exempt", () => {
    const webhook = (g: Registered[]) =>
      g.find((r) => r.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration")!;
    for (const g of [local, producao]) {
      const w = webhook(g).inputs.webhooks[0];
      expect(w.failurePolicy).toBe("Fail");
      expect(w.namespaceSelector.matchExpressions[0].values).toEqual(
        expect.arrayContaining(["kube-system", "flux-system"]),
      );
      expect(w.rules.map((r: { resources: string[] }) => r.resources).flat()).toEqual(
        expect.arrayContaining(["pods", "deployments", "replicasets", "kustomizations", "gitrepositories"]),
      );
    }
    // local: the cluster's OPA process, its rules written into the cluster folder.
    expect(webhook(local).inputs.webhooks[0].clientConfig.url).toBe("https://127.0.0.1:40443/");
    const rules = local.find((r) => r.type === "pulumi-nodejs:dynamic/cartorio:LocalAdmissionRules")!;
    expect(rules.inputs.dir).toBe("/nonexistent/admission/rules");
    expect(Object.keys(rules.inputs.files)).toEqual(
      expect.arrayContaining(["admission.rego", "catalogue.yaml", "main.rego"]),
    );
    expect(Object.keys(rules.inputs.files).some((f) => f.endsWith("_test.rego"))).toBe(false);
    // producao: OPA as a Deployment in its own restricted namespace, reached through its Service.
    expect(webhook(producao).inputs.webhooks[0].clientConfig.caBundle).toBe(
      Buffer.from("test CA PEM").toString("base64"),
    );
    expect(webhook(producao).inputs.webhooks[0].clientConfig.service).toMatchObject({
      namespace: "cartorio-admissao",
      port: 443,
      path: "/",
    });
    const opa = producao.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.name === "admissao-opa")!;
    expect(opa.inputs.spec.replicas).toBe(2);
    expect(opa.inputs.spec.template.spec.containers[0].image).toMatch(
      /^registry\.cartorio\.example\/.*@sha256:[0-9a-f]{64}$/,
    );
    const cm = producao.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "admissao-rules")!;
    expect(Object.keys(cm.inputs.data)).toEqual(expect.arrayContaining(["admission.rego", "catalogue.yaml"]));
    const ns = producao.find((r) => r.type === "kubernetes:core/v1:Namespace" && r.name === "admissao-namespace")!;
    expect(ns.inputs.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("producao applies to the producao cluster context", () => {
    const provider = producao.find((r) => r.type === "pulumi:providers:kubernetes")!;
    expect(provider.name).toBe("cluster");
    expect(provider.inputs.context).toBe("producao");
    expect(provider.inputs.renderYamlToDirectory).toBeUndefined();
  });

  it("both stacks create the scaling and KMS components", () => {
    for (const g of [local, producao]) {
      expect(types(g)).toEqual(
        expect.arrayContaining([
          "kubernetes:core/v1:Namespace",
          "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
          "kubernetes:policy/v1:PodDisruptionBudget",
          "kubernetes:core/v1:ConfigMap",
          "cartorio:scaling:Scaling",
          "cartorio:keys:Kms",
          "pulumi-nodejs:dynamic/cartorio:HsmSlotValidation",
          "pulumi-nodejs:dynamic/cartorio:HsmKey",
        ]),
      );
    }
  });

  it("keys follow each stack's inventory: one HSM key per active key version", () => {
    const keyNames = (g: Registered[]) =>
      g
        .filter((r) => r.type === "pulumi-nodejs:dynamic/cartorio:HsmKey")
        .map((r) => r.name)
        .sort();
    expect(keyNames(local)).toEqual(["kms-atos-notariais", "kms-evidencias", "kms-selo-digital"]);
    expect(keyNames(producao)).toEqual(["kms-api-tls", "kms-atos-notariais", "kms-evidencias", "kms-selo-digital"]);
  });

  it("no input carries the HSM PIN: only the name of its environment variable", () => {
    const slots = local.find((r) => r.name === "kms-slots")!;
    expect(slots.inputs.pinEnv).toBe("CARTORIO_HSM_PIN");
    expect(JSON.stringify(local)).not.toMatch(/"pin"\s*:/);
  });

  it("the HPA takes its bounds from the stack (producao raises maxReplicas)", () => {
    const hpa = (g: Registered[]) =>
      g.find((r) => r.type === "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")!.inputs as {
        spec: object;
        metadata: object;
      };
    expect(hpa(local).spec).toMatchObject({ minReplicas: 3, maxReplicas: 20 });
    expect(hpa(producao).spec).toMatchObject({ minReplicas: 3, maxReplicas: 30 });
    expect(hpa(producao).metadata).toMatchObject({ name: "cartorio-api", namespace: "cartorio" });
  });

  it("the namespace enforces Pod Security restricted and carries ownership and LGPD labels", () => {
    const ns = local.find((r) => r.type === "kubernetes:core/v1:Namespace")!.inputs as {
      metadata: { name: string; labels: Record<string, string> };
    };
    expect(ns.metadata.name).toBe("cartorio");
    expect(ns.metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "cartorio.digital/owner": "time-aplicacao",
      "cartorio.digital/data-classification": "confidencial",
    });
  });

  it("the HPA targets the Deployment with CPU and memory utilisation and the configured behavior", () => {
    const hpa = local.find((r) => r.type === "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")!.inputs as {
      spec: {
        scaleTargetRef: object;
        metrics: { resource: { name: string; target: object } }[];
        behavior: { scaleDown: { stabilizationWindowSeconds: number } };
      };
    };
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: "cartorio-api" });
    expect(hpa.spec.metrics.map((m) => [m.resource.name, m.resource.target])).toEqual([
      ["cpu", { type: "Utilization", averageUtilization: 70 }],
      ["memory", { type: "Utilization", averageUtilization: 80 }],
    ]);
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
  });

  it("the PodDisruptionBudget allows evictions and keeps half of the minimum serving", () => {
    const pdb = local.find((r) => r.type === "kubernetes:policy/v1:PodDisruptionBudget")!.inputs as {
      spec: { maxUnavailable: number; selector: object };
    };
    expect(pdb.spec.maxUnavailable).toBe(1); // minReplicas 3 → floor(3 / 2) = 1
    expect(pdb.spec.selector).toEqual({ matchLabels: { "app.kubernetes.io/name": "cartorio-api" } });
    // A crash-looping replica never blocks a node drain (#29: the default IfHealthyBudget would).
    for (const g of [local, producao]) {
      expect(
        g.find((r) => r.type === "kubernetes:policy/v1:PodDisruptionBudget")!.inputs.spec.unhealthyPodEvictionPolicy,
      ).toBe("AlwaysAllow");
    }
  });

  it("GitOps: both stacks install Flux from the embedded release (no download), declare the sync, its Secret and the wait; only producao hardens GitHub", () => {
    for (const g of [local, producao]) {
      expect(types(g)).toEqual(
        expect.arrayContaining([
          "cartorio:gitops:FluxBootstrap",
          "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository",
          "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization",
          "kubernetes:core/v1:Secret",
          "kubernetes:yaml/v2:ConfigGroup",
          "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
          "pulumi-nodejs:dynamic/cartorio:DeployKeyPair",
          "pulumi-nodejs:dynamic/cartorio:FluxSync",
        ]),
      );
    }
    const install = (g: Registered[]) =>
      (
        g.find((r) => r.type === "kubernetes:yaml/v2:ConfigGroup")!.inputs.objs as {
          kind: string;
          metadata: { name: string };
        }[]
      ).map((o) => `${o.kind}/${o.metadata.name}`);
    // The controllers that run here: their Deployments, accounts and RBAC, Flux's network policies.
    expect(install(local)).toEqual(
      expect.arrayContaining([
        "Deployment/source-controller",
        "Deployment/kustomize-controller",
        "ClusterRoleBinding/cluster-reconciler",
        "NetworkPolicy/allow-egress",
      ]),
    );
    expect(install(local).some((k) => k.includes("helm-controller"))).toBe(false);
    expect(install(producao)).toContain("Deployment/helm-controller");
    // CRDs are resources of their own, kept on delete; the release's Namespace is not installed twice.
    const crds = (g: Registered[]) =>
      g.filter((r) => r.type === "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition").map((r) => r.name);
    expect(crds(local)).toEqual(
      expect.arrayContaining([
        "flux-crd-gitrepositories.source.toolkit.fluxcd.io",
        "flux-crd-kustomizations.kustomize.toolkit.fluxcd.io",
      ]),
    );
    expect(crds(producao)).toContain("flux-crd-helmreleases.helm.toolkit.fluxcd.io");
    for (const g of [local, producao]) {
      expect(
        g.filter(
          (r) =>
            r.type === "kubernetes:core/v1:Namespace" && (r.inputs.metadata as { name: string }).name === "flux-system",
        ),
      ).toHaveLength(1);
      expect(install(g).some((k) => k.startsWith("Namespace/"))).toBe(false);
    }
    // local reads the checkout from the embedded cluster's Git server and authorizes the deploy key there.
    const repo = (g: Registered[]) =>
      g.find((r) => r.type === "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository")!.inputs;
    expect((repo(local).spec as { url: string }).url).toBe("ssh://git@127.0.0.1:40022/cartorio-digital/infraestrutura");
    expect((repo(producao).spec as { url: string }).url).toBe("ssh://git@github.com/cartorio-digital/infraestrutura");
    expect(types(local)).toContain("pulumi-nodejs:dynamic/cartorio:LocalDeployKey");
    expect(types(producao)).not.toContain("pulumi-nodejs:dynamic/cartorio:LocalDeployKey");
    const wait = (g: Registered[]) => g.find((r) => r.type === "pulumi-nodejs:dynamic/cartorio:FluxSync")!.inputs;
    expect(wait(local)).toMatchObject({ revision: LOCAL_GIT.revision, timeoutSeconds: 300, name: "flux-system" });
    expect(wait(producao)).toMatchObject({ revision: "", context: "producao" });
    expect(types(local).some((t) => t.startsWith("github:"))).toBe(false);
    expect(types(producao)).toEqual(
      expect.arrayContaining([
        "kubernetes:core/v1:Secret",
        "kubernetes:yaml/v2:ConfigGroup",
        "cartorio:gitops:RepositoryHardening",
        "pulumi:providers:github",
        "github:index/repositoryDeployKey:RepositoryDeployKey",
        "github:index/repositoryRuleset:RepositoryRuleset",
        "github:index/repositoryFile:RepositoryFile",
        "github:index/repositoryEnvironment:RepositoryEnvironment",
      ]),
    );
    expect(fetched).toEqual([]);
    expect(producao.find((r) => r.type === "pulumi:providers:github")!.inputs.owner).toBe("cartorio-digital");
  });

  it("the load gate runs in producao only (local has no target)", () => {
    expect(types(producao)).toEqual(
      expect.arrayContaining(["cartorio:loadtest:LoadGate", "pulumi-nodejs:dynamic/cartorio:LoadTest"]),
    );
    expect(types(local)).not.toContain("cartorio:loadtest:LoadGate");
  });
});
