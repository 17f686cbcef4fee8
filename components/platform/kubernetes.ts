/**
 * The Kubernetes provider every component uses: rendering to a folder (PR
 * previews without a cluster) or applying to a cluster (the embedded one of the
 * local stack, producao).
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
  return new k8s.Provider(
    "cluster",
    {
      // A path (relative to the project, like renderDirectory), never the file's
      // contents: the client key would land in state.
      kubeconfig: cfg.kubeconfig || undefined,
      context: cfg.context || undefined,
      // Server-side apply (the provider's default since v4): field ownership is the API server's.
      enableServerSideApply: true,
    },
    opts,
  );
}
