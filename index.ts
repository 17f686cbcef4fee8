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
import type { PlatformConfig } from "./components/config/schema";
import { FluxBootstrap, RepositoryHardening } from "./components/gitops";
import { readFluxManifest } from "./components/gitops/embedded";
import { LocalGitServer, localGitServer } from "./components/gitops/local";
import { MaintainerKey, readMaintainerKeys } from "./components/gitops/signing";
import { Kms } from "./components/keys";
import { Admission } from "./components/policy/admission";
import { localEndpoint } from "./components/policy/admission-objects";
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
  /** Reads the embedded cluster's admission endpoint (tests of the graph pass a stand-in). */
  localAdmission?: typeof localEndpoint;
}

/**
 * The error that stops a run before anything is registered. One problem is one line (the stack, the
 * problem with its fix and the command that checks it); several are a line saying how many, then one each.
 */
function stopMessage(stack: string, problems: string[]): string {
  if (problems.length === 1) return `stack ${stack}: ${problems[0].replace(/\.$/, "")}; nothing was changed`;
  return `stack ${stack}: ${problems.length} problems; nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}

/** What the pre-flight read and checked, for the areas to use: nothing is registered before it passes. */
interface Checked {
  inventory?: Inventory;
  /** The images manifests/ declares for the workload: the release the load gate measures. */
  workloadImages: string[];
  fluxManifest?: string;
  maintainerKeys?: MaintainerKey[];
  localGit?: LocalGitServer;
  /** The embedded cluster's admission process (admission.server local). */
  localAdmission?: ReturnType<typeof localEndpoint>;
}

/**
 * Everything the config points at, checked before any resource is registered, all problems together:
 * files, Flux's install manifest, the maintainers' keys, the local Git server, the HSM's tokens (and the
 * PIN's presence on a deployment), the API server in cluster mode. Any problem stops the run as one
 * RunError (stopMessage): nothing was changed.
 */
async function preflight(cfg: PlatformConfig, deps: ProgramDeps): Promise<Checked> {
  const problems: string[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      problems.push((e as Error).message);
      return undefined;
    }
  };
  const attemptAsync = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      problems.push((e as Error).message);
      return undefined;
    }
  };
  const checked: Checked = { workloadImages: [] };
  checked.inventory = cfg.features.keys
    ? attempt(() => loadInventory(path.resolve(projectRoot, cfg.kms.inventory)))
    : undefined;
  const gateOn = cfg.features.loadtest && cfg.loadtest.target !== undefined;
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
    checked.workloadImages = docs ? workloadImages(docs, cfg.workload) : [];
    if (docs && gateOn && checked.workloadImages.length === 0) {
      problems.push(
        `cartorio-plataforma:loadtest: the load gate measures Deployment ${cfg.workload.namespace}/` +
          `${cfg.workload.deployment}, which ${cfg.workload.manifestsDir}/ declares without an image; ` +
          "fix the manifests or set cartorio-plataforma:workload",
      );
    }
  }
  if (cfg.features.gitops) {
    // Flux's install manifest: assembled at build time, or downloaded and checked against its pinned sha256.
    checked.fluxManifest = await attemptAsync(() => readFluxManifest(cfg.gitops.flux));
    // With signed history on, Flux verifies every commit against these keys: a bad or missing key would
    // make it refuse every commit in the cluster, so it stops the run here instead.
    if (cfg.gitops.requireSignedCommits)
      checked.maintainerKeys = await attemptAsync(() =>
        readMaintainerKeys(
          path.resolve(projectRoot, cfg.gitops.maintainerKeys),
          "cartorio-plataforma:gitops.maintainerKeys",
          new Date(),
        ),
      );
    if (cfg.gitops.git.server === "local")
      checked.localGit = attempt(() => deps.localGitServer(cfg.gitops, projectRoot));
  }
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
  if (checked.inventory && deps.slotProblems) {
    problems.push(
      ...deps.slotProblems(
        { modulePath: cfg.kms.module, pinEnv: cfg.kms.pinEnv, tokens: checked.inventory.tokens, loginRequired: false },
        { inventory: cfg.kms.inventory, stack: pulumi.getStack() },
      ).failures,
    );
  }
  // The admission webhook on the embedded cluster reaches its OPA process: the cluster folder must have one.
  if (admissionOn(cfg) && cfg.admission.server === "local")
    checked.localAdmission = attempt(() =>
      (deps.localAdmission ?? localEndpoint)(kubeconfigPath(cfg.kubernetes, projectRoot)),
    );
  // Every component applies Kubernetes objects: in cluster mode the API server must answer first.
  if (cfg.kubernetes.mode === "cluster") {
    const problem = await deps.clusterProblem(cfg.kubernetes, projectRoot);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) throw new pulumi.RunError(stopMessage(pulumi.getStack(), problems));
  return checked;
}

type Providers = { kubernetes: ReturnType<typeof kubernetesProvider> };

/** The cluster the dynamic providers that watch it read (cluster mode), by kubeconfig and context. */
function clusterOf(cfg: PlatformConfig) {
  return cfg.kubernetes.mode === "cluster"
    ? { kubeconfig: kubeconfigPath(cfg.kubernetes, projectRoot), context: cfg.kubernetes.context }
    : undefined;
}

/** Admission is declared where a cluster admits: cluster mode, or an in-cluster OPA rendered with the rest. */
function admissionOn(cfg: PlatformConfig): boolean {
  return cfg.admission.enabled && (cfg.kubernetes.mode === "cluster" || cfg.admission.server === "in-cluster");
}

/** Policy: the rulebook enforced by the cluster at admission (OPA serving policies/ as a webhook). */
function policyArea(cfg: PlatformConfig, checked: Checked, providers: Providers) {
  if (!admissionOn(cfg)) return undefined;
  const admission = new Admission(
    "admissao",
    { admission: cfg.admission, projectRoot, local: checked.localAdmission },
    { providers },
  );
  return { server: admission.server, webhook: admission.webhookName, rulesDigest: admission.rulesDigest };
}

/** Scaling: the workload's namespace, HPA and PDB. */
function scalingArea(cfg: PlatformConfig, providers: Providers) {
  if (!cfg.features.scaling) return {};
  const scaling = new Scaling("cartorio-api", { workload: cfg.workload, scaling: cfg.scaling }, { providers });
  const hpa = {
    namespace: scaling.namespace,
    name: scaling.hpaName,
    minReplicas: scaling.minReplicas,
    maxReplicas: scaling.maxReplicas,
  };
  return { scaling, hpa };
}

/**
 * Load: the corregedoria's load gate, the capacity run at fixed replicas, and the capacity plan (throughput
 * from the capacity run, else from config; only the capacity at fixed replicas feeds it).
 */
function loadArea(cfg: PlatformConfig, checked: Checked, providers: Providers, scaling?: Scaling) {
  const cluster = clusterOf(cfg);
  const loadGate =
    cfg.features.loadtest && cfg.loadtest.target
      ? new LoadGate(
          "corregedoria",
          {
            loadtest: cfg.loadtest,
            projectRoot,
            namespace: scaling?.namespace ?? cfg.workload.namespace,
            clusterContext: cluster?.context,
            clusterKubeconfig: cluster && cfg.kubernetes.kubeconfig ? cluster.kubeconfig : undefined,
            workload: {
              namespace: cfg.workload.namespace,
              deployment: cfg.workload.deployment,
              images: checked.workloadImages,
            },
          },
          { providers, dependsOn: scaling ? [scaling] : [] },
        )
      : undefined;
  const capacityMeasure =
    cfg.features.loadtest && cfg.loadtest.capacity.target
      ? new CapacityMeasure(
          "capacidade",
          { loadtest: cfg.loadtest, projectRoot, images: checked.workloadImages, cluster },
          { providers, dependsOn: loadGate ? [loadGate] : [] },
        )
      : undefined;
  const capacity = !cfg.features.scaling
    ? undefined
    : capacityMeasure
      ? capacityMeasure.measurement.apply((m) => capacityPlan(cfg, m))
      : capacityPlan(cfg);
  const loadtest = loadGate && {
    result: loadGate.result,
    testRun: loadGate.testRunName,
    distributedVerdict: loadGate.distributedVerdict,
  };
  return { loadtest, capacity };
}

/** Keys: the inventory's keys in the HSM, and its public part published beside the workload. */
function keysArea(cfg: PlatformConfig, checked: Checked, providers: Providers, scaling?: Scaling) {
  if (!checked.inventory) return undefined;
  const kms = new Kms(
    "kms",
    {
      inventory: checked.inventory,
      modulePath: cfg.kms.module,
      pinEnv: cfg.kms.pinEnv,
      namespace: scaling?.namespace ?? cfg.workload.namespace,
    },
    { providers },
  );
  return { tokens: kms.tokens, keys: kms.keys, configMap: kms.configMapName };
}

/** GitOps: Flux bootstrapped on the institutional repository, and that repository's hardening on GitHub. */
function gitopsArea(cfg: PlatformConfig, checked: Checked, providers: Providers) {
  if (!cfg.features.gitops) return undefined;
  const flux = new FluxBootstrap(
    "flux",
    {
      gitops: cfg.gitops,
      renderOnly: cfg.kubernetes.mode === "render",
      installManifest: checked.fluxManifest,
      localGit: checked.localGit,
      maintainerKeys: checked.maintainerKeys,
      cluster: clusterOf(cfg),
    },
    { providers },
  );
  if (cfg.features.repositoryHardening) {
    const record = cfg.gitops.github.api === "record";
    // GITHUB_TOKEN comes from the environment; the owner from config. record sends nothing: no provider.
    const githubProvider = record ? undefined : new github.Provider("github", { owner: cfg.gitops.owner });
    new RepositoryHardening(
      "repository",
      {
        gitops: cfg.gitops,
        deployKeyPublic: flux.deployKeyPublic,
        recordDir: path.resolve(projectRoot, cfg.gitops.github.recordDir),
      },
      githubProvider ? { providers: { github: githubProvider } } : {},
    );
  }
  return {
    syncUrl: flux.syncUrl,
    fluxVersion: flux.fluxVersion,
    deployKeyFingerprint: flux.deployKeyFingerprint,
    syncedRevision: flux.syncedRevision,
    maintainerKeyFingerprints: flux.maintainerKeyFingerprints,
  };
}

/** The program: the one validated config, the pre-flight, one function per area, the stack outputs. */
async function program(deps: ProgramDeps = { clusterProblem, localGitServer, slotProblems }) {
  const cfg = loadPlatformConfig(projectRoot);
  const checked = await preflight(cfg, deps);
  const providers = { kubernetes: kubernetesProvider(cfg.kubernetes) };

  const { scaling, hpa } = scalingArea(cfg, providers);
  const { loadtest, capacity } = loadArea(cfg, checked, providers, scaling);
  const keys = keysArea(cfg, checked, providers, scaling);
  const gitops = gitopsArea(cfg, checked, providers);
  const admission = policyArea(cfg, checked, providers);

  const outputs = {
    stack: pulumi.getStack(),
    features: cfg.features,
    kubernetesMode: cfg.kubernetes.mode,
    hpa,
    loadtest,
    capacity,
    gitops,
    keys,
    admission,
  };
  // An area that is off exports nothing (the engine warns about undefined outputs).
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined)) as typeof outputs;
}

export = program;
