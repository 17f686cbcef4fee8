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
  // The key the stack wrote (or the one to write, when it leaves the choice to KUBECONFIG).
  const kubeconfigKey = `cartorio-plataforma:kubernetes.kubeconfig = ${cfg.kubeconfig || "(not set)"}`;
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (e) {
    return (
      `${kubeconfigKey}: cannot read ${where} (${(e as Error).message.split("\n")[0]}); ` +
      `for the local stack start the embedded cluster (npm run cluster -- up), otherwise point ` +
      `kubernetes.kubeconfig at a readable file (check with: ls -l ${file})`
    );
  }
  const context = cfg.context || kc.getCurrentContext();
  const contextKey = `cartorio-plataforma:kubernetes.context = ${cfg.context || `(not set: the current context, ${context || "none"})`}`;
  if (!kc.getContextObject(context)) {
    const names = kc.getContexts().map((c) => c.name);
    return (
      `${contextKey}: context "${context}" is not in ${where}, which has ${names.join(", ") || "no context"}; ` +
      `set kubernetes.context to one of them (check with: kubectl --kubeconfig ${file} config get-contexts)`
    );
  }
  kc.setCurrentContext(context);
  const server = kc.getCurrentCluster()?.server ?? "(no server)";
  const opts: https.RequestOptions = { timeout: timeoutMs };
  const check = `(check with: kubectl --kubeconfig ${file} --context ${context} get --raw /readyz)`;
  try {
    await kc.applyToHTTPSOptions(opts);
  } catch (e) {
    return (
      `${contextKey}: the credentials of context ${context} in ${where} cannot be used ` +
      `(${(e as Error).message.split("\n")[0]}) ${check}`
    );
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
    `${contextKey}: the Kubernetes API server ${server} (context ${context} of kubeconfig ${file}) is not ` +
    `reachable: ${answer}; for the local stack start it with npm run cluster -- up, otherwise point ` +
    `kubernetes.kubeconfig and kubernetes.context at a running cluster, or set kubernetes.mode: render for a ` +
    `preview without one ${check}`
  );
}
