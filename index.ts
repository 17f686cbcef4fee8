/**
 * Composition root of cartorio-plataforma: load the one validated config,
 * check what it points at, create the components the stack turns on, return
 * their outputs (the stack outputs).
 *
 * An async program: in cluster mode the API server is asked first, so an
 * unreachable cluster stops the run before anything is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import * as github from "@pulumi/github";
import { loadPlatformConfig } from "./components/config";
import { FluxBootstrap, RepositoryHardening } from "./components/gitops";
import { readFluxManifest } from "./components/gitops/embedded";
import { LocalGitServer, localGitServer } from "./components/gitops/local";
import { MaintainerKey, readMaintainerKeys } from "./components/gitops/signing";
import { Kms } from "./components/keys";
import { slotProblems } from "./components/keys/providers";
import { Inventory, loadInventory } from "./components/keys/inventory";
import { clusterProblem, kubeconfigPath } from "./components/platform/cluster";
import { kubernetesProvider } from "./components/platform/kubernetes";
import { loadManifests } from "./components/platform/manifests";
import { CapacityMeasure, LoadGate } from "./components/loadtest";
import { workloadImages } from "./components/loadtest/rollout";
import { Scaling } from "./components/scaling";
import { capacityPlan } from "./components/scaling/plan";
import { checkHpaTarget } from "./components/scaling/workload";

const projectRoot = __dirname;

interface ProgramDeps {
  /** Asks the cluster before anything is registered (tests of the graph pass a stand-in). */
  clusterProblem: typeof clusterProblem;
  /** Reads the local Git server's folder (tests of the graph pass a stand-in). */
  localGitServer: typeof localGitServer;
  /**
   * Judges the inventory's signing tokens on the HSM before anything is registered. Callers whose
   * stand-ins leave it out skip that pre-flight: the graph tests, under mocks, where no provider asks
   * the HSM either.
   */
  slotProblems?: typeof slotProblems;
}

/**
 * The error that stops a run before anything is registered. One problem is one line (the stack, the
 * problem with its fix and the command that checks it); several are a line saying how many, then one each.
 */
function stopMessage(stack: string, problems: string[]): string {
  if (problems.length === 1) return `stack ${stack}: ${problems[0].replace(/\.$/, "")}; nothing was changed`;
  return `stack ${stack}: ${problems.length} problems; nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}

async function program(deps: ProgramDeps = { clusterProblem, localGitServer, slotProblems }) {
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
  const gateOn = cfg.features.loadtest && cfg.loadtest.target !== undefined;
  let workloadImagesDeclared: string[] = [];
  if (cfg.features.scaling || gateOn) {
    const docs = attempt(() => loadManifests(path.resolve(projectRoot, cfg.workload.manifestsDir)));
    if (docs && cfg.features.scaling) {
      problems.push(
        ...checkHpaTarget(docs, {
          namespace: cfg.workload.namespace,
          deployment: cfg.workload.deployment,
          dir: cfg.workload.manifestsDir,
        }),
      );
    }
    // The release the load gate measures: the images the workload's manifests declare.
    workloadImagesDeclared = docs ? workloadImages(docs, cfg.workload) : [];
    if (docs && gateOn && workloadImagesDeclared.length === 0) {
      problems.push(
        `cartorio-plataforma:loadtest: the load gate measures Deployment ${cfg.workload.namespace}/` +
          `${cfg.workload.deployment}, which ${cfg.workload.manifestsDir}/ declares without an image; ` +
          "fix the manifests or set cartorio-plataforma:workload",
      );
    }
  }
  // Flux's install manifest (assembled at build time, or downloaded and checked against its pinned sha256)
  // and the local Git server are read now: their problems stop the run with the others, before anything.
  let fluxManifest: string | undefined;
  if (cfg.features.gitops) {
    try {
      fluxManifest = await readFluxManifest(cfg.gitops.flux);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  // With signed history on, Flux verifies every commit against these keys: a bad or missing key
  // would make it refuse every commit in the cluster, so it stops the run here instead.
  let maintainerKeys: MaintainerKey[] | undefined;
  if (cfg.features.gitops && cfg.gitops.requireSignedCommits) {
    try {
      maintainerKeys = await readMaintainerKeys(
        path.resolve(projectRoot, cfg.gitops.maintainerKeys),
        "cartorio-plataforma:gitops.maintainerKeys",
        new Date(),
      );
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const localGit: LocalGitServer | undefined =
    cfg.features.gitops && cfg.gitops.git.server === "local"
      ? attempt(() => deps.localGitServer(cfg.gitops, projectRoot))
      : undefined;
  // A deployment logs in to the HSM; a preview (of a PR, untrusted) has no PIN and validates without it.
  // Only the variable's presence is read here: the PIN itself stays with the providers.
  if (cfg.features.keys && !pulumi.runtime.isDryRun() && !process.env[cfg.kms.pinEnv]) {
    problems.push(
      `cartorio-plataforma:kms.pinEnv: set the user PIN in the environment variable ${cfg.kms.pinEnv} (kms.pinEnv); ` +
        "a deployment logs in to the HSM (previews validate the slots without it)",
    );
  }
  // The signing tokens, judged on the HSM now: the slot provider's own validation (one login per token, with
  // the PIN when this run has one; without it the PIN check above speaks). A label the HSM does not have, a
  // locked token or a refused PIN stops the run here, as one line, before any resource is registered. Left
  // to the provider's check alone it would stop the deployment midway: the engine prints the failure, then
  // cancels what it had started (flux-install's objects), and their Kubernetes provider, shut down under
  // them, adds "grpc: the client connection is closing" errors that have nothing to do with the HSM.
  if (inventory && deps.slotProblems) {
    problems.push(
      ...deps.slotProblems(
        { modulePath: cfg.kms.module, pinEnv: cfg.kms.pinEnv, tokens: inventory.tokens, loginRequired: false },
        { inventory: cfg.kms.inventory, stack: pulumi.getStack() },
      ).failures,
    );
  }
  // Every component applies Kubernetes objects: in cluster mode the API server must answer first.
  if (cfg.kubernetes.mode === "cluster") {
    const problem = await deps.clusterProblem(cfg.kubernetes, projectRoot);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) {
    throw new pulumi.RunError(stopMessage(pulumi.getStack(), problems));
  }

  const providers = { kubernetes: kubernetesProvider(cfg.kubernetes) };

  const stack = pulumi.getStack();
  const features = cfg.features;
  const kubernetesMode = cfg.kubernetes.mode;

  const scaling = cfg.features.scaling
    ? new Scaling("cartorio-api", { workload: cfg.workload, scaling: cfg.scaling }, { providers })
    : undefined;
  const hpa = scaling && {
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
            namespace: scaling?.namespace ?? cfg.workload.namespace,
            clusterContext: cfg.kubernetes.mode === "cluster" ? cfg.kubernetes.context : undefined,
            clusterKubeconfig:
              cfg.kubernetes.mode === "cluster" && cfg.kubernetes.kubeconfig
                ? kubeconfigPath(cfg.kubernetes, projectRoot)
                : undefined,
            workload: {
              namespace: cfg.workload.namespace,
              deployment: cfg.workload.deployment,
              images: workloadImagesDeclared,
            },
          },
          { providers, dependsOn: scaling ? [scaling] : [] },
        )
      : undefined;
  const loadtest = loadGate && {
    result: loadGate.result,
    testRun: loadGate.testRunName,
    distributedVerdict: loadGate.distributedVerdict,
  };

  // Capacity measured at a fixed replica count (loadtest.capacity); only that feeds the plan.
  const capacityMeasure =
    cfg.features.loadtest && cfg.loadtest.capacity.target
      ? new CapacityMeasure(
          "capacidade",
          {
            loadtest: cfg.loadtest,
            projectRoot,
            images: workloadImagesDeclared,
            cluster:
              cfg.kubernetes.mode === "cluster"
                ? { kubeconfig: kubeconfigPath(cfg.kubernetes, projectRoot), context: cfg.kubernetes.context }
                : undefined,
          },
          { providers, dependsOn: loadGate ? [loadGate] : [] },
        )
      : undefined;

  // The capacity plan for the corregedoria's profile: throughput from the capacity run, else from config.
  const capacity = !cfg.features.scaling
    ? undefined
    : capacityMeasure
      ? capacityMeasure.measurement.apply((m) => capacityPlan(cfg, m))
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
    ? new FluxBootstrap(
        "flux",
        {
          gitops: cfg.gitops,
          renderOnly: cfg.kubernetes.mode === "render",
          installManifest: fluxManifest,
          localGit,
          maintainerKeys,
          cluster:
            cfg.kubernetes.mode === "cluster"
              ? { kubeconfig: kubeconfigPath(cfg.kubernetes, projectRoot), context: cfg.kubernetes.context }
              : undefined,
        },
        { providers },
      )
    : undefined;
  const gitops = flux && {
    syncUrl: flux.syncUrl,
    fluxVersion: flux.fluxVersion,
    deployKeyFingerprint: flux.deployKeyFingerprint,
    syncedRevision: flux.syncedRevision,
    maintainerKeyFingerprints: flux.maintainerKeyFingerprints,
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

  const keys = kms && { tokens: kms.tokens, keys: kms.keys, configMap: kms.configMapName };

  const outputs = { stack, features, kubernetesMode, hpa, loadtest, capacity, gitops, keys };
  // An area that is off exports nothing (the engine warns about undefined outputs).
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)) as typeof outputs;
}

export = program;
