/** The one configuration model: both stack files validate, bad input fails with every problem at once. */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  loadStackFile,
  rawFromEngineConfig,
  rawFromStackFile,
  validateConfig,
} from "../../components/config/load";
import { PROJECT_ROOT, tempDir } from "../helpers/tools";

const ctx = { stack: "teste", projectRoot: PROJECT_ROOT };

function problemsOf(raw: Record<string, unknown>, c = ctx) {
  try {
    validateConfig(raw, c);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("expected the config to be refused");
}

describe("stack files", () => {
  it("producao validates, with the institutional GitOps repository and every area on", () => {
    const cfg = loadStackFile(PROJECT_ROOT, "producao");
    expect(cfg.gitops).toMatchObject({
      owner: "cartorio-digital",
      repository: "infraestrutura",
      branch: "main",
      path: "clusters/producao",
    });
    expect(cfg.workload).toMatchObject({ namespace: "cartorio", deployment: "cartorio-api" });
    expect(cfg.kubernetes.mode).toBe("cluster");
    expect(cfg.features).toEqual({
      gitops: true,
      repositoryHardening: true,
      keys: true,
      scaling: true,
      loadtest: true,
    });
    expect(cfg.kms.inventory).toBe("configs/kms/producao.yaml");
  });

  it("local validates as the embedded stack: the embedded cluster, embedded Flux, no GitHub, no load gate", () => {
    const cfg = loadStackFile(PROJECT_ROOT, "local");
    expect(cfg.kubernetes).toMatchObject({
      mode: "cluster",
      kubeconfig: ".local/cluster/kubeconfig",
      context: "local",
    });
    expect(cfg.gitops.flux.source).toBe("embedded");
    expect(cfg.features.repositoryHardening).toBe(false);
    expect(cfg.features.loadtest).toBe(false);
    expect(cfg.kms.module).toBe("/usr/lib/softhsm/libsofthsm2.so");
  });

  it("reads the engine's flat config the same way as the stack file", () => {
    const fromFile = rawFromStackFile(path.join(PROJECT_ROOT, "Pulumi.producao.yaml"));
    const flat = Object.fromEntries(
      Object.entries(fromFile).map(([k, v]) => [
        `cartorio-plataforma:${k}`,
        typeof v === "string" ? v : JSON.stringify(v),
      ]),
    );
    flat["aws:region"] = "sa-east-1"; // other namespaces are not ours
    expect(rawFromEngineConfig(flat)).toEqual(fromFile);
  });
});

describe("bad configuration", () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      "wrong type",
      { scaling: { minReplicas: "três" } },
      "cartorio-plataforma:scaling.minReplicas",
      /expected number, got string/,
    ],
    ["zero replicas", { scaling: { minReplicas: 0 } }, "cartorio-plataforma:scaling.minReplicas", /at least 1 replica/],
    [
      "negative replicas",
      { scaling: { maxReplicas: -2 } },
      "cartorio-plataforma:scaling.maxReplicas",
      /at least 1 replica/,
    ],
    [
      "min above max",
      { scaling: { minReplicas: 10, maxReplicas: 4 } },
      "cartorio-plataforma:scaling.minReplicas",
      /minReplicas \(10\) ≤ maxReplicas \(4\)/,
    ],
    [
      "max below the default min",
      { scaling: { maxReplicas: 2 } },
      "cartorio-plataforma:scaling.maxReplicas",
      /scaling\.maxReplicas ≥ scaling\.minReplicas, which is 3 by default/,
    ],
    [
      "GitOps path outside clusters/",
      { gitops: { path: "apps/producao" } },
      "cartorio-plataforma:gitops.path",
      /under clusters\//,
    ],
    [
      "unknown feature flag",
      { features: { blockchain: true } },
      "cartorio-plataforma:features.blockchain",
      /unknown key/,
    ],
    [
      "unknown top-level key",
      { escalonamento: {} },
      "cartorio-plataforma:escalonamento",
      /expected one of features, kubernetes/,
    ],
    [
      "malformed URL",
      { loadtest: { target: "api.cartorio" } },
      "cartorio-plataforma:loadtest.target",
      /absolute http\(s\) URL/,
    ],
    [
      "unreadable KMS path",
      { kms: { inventory: "configs/kms/nao-existe.yaml" } },
      "cartorio-plataforma:kms.inventory",
      /readable KMS inventory file/,
    ],
    ["empty branch", { gitops: { branch: "" } }, "cartorio-plataforma:gitops.branch", /non-empty branch/],
    ["owner GitHub refuses", { gitops: { owner: "-cartorio" } }, "cartorio-plataforma:gitops.owner", /GitHub owner/],
    [
      "repository GitHub refuses",
      { gitops: { repository: "infra estrutura" } },
      "cartorio-plataforma:gitops.repository",
      /GitHub repository name/,
    ],
    [
      "utilisation target of 0",
      { scaling: { cpuUtilization: 0 } },
      "cartorio-plataforma:scaling.cpuUtilization",
      /between 1 and 100/,
    ],
    [
      "utilisation target over 100",
      { scaling: { memoryUtilization: 130 } },
      "cartorio-plataforma:scaling.memoryUtilization",
      /between 1 and 100/,
    ],
    [
      "stabilisation window over 3600 s",
      {
        scaling: {
          behavior: {
            scaleDown: { stabilizationWindowSeconds: 7200, policies: [{ type: "Pods", value: 1, periodSeconds: 60 }] },
          },
        },
      },
      "cartorio-plataforma:scaling.behavior.scaleDown.stabilizationWindowSeconds",
      /between 0 and 3600/,
    ],
    [
      "negative rate",
      { loadtest: { profile: { baselineRps: -5 } } },
      "cartorio-plataforma:loadtest.profile.baselineRps",
      /non-negative rate/,
    ],
    [
      "malformed known_hosts",
      { gitops: { flux: { knownHosts: "github.com not-a-key" } } },
      "cartorio-plataforma:gitops.flux.knownHosts",
      /known_hosts lines/,
    ],
    [
      // A PR pointing the PIN's variable at another one its job has: each login with that value burns a PIN try.
      "the PIN read from another variable",
      { kms: { pinEnv: "GITHUB_TOKEN" } },
      "cartorio-plataforma:kms.pinEnv",
      /expected CARTORIO_HSM_PIN, the one variable the deploy steps set/,
    ],
    [
      "unknown team",
      { gitops: { knownTeams: ["time-aplicacao"], teams: { security: "time-fantasma" } } },
      "cartorio-plataforma:gitops.teams.security",
      /organisation's teams/,
    ],
    [
      "render mode with a context",
      { kubernetes: { mode: "render", context: "producao" } },
      "cartorio-plataforma:kubernetes.context",
      /no context in render mode/,
    ],
    [
      "render mode with a kubeconfig",
      { kubernetes: { mode: "render", kubeconfig: ".local/cluster/kubeconfig" } },
      "cartorio-plataforma:kubernetes.kubeconfig",
      /no kubeconfig in render mode/,
    ],
    [
      "repository hardening without the deploy identity",
      { features: { repositoryHardening: true } },
      "cartorio-plataforma:gitops.automation",
      /deploy identity.*bypass the PR rule/,
    ],
    [
      "a deploy identity that is not a numeric id",
      { gitops: { automation: { actorType: "Integration", actorId: "deploy-bot" } } },
      "cartorio-plataforma:gitops.automation.actorId",
      /numeric id/,
    ],
    [
      "mirror without a URL",
      { gitops: { flux: { source: "mirror" } } },
      "cartorio-plataforma:gitops.flux.mirrorUrl",
      /mirrored install.yaml/,
    ],
    [
      "load gate without a target",
      { features: { loadtest: true } },
      "cartorio-plataforma:loadtest.target",
      /base URL under test/,
    ],
    [
      "unknown enum value",
      { kubernetes: { mode: "apply" } },
      "cartorio-plataforma:kubernetes.mode",
      /expected one of render, cluster/,
    ],
  ];

  it.each(cases)("%s", (_name, raw, key, expected) => {
    const problems = problemsOf(raw);
    const p = problems.find((x) => x.key === key);
    expect(p, `no problem reported for ${key}: ${JSON.stringify(problems)}`).toBeDefined();
    expect(p!.expected).toMatch(expected);
  });

  it("names the stack, the key, the bad value and the expected form in the message", () => {
    try {
      validateConfig({ scaling: { minReplicas: -1 } }, { ...ctx, stack: "producao" });
      throw new Error("not refused");
    } catch (e) {
      // One problem is one line, from the stack and the key on, with where to fix it and how to check.
      expect((e as Error).message).toBe(
        "stack producao: cartorio-plataforma:scaling.minReplicas = -1: expected at least 1 replica; nothing was " +
          "changed (fix Pulumi.producao.yaml, then check with: pulumi preview --stack producao)",
      );
    }
  });

  it("reports every problem at once", () => {
    const problems = problemsOf({
      features: { blockchain: true },
      scaling: { minReplicas: 0, cpuUtilization: 101 },
      gitops: { path: "/etc", branch: "" },
      loadtest: { target: "nope" },
    });
    expect(problems.map((p) => p.key).sort()).toEqual(
      [
        "cartorio-plataforma:features.blockchain",
        "cartorio-plataforma:gitops.branch",
        "cartorio-plataforma:gitops.path",
        "cartorio-plataforma:loadtest.target",
        "cartorio-plataforma:scaling.cpuUtilization",
        "cartorio-plataforma:scaling.minReplicas",
      ].sort(),
    );
  });

  it("reports cross-key problems together too", () => {
    const problems = problemsOf({
      kms: { inventory: "nao-existe.yaml" },
      kubernetes: { mode: "render", context: "x" },
      features: { loadtest: true },
    });
    expect(problems.map((p) => p.key).sort()).toEqual([
      "cartorio-plataforma:kms.inventory",
      "cartorio-plataforma:kubernetes.context",
      "cartorio-plataforma:loadtest.target",
    ]);
  });

  it("refuses a KMS path that exists but cannot be read as a file", () => {
    const dir = tempDir("cfg");
    fs.mkdirSync(path.join(dir, "inventario.yaml"));
    const problems = problemsOf({ kms: { inventory: "inventario.yaml" } }, { stack: "teste", projectRoot: dir });
    expect(problems[0].key).toBe("cartorio-plataforma:kms.inventory");
  });
});
