/**
 * The Kubernetes provider every component uses: rendering to a folder (local
 * stack, PR previews without a cluster) or applying to a cluster.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesConfig } from "../config/schema";

export function kubernetesProvider(cfg: KubernetesConfig, opts?: pulumi.CustomResourceOptions): k8s.Provider {
  if (cfg.mode === "render") {
    // Relative on purpose: the provider runs in the project folder, and state
    // must not depend on where the repository is cloned.
    return new k8s.Provider("render", { renderYamlToDirectory: cfg.renderDirectory }, opts);
  }
  return new k8s.Provider("cluster", { context: cfg.context || undefined }, opts);
}
