/**
 * Composition root of cartorio-plataforma: load the one validated config,
 * create the components the stack turns on, export their outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import * as github from "@pulumi/github";
import { loadPlatformConfig } from "./components/config";
import { FluxBootstrap, RepositoryHardening } from "./components/gitops";
import { Kms } from "./components/keys";
import { Inventory, loadInventory } from "./components/keys/inventory";
import { kubernetesProvider } from "./components/platform/kubernetes";
import { loadManifests } from "./components/platform/manifests";
import { LoadGate } from "./components/loadtest";
import { Scaling } from "./components/scaling";
import { capacityPlan } from "./components/scaling/plan";
import { checkHpaTarget } from "./components/scaling/workload";

const projectRoot = __dirname;
const cfg = loadPlatformConfig(projectRoot);

// Files the config points at are checked before any resource is registered, all problems together.
const problems: string[] = [];
const attempt = <T>(fn: () => T): T | undefined => {
  try {
    return fn();
  } catch (e) {
    problems.push((e as Error).message);
    return undefined;
  }
};
const inventory: Inventory | undefined = cfg.features.keys
  ? attempt(() => loadInventory(path.resolve(projectRoot, cfg.kms.inventory)))
  : undefined;
if (cfg.features.scaling) {
  const docs = attempt(() => loadManifests(path.resolve(projectRoot, cfg.workload.manifestsDir)));
  if (docs) {
    problems.push(
      ...checkHpaTarget(docs, {
        namespace: cfg.workload.namespace,
        deployment: cfg.workload.deployment,
        dir: cfg.workload.manifestsDir,
      }),
    );
  }
}
if (problems.length > 0) {
  throw new pulumi.RunError(`stack ${pulumi.getStack()}: nothing was changed:\n${problems.join("\n")}`);
}

const providers = { kubernetes: kubernetesProvider(cfg.kubernetes) };

export const stack = pulumi.getStack();
export const features = cfg.features;
export const kubernetesMode = cfg.kubernetes.mode;

const scaling = cfg.features.scaling
  ? new Scaling("cartorio-api", { workload: cfg.workload, scaling: cfg.scaling }, { providers })
  : undefined;
export const hpa = scaling && {
  namespace: scaling.namespace,
  name: scaling.hpaName,
  minReplicas: scaling.minReplicas,
  maxReplicas: scaling.maxReplicas,
};
const loadGate =
  cfg.features.loadtest && cfg.loadtest.target
    ? new LoadGate(
        "corregedoria",
        {
          loadtest: cfg.loadtest,
          projectRoot,
          replicasUnderTest: cfg.loadtest.replicasUnderTest ?? cfg.scaling.minReplicas,
          namespace: scaling?.namespace ?? cfg.workload.namespace,
          clusterContext: cfg.kubernetes.mode === "cluster" ? cfg.kubernetes.context : undefined,
        },
        { providers, dependsOn: scaling ? [scaling] : [] },
      )
    : undefined;
export const loadtest = loadGate && {
  result: loadGate.result,
  replicaThroughputRps: loadGate.replicaThroughputRps,
  testRun: loadGate.testRunName,
  distributedVerdict: loadGate.distributedVerdict,
};

/** The capacity plan for the corregedoria's profile: throughput from the latest load test, else from config. */
export const capacity = !cfg.features.scaling
  ? undefined
  : loadGate?.replicaThroughputRps
    ? pulumi
        .all([loadGate.replicaThroughputRps, loadGate.finishedAt!])
        .apply(([rps, at]) => capacityPlan(cfg, { replicaThroughputRps: rps, source: `load test ${at}` }))
    : capacityPlan(cfg);

const kms = inventory
  ? new Kms(
      "kms",
      {
        inventory,
        modulePath: cfg.kms.module,
        pinEnv: cfg.kms.pinEnv,
        namespace: scaling?.namespace ?? cfg.workload.namespace,
      },
      { providers },
    )
  : undefined;
const flux = cfg.features.gitops
  ? new FluxBootstrap("flux", { gitops: cfg.gitops, renderOnly: cfg.kubernetes.mode === "render" }, { providers })
  : undefined;
export const gitops = flux && {
  syncUrl: flux.syncUrl,
  fluxVersion: flux.fluxVersion,
  deployKeyFingerprint: flux.deployKeyFingerprint,
};

if (flux && cfg.features.repositoryHardening) {
  // GITHUB_TOKEN comes from the environment; the owner from config.
  const githubProvider = new github.Provider("github", { owner: cfg.gitops.owner });
  new RepositoryHardening(
    "repository",
    { gitops: cfg.gitops, deployKeyPublic: flux.deployKeyPublic },
    { providers: { github: githubProvider } },
  );
}

export const keys = kms && { tokens: kms.tokens, keys: kms.keys, configMap: kms.configMapName };
