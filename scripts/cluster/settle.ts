/**
 * `npm run cluster -- settle [--revision SHA] [--timeout S]`: waits until the embedded cluster is
 * settled after an up, as a person would check it: every Flux Kustomization Ready (at the revision,
 * when given), the workload's Deployment with all its pods Ready on the simulated nodes, and its
 * HPA reading current CPU from the metrics API. A dead cluster process ends the wait at once, named.
 */
import { deadProcessProblem } from "../../components/platform/processes";
import { adminApi } from "./kube";

interface Cond {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export async function settle(o: {
  dir: string;
  namespace: string;
  deployment: string;
  revision?: string;
  timeoutSeconds: number;
  log: (l: string) => void;
}): Promise<void> {
  const api = adminApi(o.dir);
  const t0 = Date.now();
  let said = "";
  let last = "";
  for (;;) {
    const dead = deadProcessProblem(o.dir);
    if (dead) throw new Error(`the cluster did not settle: ${dead}`);
    const waiting: string[] = [];
    try {
      const ks = await api.get<{
        items: {
          metadata: { namespace: string; name: string };
          status?: { conditions?: Cond[]; lastAppliedRevision?: string };
        }[];
      }>("/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations");
      if (ks.items.length === 0) waiting.push("no Kustomization yet");
      for (const k of ks.items) {
        const ready = k.status?.conditions?.find((c) => c.type === "Ready");
        const at = k.status?.lastAppliedRevision ?? "";
        if (ready?.status !== "True" || (o.revision && !at.endsWith(o.revision))) {
          waiting.push(
            `Kustomization ${k.metadata.namespace}/${k.metadata.name}: Ready=${ready?.status ?? "-"} ${ready?.message ?? ""} (applied ${at || "none"})`.trim(),
          );
        }
      }
      const d = await api.find<{
        spec: { replicas?: number };
        status: { readyReplicas?: number; updatedReplicas?: number; replicas?: number };
      }>(`/apis/apps/v1/namespaces/${o.namespace}/deployments/${o.deployment}`);
      if (!d) waiting.push(`Deployment ${o.namespace}/${o.deployment} not applied yet`);
      else if (
        (d.status.readyReplicas ?? 0) < (d.spec.replicas ?? 1) ||
        (d.status.replicas ?? 0) !== (d.status.updatedReplicas ?? 0)
      ) {
        waiting.push(
          `Deployment ${o.namespace}/${o.deployment}: ${d.status.readyReplicas ?? 0}/${d.spec.replicas ?? 1} pods Ready`,
        );
      }
      const h = await api.find<{
        status: { currentMetrics?: { resource?: { name: string; current: { averageUtilization?: number } } }[] };
      }>(`/apis/autoscaling/v2/namespaces/${o.namespace}/horizontalpodautoscalers/${o.deployment}`);
      const cpu = h?.status.currentMetrics?.find((m) => m.resource?.name === "cpu")?.resource?.current
        .averageUtilization;
      if (h && cpu === undefined)
        waiting.push(`HorizontalPodAutoscaler ${o.namespace}/${o.deployment}: no CPU reading from metrics.k8s.io yet`);
    } catch (e) {
      waiting.push((e as Error).message);
    }
    if (waiting.length === 0) {
      o.log(`settled in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
      return;
    }
    last = waiting.join("; ");
    if (last !== said) o.log(`waiting: ${(said = last)}`);
    if (Date.now() - t0 > o.timeoutSeconds * 1000) {
      throw new Error(
        `the cluster did not settle within ${o.timeoutSeconds}s; still waiting for: ${last} (npm run cluster -- status shows each process)`,
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}
