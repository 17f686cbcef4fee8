/**
 * Composition root of cartorio-plataforma: load the one validated config,
 * create the components the stack turns on, export their outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { loadPlatformConfig } from "./components/config";
import { Kms } from "./components/keys";
import { loadInventory } from "./components/keys/inventory";
import { kubernetesProvider } from "./components/platform/kubernetes";
import { Scaling } from "./components/scaling";

const projectRoot = __dirname;
const cfg = loadPlatformConfig(projectRoot);
const k8sProvider = kubernetesProvider(cfg.kubernetes);
const providers = { kubernetes: k8sProvider };

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

const kms = cfg.features.keys
  ? new Kms(
      "kms",
      {
        inventory: loadInventory(path.resolve(projectRoot, cfg.kms.inventory)),
        modulePath: cfg.kms.module,
        pinEnv: cfg.kms.pinEnv,
        namespace: scaling?.namespace ?? cfg.workload.namespace,
      },
      { providers },
    )
  : undefined;
export const keys = kms && { tokens: kms.tokens, keys: kms.keys, configMap: kms.configMapName };
