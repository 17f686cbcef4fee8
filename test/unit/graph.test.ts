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

// producao downloads Flux's install manifest; here a small stand-in answers instead of the network.
const fetched: string[] = [];
globalThis.fetch = (async (url: string) => {
  fetched.push(String(url));
  return new Response("apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n");
}) as typeof fetch;

async function graphOf(stack: string): Promise<Registered[]> {
  vi.resetModules();
  const raw = rawFromStackFile(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`));
  const config = Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [`cartorio-plataforma:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  pulumi.runtime.setAllConfig(config);
  const registered = await recordResources(stack);
  // Components register through the same monitor; record them too.
  const mod = await import("../../index");
  // The cluster pre-flight is the engine tests' business: here no API server is asked.
  const outputs = await mod.default({ clusterProblem: async () => undefined });
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
    producao = await graphOf("producao");
  });

  it("local applies to the embedded cluster: its kubeconfig path (never its contents) and context local", () => {
    const provider = local.find((r) => r.type === "pulumi:providers:kubernetes")!;
    expect(provider.name).toBe("cluster");
    expect(provider.inputs.kubeconfig).toBe(".local/cluster/kubeconfig");
    expect(provider.inputs.context).toBe("local");
    expect(provider.inputs.renderYamlToDirectory).toBeUndefined();
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
    expect(keyNames(local)).toEqual(["kms-atos-notariais", "kms-selo-digital"]);
    expect(keyNames(producao)).toEqual(["kms-api-tls", "kms-atos-notariais", "kms-selo-digital"]);
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
  });

  it("GitOps: both stacks declare the Flux sync and its Secret; local installs the embedded CRDs without a download; only producao hardens GitHub", () => {
    for (const g of [local, producao]) {
      expect(types(g)).toEqual(
        expect.arrayContaining([
          "cartorio:gitops:FluxBootstrap",
          "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository",
          "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization",
          "pulumi-nodejs:dynamic/cartorio:DeployKeyPair",
        ]),
      );
    }
    // local applies to the embedded cluster: the Secret goes to the API server, the CRDs come from the toolchain.
    expect(types(local)).toEqual(
      expect.arrayContaining(["kubernetes:core/v1:Secret", "kubernetes:yaml/v2:ConfigGroup"]),
    );
    const install = local.find((r) => r.type === "kubernetes:yaml/v2:ConfigGroup")!;
    const kinds = (install.inputs.objs as { kind: string; metadata: { name: string } }[]).map(
      (o) => `${o.kind}/${o.metadata.name}`,
    );
    expect(kinds).toEqual(
      expect.arrayContaining([
        "CustomResourceDefinition/gitrepositories.source.toolkit.fluxcd.io",
        "CustomResourceDefinition/kustomizations.kustomize.toolkit.fluxcd.io",
        "CustomResourceDefinition/helmreleases.helm.toolkit.fluxcd.io",
      ]),
    );
    expect(kinds.every((k) => k.startsWith("CustomResourceDefinition/"))).toBe(true);
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
    expect(fetched).toEqual(["https://github.com/fluxcd/flux2/releases/download/v2.9.5/install.yaml"]);
    expect(producao.find((r) => r.type === "pulumi:providers:github")!.inputs.owner).toBe("cartorio-digital");
  });

  it("the load gate runs in producao only (local has no target)", () => {
    expect(types(producao)).toEqual(
      expect.arrayContaining(["cartorio:loadtest:LoadGate", "pulumi-nodejs:dynamic/cartorio:LoadTest"]),
    );
    expect(types(local)).not.toContain("cartorio:loadtest:LoadGate");
  });
});
