/**
 * The rulebook enforced by the cluster at admission, for real: the local stack through the engine on the
 * embedded cluster declares the webhook, the cluster's OPA process serves the rules `pulumi up` wrote, and
 * manifests pushed to the local Git server — the path a merged PR takes — are judged by the API server when
 * Flux applies them. A refusal names the rule in cartorio-apps' Ready condition while cartorio-api runs on.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { maintainerGitEnv, paths, runningPid } from "../../scripts/cluster/controlplane";
import { startTestCluster, TestCluster } from "../helpers/cluster";
import { engineProject, EngineProject } from "../helpers/engine";
import { eventually, tempDir } from "../helpers/tools";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests as parsed YAML, changed field by field
type Manifest = Record<string, any>;
const ENGINE_TIMEOUT = 600_000;
let cluster: TestCluster;
let project: EngineProject;
const logs: string[] = [];
const collect = (s: string) => logs.push(s);
const json = (args: string[]) => JSON.parse(cluster.kubectlOk([...args, "-o", "json"]));

function reconcileNow() {
  for (const [kind, name] of [
    ["gitrepository", "flux-system"],
    ["kustomization", "cartorio-apps"],
  ]) {
    cluster.kubectlOk([
      "annotate",
      "--overwrite",
      `${kind}/${name}`,
      "-n",
      "flux-system",
      `reconcile.fluxcd.io/requestedAt=${Date.now()}`,
    ]);
  }
}

/** A Deployment beside cartorio-api that passes every rule, from cartorio-api's own manifest. */
function intruder(): Manifest {
  const dep = parse(fs.readFileSync(path.join(project.dir, "manifests/cartorio-api/deployment.yaml"), "utf8"));
  dep.metadata.name = "intrusa";
  for (const labels of [dep.metadata.labels, dep.spec.template.metadata.labels]) {
    labels["app.kubernetes.io/name"] = "intrusa";
    delete labels["cartorio.digital/citizen-facing"];
  }
  dep.spec.selector.matchLabels = { "app.kubernetes.io/name": "intrusa" };
  dep.spec.template.spec.topologySpreadConstraints[0].labelSelector.matchLabels = {
    "app.kubernetes.io/name": "intrusa",
  };
  dep.spec.replicas = 1;
  return dep;
}

/** Pushes manifests/ with `extra` added (as a merged PR would land), returns the commit. */
function pushWith(extra: Manifest | undefined, message: string): string {
  const work = tempDir("clone");
  const address = fs.readFileSync(path.join(cluster.gitDir, "address"), "utf8").trim();
  const env = maintainerGitEnv(path.dirname(cluster.gitDir));
  const git = (...args: string[]) => execFileSync("git", ["-C", work, ...args], { env, encoding: "utf8" });
  execFileSync("git", ["clone", "--quiet", `ssh://git@${address}/cartorio-digital/infraestrutura`, work], { env });
  const kfile = path.join(work, "manifests/kustomization.yaml");
  const k = parse(fs.readFileSync(kfile, "utf8"));
  k.resources = k.resources.filter((r: string) => r !== "cartorio-api/intrusa.yaml");
  fs.rmSync(path.join(work, "manifests/cartorio-api/intrusa.yaml"), { force: true });
  if (extra) {
    fs.writeFileSync(path.join(work, "manifests/cartorio-api/intrusa.yaml"), stringify(extra));
    k.resources.push("cartorio-api/intrusa.yaml");
  }
  fs.writeFileSync(kfile, stringify(k));
  git("add", "-A");
  git("-c", "user.name=Equipe", "-c", "user.email=equipe@cartorio.example", "commit", "-qm", message);
  git("push", "--quiet", "origin", "HEAD:main");
  return git("rev-parse", "HEAD").trim();
}

/** cartorio-apps' Ready condition once it has judged `commit`. */
async function verdictAt(commit: string): Promise<{ status: string; message: string }> {
  reconcileNow();
  return eventually(`cartorio-apps to reconcile ${commit.slice(0, 12)}`, 240, () => {
    const ks = json(["get", "kustomization", "cartorio-apps", "-n", "flux-system"]);
    const ready = ks.status?.conditions?.find((c: { type: string }) => c.type === "Ready");
    const attempted: string = ks.status?.lastAttemptedRevision ?? "";
    if (!ready || !attempted.endsWith(commit) || ready.status === "Unknown") return undefined;
    return { status: ready.status, message: ready.message as string };
  });
}

/** cartorio-api as it runs: its pods' UIDs, all Ready. */
function apiPods(): string[] {
  const pods = json(["get", "pods", "-n", "cartorio", "-l", "app.kubernetes.io/name=cartorio-api"]).items as {
    metadata: { uid: string };
    status: { conditions?: { type: string; status: string }[] };
  }[];
  expect(pods.length).toBeGreaterThan(0);
  for (const p of pods) expect(p.status.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
  return pods.map((p) => p.metadata.uid).sort();
}

describe("the rulebook at admission on the embedded cluster", () => {
  let running: string[];
  let digest: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    cluster.publish();
    project = await engineProject({ kubeconfig: cluster.kubeconfig, gitDir: cluster.gitDir });
    const stack = await project.stack("local");
    const res = await stack.up({ onOutput: collect, policyPacks: [path.join(project.dir, "policypack")] });
    expect(res.summary.result).toBe("succeeded");
    digest = res.outputs.admission.value.rulesDigest;
    await eventually("cartorio-api's pods Ready", 240, () => {
      const res = cluster.kubectl(["get", "deployment", "cartorio-api", "-n", "cartorio", "-o", "json"]);
      if (res.status !== 0) return undefined;
      return (JSON.parse(res.stdout).status.readyReplicas ?? 0) >= 3 ? true : undefined;
    });
    running = apiPods();
  }, ENGINE_TIMEOUT);
  afterAll(async () => cluster?.stop());

  it("the program declares the webhook: every judged kind, fail closed, kube-system and flux-system exempt", () => {
    const w = json(["get", "validatingwebhookconfiguration", "cartorio-regras"]).webhooks[0];
    expect(w.failurePolicy).toBe("Fail");
    expect(w.namespaceSelector.matchExpressions[0]).toMatchObject({
      key: "kubernetes.io/metadata.name",
      operator: "NotIn",
    });
    expect(w.namespaceSelector.matchExpressions[0].values).toEqual(
      expect.arrayContaining(["kube-system", "flux-system"]),
    );
    expect(w.rules.find((r: { apiGroups: string[] }) => r.apiGroups[0] === "apps").resources).toContain("deployments");
    // The rules OPA serves are the ones pulumi up wrote: same digest as the stack output.
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  const cases: [string, string, (d: Manifest) => void][] = [
    [
      "a privileged Deployment",
      "CART-PSS-001",
      // The API itself refuses privileged with allowPrivilegeEscalation false: both, as an attacker would write it.
      (d) =>
        Object.assign(d.spec.template.spec.containers[0].securityContext, {
          privileged: true,
          allowPrivilegeEscalation: true,
        }),
    ],
    ["a Deployment without limits", "CART-RES-001", (d) => delete d.spec.template.spec.containers[0].resources.limits],
    [
      "a Deployment from a foreign registry",
      "CART-IMG-002",
      (d) => (d.spec.template.spec.containers[0].image = `docker.io/library/nginx@sha256:${"a".repeat(64)}`),
    ],
    [
      "a Deployment with a mutable tag",
      "CART-IMG-001",
      (d) => (d.spec.template.spec.containers[0].image = "registry.cartorio.example/cartorio/cartorio-api:latest"),
    ],
  ];
  for (const [what, rule, mutate] of cases) {
    it(
      `${what}, pushed through the Git server, is refused at admission with ${rule} in cartorio-apps' status; cartorio-api runs on`,
      async () => {
        const dep = intruder();
        mutate(dep);
        const commit = pushWith(dep, `Add ${what}`);
        const verdict = await verdictAt(commit);
        expect(verdict.status).toBe("False");
        expect(verdict.message).toContain('admission webhook "regras.cartorio.digital" denied the request');
        expect(verdict.message).toContain(`${rule}: Deployment cartorio/intrusa`);
        expect(verdict.message).toContain("required:");
        expect(cluster.kubectl(["get", "deployment", "intrusa", "-n", "cartorio"]).status).not.toBe(0);
        expect(apiPods()).toEqual(running);
      },
      ENGINE_TIMEOUT,
    );
  }

  it(
    "the same object under a catalogue exception is admitted after the next pulumi up; an expired one is not honoured",
    async () => {
      const dep = intruder();
      dep.spec.template.spec.containers[0].image = `docker.io/library/nginx@sha256:${"a".repeat(64)}`;
      const catalogueFile = path.join(project.dir, "policies/catalogue.yaml");
      const original = fs.readFileSync(catalogueFile, "utf8");
      const withException = (expires: string) => {
        const doc = parse(original);
        doc.catalogue.exceptions.push({
          rule: "CART-IMG-002",
          scope: { namespace: "cartorio", kind: "Deployment", name: "intrusa" },
          owner: "time-seguranca",
          reason: "A vendor image reviewed by the security team while the office mirror is set up.",
          expires,
        });
        fs.writeFileSync(catalogueFile, stringify(doc));
      };
      const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
      const up = async () => {
        const res = await (
          await project.stack("local")
        ).up({ onOutput: collect, policyPacks: [path.join(project.dir, "policypack")] });
        expect(res.summary.result).toBe("succeeded");
      };
      try {
        withException(day(30));
        await up();
        const admitted = await verdictAt(pushWith(dep, "Add the vendor image under its exception"));
        expect(admitted.status).toBe("True");
        expect(
          json(["get", "deployment", "intrusa", "-n", "cartorio"]).spec.template.spec.containers[0].image,
        ).toContain("docker.io/");
        // The day after its expiry (OPA's clock set forward through data.clock.now, as the rules' own tests set
        // it): the exception stops being honoured with no pulumi up, and the next change to the object is refused.
        const clock = path.join(paths(cluster.dir).admissionRules, "clock.json");
        fs.writeFileSync(clock, JSON.stringify({ clock: { now: `${day(31)}T00:00:00Z` } }));
        try {
          const changed = intruder();
          changed.spec.template.spec.containers[0].image = `docker.io/library/nginx@sha256:${"b".repeat(64)}`;
          const refused = await verdictAt(pushWith(changed, "Change the vendor image after its exception expired"));
          expect(refused.status).toBe("False");
          expect(refused.message).toContain("CART-IMG-002: Deployment cartorio/intrusa");
        } finally {
          fs.rmSync(clock, { force: true });
        }
      } finally {
        fs.writeFileSync(catalogueFile, original);
      }
    },
    ENGINE_TIMEOUT,
  );

  it(
    "with OPA down, workload namespaces fail closed while kube-system and flux-system keep working",
    async () => {
      // The supervisor and OPA together (its process group), as a node's loss would take the pod.
      process.kill(-runningPid(cluster.dir, "admission")!, "SIGKILL");
      try {
        await eventually("the admission server down", 30, () =>
          runningPid(cluster.dir, "admission") ? undefined : true,
        );
        const cm = (ns: string, name: string) =>
          cluster.kubectl(["create", "configmap", name, "-n", ns, "--from-literal=k=v"]);
        const refused = cm("cartorio", "sem-juiz");
        expect(refused.status).not.toBe(0);
        expect(refused.stderr).toMatch(/failed calling webhook "regras\.cartorio\.digital"/);
        expect(cm("kube-system", "com-juiz-ausente").status).toBe(0);
        expect(cm("flux-system", "com-juiz-ausente").status).toBe(0);
      } finally {
        await cluster.start();
      }
      // Healed by up: judged again.
      expect(cluster.kubectl(["create", "configmap", "com-juiz", "-n", "cartorio", "--from-literal=k=v"]).status).toBe(
        0,
      );
    },
    ENGINE_TIMEOUT,
  );
});
