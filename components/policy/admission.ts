/**
 * The rulebook enforced by the cluster at admission: whatever path an object comes by (Flux, kubectl, a
 * break-glass push), the API server asks OPA, which serves the same Rego conftest runs (policies/, with the
 * catalogue's exceptions), before storing it. The rules reach OPA with each `pulumi up`:
 *   - server local (the embedded cluster): written into the cluster folder, where its OPA process watches;
 *   - server in-cluster: a ConfigMap mounted into an OPA Deployment in namespace cartorio-admissao, served
 *     over TLS with a certificate this component makes (its CA is the webhook's caBundle).
 * The webhook is created only once OPA serves the rules, and fails closed outside the exempt namespaces.
 * Objects are built by plain functions (./admission-objects).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AdmissionConfig } from "../config/schema";
import { LABELS, platformLabels } from "../platform/labels";
import {
  ADMISSION_NAMESPACE,
  ClientConfig,
  rulesDigest,
  rulesFiles,
  WEBHOOK_NAME,
  webhookObject,
} from "./admission-objects";

// ---------------------------------------------------------------- local: the rules in the cluster folder

interface LocalRulesInputs {
  dir: string;
  files: Record<string, string>;
  digest: string;
  url: string;
  caBundle: string;
}

/** Asks OPA one AdmissionReview until it answers with the verdict: it has loaded the rules. */
async function waitServing(url: string, caBundle: string, timeoutMs = 30_000): Promise<void> {
  const https = await import("node:https");
  const review = JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "cartorio-probe",
      operation: "DELETE",
      kind: { group: "", version: "v1", kind: "ConfigMap" },
      name: "probe",
    },
  });
  const ask = () =>
    new Promise<string>((resolve) => {
      const req = https.request(
        url,
        {
          method: "POST",
          ca: Buffer.from(caBundle, "base64"),
          headers: { "content-type": "application/json" },
          timeout: 5000,
        },
        (res) => {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => resolve(res.statusCode === 200 ? body : `HTTP ${res.statusCode} ${body.slice(0, 200)}`));
        },
      );
      req.on("timeout", () => req.destroy(new Error("no answer in 5 s")));
      req.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
      req.end(review);
    });
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    last = await ask();
    try {
      if (JSON.parse(last).response?.uid === "cartorio-probe") return;
    } catch {
      // not JSON yet: not serving
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `the admission server at ${url} does not answer with the rulebook's verdict (last: ${last.slice(0, 200)}); ` +
      "is the embedded cluster's admission process running? npm run cluster -- status",
  );
}

function writeRules(inputs: LocalRulesInputs): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require("node:fs") as typeof import("node:fs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const path = require("node:path") as typeof import("node:path");
  fs.mkdirSync(inputs.dir, { recursive: true, mode: 0o700 });
  // Each file replaced whole (OPA, watching, never reads half a file); files no longer in the set removed.
  for (const [name, text] of Object.entries(inputs.files)) {
    const tmp = path.join(inputs.dir, `.${name}.tmp`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, path.join(inputs.dir, name));
  }
  for (const f of fs.readdirSync(inputs.dir))
    if (!(f in inputs.files)) fs.rmSync(path.join(inputs.dir, f), { force: true });
}

const localRulesProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: LocalRulesInputs) {
    writeRules(inputs);
    await waitServing(inputs.url, inputs.caBundle);
    return { id: inputs.dir, outs: inputs };
  },
  async diff(_id: string, olds: LocalRulesInputs, news: LocalRulesInputs) {
    return {
      changes: olds.digest !== news.digest || olds.url !== news.url,
      replaces: olds.dir !== news.dir ? ["dir"] : [],
    };
  },
  async update(_id: string, _olds: LocalRulesInputs, news: LocalRulesInputs) {
    writeRules(news);
    await waitServing(news.url, news.caBundle);
    return { outs: news };
  },
  async read(id: string, props: LocalRulesInputs) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("node:fs") as typeof import("node:fs");
    return fs.existsSync(props.dir) ? { id, props } : { id: "", props: {} };
  },
  async delete(_id: string, props: LocalRulesInputs) {
    // The webhook is deleted first (it depends on this): OPA may then serve nothing.
    writeRules({ ...props, files: {} });
  },
};

class LocalAdmissionRules extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: { [K in keyof LocalRulesInputs]: pulumi.Input<LocalRulesInputs[K]> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(localRulesProvider, name, args, opts, "cartorio", "LocalAdmissionRules");
  }
}

// ---------------------------------------------------------------- in-cluster: OPA's serving certificate

interface CertOutputs {
  caPem: string;
  certPem: string;
  keyPem: string;
  dnsName: string;
}

/** A CA and OPA's serving certificate for <service>.<namespace>.svc (node-forge), kept in the state as secrets. */
const certProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { dnsName: string }) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const forge = require("node-forge") as typeof import("node-forge");
    const pki = forge.pki;
    const now = new Date();
    const until = new Date(now.getTime() + 5 * 365 * 24 * 3600 * 1000);
    const make = (
      subject: string,
      issuer: { cert?: import("node-forge").pki.Certificate; key?: import("node-forge").pki.rsa.PrivateKey },
      ca: boolean,
    ) => {
      const keys = pki.rsa.generateKeyPair(2048);
      const cert = pki.createCertificate();
      cert.publicKey = keys.publicKey;
      cert.serialNumber = forge.util.bytesToHex(forge.random.getBytesSync(16)).replace(/^[89a-f]/, "1");
      cert.validity.notBefore = now;
      cert.validity.notAfter = until;
      cert.setSubject([{ name: "commonName", value: subject }]);
      cert.setIssuer(issuer.cert ? issuer.cert.subject.attributes : [{ name: "commonName", value: subject }]);
      cert.setExtensions(
        ca
          ? [
              { name: "basicConstraints", cA: true },
              { name: "keyUsage", keyCertSign: true, digitalSignature: true, cRLSign: true },
            ]
          : [
              { name: "basicConstraints", cA: false },
              { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
              { name: "extKeyUsage", serverAuth: true },
              { name: "subjectAltName", altNames: [{ type: 2, value: inputs.dnsName }] },
            ],
      );
      cert.sign(issuer.key ?? keys.privateKey, forge.md.sha256.create());
      return { cert, key: keys.privateKey };
    };
    const ca = make("cartorio-admissao-ca", {}, true);
    const leaf = make(inputs.dnsName, ca, false);
    const outs: CertOutputs = {
      caPem: pki.certificateToPem(ca.cert),
      certPem: pki.certificateToPem(leaf.cert),
      keyPem: pki.privateKeyToPem(leaf.key),
      dnsName: inputs.dnsName,
    };
    return { id: inputs.dnsName, outs };
  },
  async diff(_id: string, olds: CertOutputs, news: { dnsName: string }) {
    return { changes: olds.dnsName !== news.dnsName, replaces: olds.dnsName !== news.dnsName ? ["dnsName"] : [] };
  },
};

class AdmissionCertificate extends pulumi.dynamic.Resource {
  declare public readonly caPem: pulumi.Output<string>;
  declare public readonly certPem: pulumi.Output<string>;
  declare public readonly keyPem: pulumi.Output<string>;
  constructor(name: string, args: { dnsName: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(
      certProvider,
      name,
      { ...args, caPem: undefined, certPem: undefined, keyPem: undefined },
      {
        ...opts,
        additionalSecretOutputs: ["keyPem"],
      },
      "cartorio",
      "AdmissionCertificate",
    );
  }
}

// ---------------------------------------------------------------- the component

export interface AdmissionArgs {
  /** cartorio-plataforma:admission. */
  admission: AdmissionConfig;
  /** Where policies/ lives. */
  projectRoot: string;
  /** server local: where the embedded cluster's OPA is reached and reads its rules (localEndpoint). */
  local?: { clientConfig: ClientConfig; rulesDir: string };
}

export class Admission extends pulumi.ComponentResource {
  /** sha256 of the rule files OPA serves: the evidence records it. */
  public readonly rulesDigest: pulumi.Output<string>;
  public readonly webhookName: pulumi.Output<string>;
  public readonly server: pulumi.Output<string>;

  constructor(name: string, args: AdmissionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cartorio:policy:Admission", name, {}, opts);
    const cfg = args.admission;
    const files = rulesFiles(args.projectRoot);
    const digest = rulesDigest(files);
    const labels = platformLabels({ [LABELS.name]: "cartorio-admissao", [LABELS.owner]: "time-seguranca" });

    let clientConfig: pulumi.Output<ClientConfig>;
    let ready: pulumi.Resource[];
    if (cfg.server === "local") {
      const local = args.local;
      if (!local) throw new Error("admission.server is local: the component needs the embedded cluster's endpoint");
      ready = [
        new LocalAdmissionRules(
          `${name}-rules`,
          { dir: local.rulesDir, files, digest, url: local.clientConfig.url!, caBundle: local.clientConfig.caBundle },
          { parent: this },
        ),
      ];
      clientConfig = pulumi.output(local.clientConfig);
    } else {
      const inCluster = this.inCluster(name, cfg, files, digest);
      ready = inCluster.ready;
      clientConfig = inCluster.clientConfig;
    }

    const webhook = new k8s.admissionregistration.v1.ValidatingWebhookConfiguration(
      `${name}-webhook`,
      {
        metadata: { name: WEBHOOK_NAME, labels },
        webhooks: clientConfig.apply((cc) => webhookObject(cfg, cc, labels).webhooks),
      },
      { parent: this, dependsOn: ready },
    );

    this.rulesDigest = pulumi.output(digest);
    this.webhookName = webhook.metadata.name;
    this.server = pulumi.output(cfg.server);
    this.registerOutputs({ rulesDigest: this.rulesDigest, webhookName: this.webhookName, server: this.server });
  }

  /** OPA as a Deployment: namespace, rules ConfigMap, serving certificate, Deployment, Service. */
  private inCluster(name: string, cfg: AdmissionConfig, files: Record<string, string>, digest: string) {
    const labels = platformLabels({
      [LABELS.name]: "cartorio-admissao",
      [LABELS.owner]: "time-seguranca",
      [LABELS.dataClassification]: "interno",
    });
    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: ADMISSION_NAMESPACE,
          labels: {
            ...labels,
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
          },
        },
      },
      { parent: this },
    );
    const namespace = ns.metadata.name;
    const rules = new k8s.core.v1.ConfigMap(
      `${name}-rules`,
      {
        metadata: {
          name: "admissao-regras",
          namespace,
          labels,
          annotations: { "cartorio.digital/rules-digest": digest },
        },
        data: files,
      },
      { parent: this },
    );
    const cert = new AdmissionCertificate(
      `${name}-cert`,
      { dnsName: `opa.${ADMISSION_NAMESPACE}.svc` },
      { parent: this },
    );
    const tls = new k8s.core.v1.Secret(
      `${name}-tls`,
      {
        metadata: { name: "opa-tls", namespace, labels },
        type: "kubernetes.io/tls",
        stringData: { "tls.crt": cert.certPem, "tls.key": cert.keyPem },
      },
      { parent: this },
    );
    const selector = { [LABELS.name]: "cartorio-admissao" };
    const probe = { httpGet: { path: "/health", port: 8443, scheme: "HTTPS" }, periodSeconds: 10 };
    const deployment = new k8s.apps.v1.Deployment(
      `${name}-opa`,
      {
        metadata: { name: "opa", namespace, labels },
        spec: {
          replicas: 2,
          selector: { matchLabels: selector },
          template: {
            // The rules' digest in the template: a new rulebook rolls the pods (the mounted files change anyway).
            metadata: { labels: { ...labels, ...selector }, annotations: { "cartorio.digital/rules-digest": digest } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
              containers: [
                {
                  name: "opa",
                  image: cfg.image,
                  args: [
                    "run",
                    "--server",
                    "--addr=0.0.0.0:8443",
                    "--tls-cert-file=/tls/tls.crt",
                    "--tls-private-key-file=/tls/tls.key",
                    "--watch",
                    "--log-level=error",
                    "--skip-version-check",
                    "/regras",
                  ],
                  ports: [{ name: "https", containerPort: 8443 }],
                  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
                  readinessProbe: probe,
                  livenessProbe: probe,
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                  },
                  volumeMounts: [
                    { name: "regras", mountPath: "/regras", readOnly: true },
                    { name: "tls", mountPath: "/tls", readOnly: true },
                  ],
                },
              ],
              volumes: [
                { name: "regras", configMap: { name: rules.metadata.name } },
                { name: "tls", secret: { secretName: tls.metadata.name } },
              ],
            },
          },
        },
      },
      { parent: this },
    );
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: "opa", namespace, labels },
        spec: { selector, ports: [{ name: "https", port: 443, targetPort: 8443 }] },
      },
      { parent: this },
    );
    const clientConfig = pulumi.all([service.metadata.name, namespace, cert.caPem]).apply(([svc, n, ca]) => ({
      service: { name: svc, namespace: n, port: 443, path: "/" },
      caBundle: Buffer.from(ca).toString("base64"),
    }));
    return { ready: [deployment, service] as pulumi.Resource[], clientConfig };
  }
}
