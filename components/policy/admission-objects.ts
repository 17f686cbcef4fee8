/**
 * The rulebook at admission, as objects and files (plain module: the component, the evidence report and
 * the tests share it). The same Rego conftest runs (policies/, with the catalogue as data) is served by OPA
 * as a validating admission webhook; policies/admission.rego turns the API server's AdmissionReview into
 * the rulebook's verdict on the one object of the request.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { AdmissionConfig } from "../config/schema";
import { embeddedClusterDir } from "../platform/processes";

export const WEBHOOK_NAME = "cartorio-regras";
export const ADMISSION_NAMESPACE = "cartorio-admissao";

/**
 * The namespaced kinds of the catalogue's knownKinds, by API group: what the webhook judges. Cluster-scoped
 * kinds (Namespace, ClusterRole, ClusterRoleBinding, CustomResourceDefinition) and the set rules are not judged
 * at admission (one object at a time, and the cluster's own bootstrap roles would be refused): conftest
 * --combine, the pack and the live audit enforce them (docs/policy.md).
 */
export const JUDGED_RESOURCES: { group: string; resources: string[] }[] = [
  {
    group: "",
    resources: ["pods", "services", "serviceaccounts", "configmaps", "secrets", "resourcequotas", "limitranges"],
  },
  { group: "apps", resources: ["deployments", "statefulsets", "daemonsets", "replicasets"] },
  { group: "batch", resources: ["jobs", "cronjobs"] },
  { group: "networking.k8s.io", resources: ["ingresses", "networkpolicies"] },
  { group: "policy", resources: ["poddisruptionbudgets"] },
  { group: "autoscaling", resources: ["horizontalpodautoscalers"] },
  { group: "rbac.authorization.k8s.io", resources: ["roles", "rolebindings"] },
  { group: "kustomize.toolkit.fluxcd.io", resources: ["kustomizations"] },
  {
    group: "source.toolkit.fluxcd.io",
    resources: ["gitrepositories", "helmrepositories", "ocirepositories", "buckets"],
  },
  { group: "helm.toolkit.fluxcd.io", resources: ["helmreleases"] },
  { group: "k6.io", resources: ["testruns"] },
];

/** The files OPA loads: the rulebook's Rego (tests left out) and the catalogue, by name. */
export function rulesFiles(projectRoot: string): Record<string, string> {
  const dir = path.join(projectRoot, "policies");
  const files: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) {
    if ((f.endsWith(".rego") && !f.endsWith("_test.rego")) || f === "catalogue.yaml") {
      files[f] = fs.readFileSync(path.join(dir, f), "utf8");
    }
  }
  if (!files["admission.rego"] || !files["catalogue.yaml"]) {
    throw new Error(`${dir}: admission.rego and catalogue.yaml are needed to serve the rulebook at admission`);
  }
  return files;
}

/** sha256 over the files, name and content, in name order: what the evidence records. */
export function rulesDigest(files: Record<string, string>): string {
  const h = createHash("sha256");
  for (const name of Object.keys(files).sort()) h.update(`${name}\0${files[name]}\0`);
  return `sha256:${h.digest("hex")}`;
}

export interface ClientConfig {
  url?: string;
  service?: { name: string; namespace: string; port: number; path: string };
  caBundle: string;
}

/**
 * Where the webhook reaches the embedded cluster's admission process: its folder is the one the
 * kubeconfig sits in (npm run cluster writes both), its port in ports.json, its CA the cluster's.
 */
export function localEndpoint(kubeconfig: string | undefined): { clientConfig: ClientConfig; rulesDir: string } {
  const dir = embeddedClusterDir(kubeconfig);
  if (!dir) {
    throw new Error(
      `cartorio-plataforma:admission.server is local, but kubernetes.kubeconfig (${kubeconfig ?? "unset"}) is not in an embedded ` +
        "cluster folder (npm run cluster -- up writes one): set admission.server: in-cluster for another cluster",
    );
  }
  const ports = JSON.parse(fs.readFileSync(path.join(dir, "ports.json"), "utf8")) as { admission?: number };
  if (!ports.admission) {
    throw new Error(
      `${dir}/ports.json has no admission port: restart the cluster with npm run cluster -- up (it starts OPA)`,
    );
  }
  return {
    clientConfig: {
      url: `https://127.0.0.1:${ports.admission}/`,
      caBundle: fs.readFileSync(path.join(dir, "pki", "ca.crt")).toString("base64"),
    },
    rulesDir: path.join(dir, "admission", "rules"),
  };
}

/** The ValidatingWebhookConfiguration: every judged kind, fail closed, the exempt namespaces never judged. */
export function webhookObject(cfg: AdmissionConfig, clientConfig: ClientConfig, labels: Record<string, string>) {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: WEBHOOK_NAME, labels },
    webhooks: [
      {
        name: "regras.cartorio.digital",
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        // Closed: an object nobody judged never reaches a workload namespace. The exempt namespaces keep
        // working when OPA is down (their controllers repair the cluster).
        failurePolicy: "Fail",
        matchPolicy: "Equivalent",
        timeoutSeconds: 10,
        namespaceSelector: {
          matchExpressions: [
            { key: "kubernetes.io/metadata.name", operator: "NotIn", values: [...cfg.exemptNamespaces].sort() },
          ],
        },
        rules: JUDGED_RESOURCES.map((r) => ({
          apiGroups: [r.group],
          apiVersions: ["*"],
          operations: ["CREATE", "UPDATE"],
          resources: r.resources,
          scope: "Namespaced",
        })),
        clientConfig: clientConfig.url
          ? { url: clientConfig.url, caBundle: clientConfig.caBundle }
          : { service: clientConfig.service, caBundle: clientConfig.caBundle },
      },
    ],
  };
}
