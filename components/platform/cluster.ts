/**
 * Is the cluster the stack applies to there? Asked before any resource is
 * registered, so an unreachable API server stops `pulumi up` with one clear
 * message naming the kubeconfig and context, and nothing is half-applied.
 * Plain module: no Pulumi import.
 */
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type { KubernetesConfig } from "../config/schema";

/** The kubeconfig file a cluster-mode stack reads: config, else KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPath(cfg: KubernetesConfig, projectRoot: string, env = process.env): string {
  if (cfg.kubeconfig) return path.resolve(projectRoot, cfg.kubeconfig);
  const fromEnv = env.KUBECONFIG?.split(path.delimiter).find(Boolean);
  return fromEnv ?? path.join(env.HOME ?? os.homedir(), ".kube", "config");
}

/** Undefined when the API server answers /readyz; else the problem, its fix, and that nothing changed. */
export async function clusterProblem(
  cfg: KubernetesConfig,
  projectRoot: string,
  timeoutMs = 5000,
): Promise<string | undefined> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const file = kubeconfigPath(cfg, projectRoot);
  const where = `kubeconfig ${file}`;
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (e) {
    return (
      `cartorio-plataforma:kubernetes.kubeconfig: cannot read ${where} (${(e as Error).message.split("\n")[0]}). ` +
      `For the local stack start the embedded cluster (npm run cluster -- up); otherwise point kubernetes.kubeconfig at a readable file.`
    );
  }
  const context = cfg.context || kc.getCurrentContext();
  if (!kc.getContextObject(context)) {
    return (
      `cartorio-plataforma:kubernetes.context: context "${context}" is not in ${where} ` +
      `(it has: ${
        kc
          .getContexts()
          .map((c) => c.name)
          .join(", ") || "none"
      }). Set kubernetes.context to one of them.`
    );
  }
  kc.setCurrentContext(context);
  const server = kc.getCurrentCluster()?.server ?? "(no server)";
  const opts: https.RequestOptions = { timeout: timeoutMs };
  try {
    await kc.applyToHTTPSOptions(opts);
  } catch (e) {
    return `${where}, context ${context}: its credentials cannot be used (${(e as Error).message}).`;
  }
  const answer = await new Promise<string | undefined>((resolve) => {
    const req = https.get(`${server}/readyz`, opts, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `/readyz answered HTTP ${res.statusCode}`);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
    req.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
  });
  if (answer === undefined) return undefined;
  return (
    `the Kubernetes API server ${server} (context ${context} of kubeconfig ${file}) is not reachable: ${answer}. ` +
    `For the local stack start it with: npm run cluster -- up. Otherwise set cartorio-plataforma:kubernetes.kubeconfig ` +
    `and kubernetes.context to a running cluster, or kubernetes.mode: render for a preview without one.`
  );
}
