/**
 * The program through the real engine: the CLI, our Node.js language host and
 * the Kubernetes provider built by scripts/toolchain/build.sh, a file backend,
 * the policy pack, the dynamic providers against SoftHSM2.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectKey, listKeyLabels } from "../../components/keys/hsm";
import { knownCapacityServer, KnownCapacityServer } from "../../scripts/ensaio/known-capacity";
import { engineProject, EngineProject, stateText, USER_PIN } from "../helpers/engine";
import { spawnSync } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { PROJECT_ROOT, SOFTHSM_MODULE, toolsBin } from "../helpers/tools";

const ENGINE_TIMEOUT = 600_000;

let project: EngineProject;
const logs: string[] = [];
const collect = (s: string) => logs.push(s);

describe("the local stack in render mode through the engine", () => {
  beforeAll(async () => {
    project = await engineProject();
  }, ENGINE_TIMEOUT);

  it(
    "up renders the expected manifests and runs the HSM providers",
    async () => {
      const stack = await project.stack("render");
      const res = await stack.up({ onOutput: collect, policyPacks: [path.join(project.dir, "policypack")] });
      expect(res.summary.result).toBe("succeeded");
      const files = Object.keys(project.rendered()).sort();
      expect(files).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^1-manifest\/v1-namespace-(default-)?cartorio\.yaml$/),
          expect.stringMatching(/^1-manifest\/autoscaling_v2-horizontalpodautoscaler-cartorio-cartorio-api\.yaml$/),
          expect.stringMatching(/^1-manifest\/policy_v1-poddisruptionbudget-cartorio-cartorio-api\.yaml$/),
          expect.stringMatching(/^1-manifest\/v1-configmap-cartorio-cartorio-kms-inventory\.yaml$/),
          expect.stringMatching(/^1-manifest\/networking\.k8s\.io_v1-networkpolicy-cartorio-default-deny\.yaml$/),
          // The Flux sync objects, as flux bootstrap would create them.
          expect.stringMatching(/^1-manifest\/v1-namespace-(default-)?flux-system\.yaml$/),
          expect.stringMatching(
            /^1-manifest\/source\.toolkit\.fluxcd\.io_v1-gitrepository-flux-system-flux-system\.yaml$/,
          ),
          expect.stringMatching(
            /^1-manifest\/kustomize\.toolkit\.fluxcd\.io_v1-kustomization-flux-system-flux-system\.yaml$/,
          ),
        ]),
      );
      const hpa = Object.entries(project.rendered()).find(([f]) => f.includes("horizontalpodautoscaler"))![1];
      expect(hpa).toMatch(/minReplicas: 3/);
      expect(hpa).toMatch(/name: cartorio-api/);
      const repo = Object.entries(project.rendered()).find(([f]) => f.includes("gitrepository"))![1];
      expect(repo).toContain("url: ssh://git@github.com/cartorio-digital/infraestrutura");
      expect(res.outputs.gitops.value).toMatchObject({
        fluxVersion: "v2.9.5",
        deployKeyFingerprint: expect.stringMatching(/^SHA256:/),
      });

      // The dynamic providers ran in the engine: the token was validated, the keys exist on it.
      const tokens = res.outputs.keys.value.tokens;
      expect(tokens).toEqual([
        expect.objectContaining({ label: "cartorio-local", serial: expect.stringMatching(/^[0-9a-f]{16}$/) }),
      ]);
      project.hsm.activate();
      // Every key the stack made is still there (plantada-v1 is the planted key an earlier test left alone).
      expect(
        listKeyLabels(SOFTHSM_MODULE, { label: "cartorio-local" }, USER_PIN).filter((l) => !l.startsWith("plantada-")),
      ).toEqual(["atos-notariais-v1", "evidencias-v1", "selo-digital-v1"]);
      const keys = res.outputs.keys.value.keys;
      expect(keys.every((k: { fingerprint?: string }) => /^SHA256:/.test(k.fingerprint ?? ""))).toBe(true);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "conftest passes on the rendered output and manifests/, and the capacity plan is an output",
    async () => {
      const res = spawnSync(
        path.join(toolsBin(), "conftest"),
        [
          "test",
          "rendered/render",
          "manifests",
          "--policy",
          "policies",
          "--data",
          "policies/catalogue.yaml",
          "--no-color",
        ],
        { cwd: project.dir, encoding: "utf8" },
      );
      expect(res.stdout).toMatch(/(\d+) tests?, \1 passed, 0 warnings, 0 failures/);
      expect(res.status).toBe(0);
      const outputs = await (await project.stack("render")).outputs();
      expect(outputs.capacity.value).toMatchObject({ ok: true, neededAtPeak: 6, secondsToScale: 15 });
    },
    ENGINE_TIMEOUT,
  );

  it(
    "a second up changes nothing",
    async () => {
      const stack = await project.stack("render");
      const res = await stack.up({ onOutput: collect, policyPacks: [path.join(project.dir, "policypack")] });
      const changes = res.summary.resourceChanges ?? {};
      expect(Object.keys(changes)).toEqual(["same"]);
      expect(changes.same).toBeGreaterThan(5);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "preview runs the policy pack and passes on the local stack",
    async () => {
      const stack = await project.stack("render");
      const res = await stack.preview({ onOutput: collect, policyPacks: [path.join(project.dir, "policypack")] });
      expect(res.stdout).toMatch(/cartorio-plataforma@v0\.1\.0/);
      expect(res.stdout).not.toMatch(/mandatory/);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "neither the HSM PIN nor the deploy key appears in any state file, engine log, output or rendered manifest",
    async () => {
      const stack = await project.stack("render");
      const outputs = JSON.stringify(await stack.outputs());
      const rendered = Object.values(project.rendered()).join("\n");
      const haystacks = { state: stateText(project), logs: logs.join(""), outputs, rendered };
      for (const [where, text] of Object.entries(haystacks)) {
        expect(text.length, where).toBeGreaterThan(0);
        expect(text.includes(USER_PIN), `PIN found in ${where}`).toBe(false);
        expect(text.includes("PRIVATE KEY"), `private key material found in ${where}`).toBe(false);
      }
    },
    ENGINE_TIMEOUT,
  );
});

describe("preview stops before anything changes", () => {
  it(
    "a config that breaks a mandatory rule fails preview, naming the rule",
    async () => {
      const stack = await project.stack("violacao", (cfg) => {
        cfg["cartorio-plataforma:scaling"] = { minReplicas: 1 };
      });
      const err = await stack.preview({ policyPacks: [path.join(project.dir, "policypack")] }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, "preview should have failed").toBeDefined();
      expect(String(err)).toContain("CART-SCL-001");
      expect(String(err)).toMatch(/minReplicas 1/);
      expect(fs.existsSync(path.join(project.dir, "rendered/violacao"))).toBe(false);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "the pack judges the stack's inventory file itself, every version: each KMS rule fires through the engine",
    async () => {
      // Keys off: the program leaves the inventory alone, so only the rulebook judges it; a retired version
      // with an unknown token and a forbidden size, an active key past its cryptoperiod.
      const bad = [
        "apiVersion: cartorio.digital/v1",
        "kind: KmsInventory",
        "metadata: {name: ruim}",
        "version: 1",
        "tokens: [{name: assinatura, label: cartorio-local, mechanisms: [CKM_ECDSA]}]",
        "keys:",
        "  - {id: atos, purpose: notarial-signing, algorithm: EC, curve: P-384, token: assinatura, version: 2, cryptoperiodDays: 730, activatedOn: '2020-01-01', state: active}",
        "  - {id: atos, purpose: notarial-signing, algorithm: RSA, size: 2048, token: antigo, version: 1, cryptoperiodDays: 2000, activatedOn: '2015-01-01', state: retired}",
        "",
      ].join("\n");
      fs.writeFileSync(path.join(project.dir, "configs/kms/ruim.yaml"), bad);
      const pinned = path.join(project.dir, ".local/pack-config.json");
      fs.mkdirSync(path.dirname(pinned), { recursive: true });
      fs.writeFileSync(pinned, JSON.stringify({ "CART-KMS-003": { now: "2026-12-01T00:00:00Z" } }));
      const stack = await project.stack("kmsruim", (cfg) => {
        cfg["cartorio-plataforma:features"] = { ...(cfg["cartorio-plataforma:features"] as object), keys: false };
        cfg["cartorio-plataforma:kms"] = { inventory: "configs/kms/ruim.yaml" };
      });
      const err = await stack
        .preview({ policyPacks: [path.join(project.dir, "policypack")], policyPackConfigs: [pinned] })
        .then(
          () => undefined,
          (e: Error) => e,
        );
      expect(err, "preview should have failed").toBeDefined();
      const text = String(err);
      expect(text).toContain(
        "CART-KMS-001: KmsInventory ruim: key atos v1 names token antigo, which is not an HSM token of the inventory",
      );
      expect(text).toContain("CART-KMS-002: KmsInventory ruim: key atos v1 uses RSA size 2048; allowed: 3072, 4096");
      expect(text).toContain(
        "CART-KMS-003: KmsInventory ruim: key atos v1 has a cryptoperiod of 2000 days; at most 1095 for notarial-signing",
      );
      expect(text).toContain("CART-KMS-003: KmsInventory ruim: key atos v2 expired on 2021-12-31; rotate it");
      // The same file through conftest: the same findings, word for word.
      const res = spawnSync(
        path.join(toolsBin(), "conftest"),
        [
          "test",
          path.join(project.dir, "configs/kms/ruim.yaml"),
          "--policy",
          path.join(PROJECT_ROOT, "policies"),
          "--no-color",
          "--output",
          "json",
        ],
        { encoding: "utf8" },
      );
      const regoMsgs = (JSON.parse(res.stdout)[0].failures as { msg: string }[]).map((f) => f.msg);
      for (const m of regoMsgs.filter((x) => !x.startsWith("CART-KMS-003: ") || !x.includes("expired")))
        expect(text).toContain(m);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "an HSM that is not ready (missing token) fails preview with the reason",
    async () => {
      const inventory = fs
        .readFileSync(path.join(project.dir, "configs/kms/local.yaml"), "utf8")
        .replace("label: cartorio-local", "label: cartorio-ausente");
      fs.writeFileSync(path.join(project.dir, "configs/kms/ausente.yaml"), inventory);
      const stack = await project.stack("semhsm", (cfg) => {
        cfg["cartorio-plataforma:kms"] = { inventory: "configs/kms/ausente.yaml" };
      });
      const err = await stack.preview({}).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(String(err)).toMatch(/no token labelled 'cartorio-ausente'/);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "an extractable key planted under an inventory key's label fails preview, naming it; the key is untouched",
    async () => {
      // An inventory of its own, so the planted key troubles no other test of the shared token.
      const inventory = fs
        .readFileSync(path.join(project.dir, "configs/kms/local.yaml"), "utf8")
        .replace("id: atos-notariais", "id: plantada");
      fs.writeFileSync(path.join(project.dir, "configs/kms/plantada.yaml"), inventory);
      project.hsm.plantKeyPair("cartorio-local", USER_PIN, "plantada-v1", {
        algorithm: "EC",
        curve: "P-384",
        extractable: true,
      });
      const token = { label: "cartorio-local" };
      const spec = { id: "plantada", version: 1, algorithm: "EC" as const, curve: "P-384" as const };
      const before = inspectKey(SOFTHSM_MODULE, token, spec, USER_PIN).record!.fingerprint;
      const stack = await project.stack("plantada", (cfg) => {
        cfg["cartorio-plataforma:kms"] = { inventory: "configs/kms/plantada.yaml" };
      });
      const err = await stack.preview({}).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(String(err)).toMatch(/key plantada-v1 is not what the inventory declares/);
      expect(String(err)).toMatch(/CKA_EXTRACTABLE is true/);
      expect(inspectKey(SOFTHSM_MODULE, token, spec, USER_PIN).record!.fingerprint).toBe(before);
      expect(fs.existsSync(path.join(project.dir, "rendered/plantada"))).toBe(false);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "invalid stack config fails before any resource is registered, listing every problem",
    async () => {
      const stack = await project.stack("invalida", (cfg) => {
        cfg["cartorio-plataforma:scaling"] = { minReplicas: 0, cpuUtilization: 150 };
        cfg["cartorio-plataforma:gitops"] = { path: "apps/producao" };
      });
      const err = await stack.preview({}).then(
        () => undefined,
        (e: Error) => e,
      );
      const text = String(err);
      expect(text).toContain("stack invalida: 3 configuration problem(s)");
      expect(text).toContain("cartorio-plataforma:scaling.minReplicas = 0");
      expect(text).toContain("cartorio-plataforma:scaling.cpuUtilization = 150");
      expect(text).toContain("cartorio-plataforma:gitops.path");
      expect(text).not.toMatch(/kubernetes:core\/v1:Namespace/);
    },
    ENGINE_TIMEOUT,
  );
});

describe("a preview of untrusted code gets no PIN", () => {
  it(
    "preview without the PIN validates the HSM slots without logging in; up without it stops, naming kms.pinEnv",
    async () => {
      const stack = await project.stack("semPin".toLowerCase());
      const ws = stack.workspace as unknown as { envVars: Record<string, string> };
      const pin = ws.envVars.CARTORIO_HSM_PIN;
      delete ws.envVars.CARTORIO_HSM_PIN;
      try {
        const preview = await stack.preview({ onOutput: collect, policyPacks: [path.join(project.dir, "policypack")] });
        expect(preview.changeSummary.create).toBeGreaterThan(5);
        const err = await stack.up({ onOutput: collect }).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(String(err)).toContain("set the user PIN in the environment variable CARTORIO_HSM_PIN (kms.pinEnv)");
        // Nothing but the stack's own root resource was recorded.
        const types = ((await stack.exportStack()).deployment.resources ?? []).map((r: { type: string }) => r.type);
        expect(types.filter((t: string) => t !== "pulumi:pulumi:Stack")).toEqual([]);
      } finally {
        ws.envVars.CARTORIO_HSM_PIN = pin;
      }
    },
    ENGINE_TIMEOUT,
  );
});

describe("the load gate and the capacity run through the engine", () => {
  let server: http.Server;
  let target: string;
  // The deployment under the capacity run: 2 replicas of 50 rps each.
  let known: KnownCapacityServer;
  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    known = await knownCapacityServer(2, 20);
  });
  afterAll(async () => {
    await known.close();
    await new Promise((r) => server.close(r));
  });

  const carga = (trigger: string) =>
    project.stack("carga", (cfg) => {
      cfg["cartorio-plataforma:features"] = { ...(cfg["cartorio-plataforma:features"] as object), loadtest: true };
      cfg["cartorio-plataforma:loadtest"] = {
        target,
        trigger,
        k6Path: path.join(PROJECT_ROOT, "test/k6-standin/k6"),
        progressFile: ".local/loadtest/carga.log",
        profile: {
          baselineRps: 10,
          peakRps: 30,
          peakDurationSeconds: 1,
          rampSeconds: 0,
          preAllocatedVUs: 10,
          maxVUs: 50,
        },
        thresholds: { minSamples: 10, p95Ms: 150, p99Ms: 400 },
        capacity: {
          target: known.url,
          replicas: 2,
          deployment: { namespace: "cartorio", name: "cartorio-api-capacidade" },
          startRps: 60,
          stepRps: 10,
          steps: 8,
          stepSeconds: 3,
          progressFile: ".local/loadtest/capacidade.log",
        },
      };
    });

  it(
    "up runs the gate and the capacity run; only the capacity at fixed replicas feeds the plan; a second up runs neither again",
    async () => {
      let stack = await carga("sha256:v1");
      const first = await stack.up({ onOutput: collect });
      const lt = first.outputs.loadtest.value;
      expect(lt.result).toMatchObject({ passed: true, droppedIterations: 0, errorRate: 0 });
      const input = first.outputs.capacity.value.input;
      expect(input.throughputSource).toMatch(/^capacity run \d{4}-\d\d-\d\dT.*, 2 fixed replicas$/);
      expect(input.measuredBy).toMatchObject({
        replicas: 2,
        lowerBound: false,
        method: expect.stringMatching(/^stepped/),
      });
      // The truth is 50 rps per replica.
      expect(Math.abs(input.replicaThroughputRps - 50) / 50).toBeLessThanOrEqual(0.15);
      expect(fs.readFileSync(path.join(project.dir, ".local/loadtest/capacidade.log"), "utf8")).toMatch(/passo_0/);
      expect(fs.readFileSync(path.join(project.dir, ".local/loadtest/carga.log"), "utf8")).toMatch(/running \(/);

      const again = await stack.up({ onOutput: collect });
      expect(Object.keys(again.summary.resourceChanges ?? {})).toEqual(["same"]);
      expect(again.outputs.loadtest.value.result).toEqual(lt.result);

      expect(again.outputs.capacity.value.input).toEqual(input);

      // A new trigger runs the gate again; the capacity run has its own trigger (the images), unchanged.
      stack = await carga("sha256:v2");
      const third = await stack.up({ onOutput: collect });
      expect(third.summary.resourceChanges?.update).toBe(1);
    },
    ENGINE_TIMEOUT,
  );
});

describe("state safety", () => {
  it(
    "two concurrent ups on one stack: the second is refused by the lock and the state stays intact",
    async () => {
      const stack = await project.stack("render");
      const results = await Promise.allSettled([stack.up({}), stack.up({})]);
      const refused = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(String(refused[0].reason)).toMatch(/currently locked/);
      const preview = await stack.preview({});
      expect(Object.keys(preview.changeSummary)).toEqual(["same"]);
      const exported = await stack.exportStack();
      expect(exported.deployment.resources.length).toBeGreaterThan(5);
    },
    ENGINE_TIMEOUT,
  );

  it(
    "destroy leaves the retained namespace, the workload's guard rails and every key on the HSM",
    async () => {
      const stack = await project.stack("render");
      await stack.destroy({ onOutput: collect });
      const files = Object.keys(project.rendered());
      expect(files.some((f) => /v1-namespace-(default-)?cartorio\.yaml$/.test(f))).toBe(true);
      // So are the workload's guard rails: Flux's cartorio-api keeps running after a destroy (#29).
      for (const kind of ["horizontalpodautoscaler", "poddisruptionbudget", "networkpolicy"])
        expect(
          files.some((f) => f.includes(kind)),
          kind,
        ).toBe(true);
      project.hsm.activate();
      // Every key the stack made is still there (plantada-v1 is the planted key an earlier test left alone).
      expect(
        listKeyLabels(SOFTHSM_MODULE, { label: "cartorio-local" }, USER_PIN).filter((l) => !l.startsWith("plantada-")),
      ).toEqual(["atos-notariais-v1", "evidencias-v1", "selo-digital-v1"]);
      const exported = await stack.exportStack();
      expect(exported.deployment.resources ?? []).toHaveLength(0);
    },
    ENGINE_TIMEOUT,
  );
});
