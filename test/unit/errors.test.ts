/**
 * Errors a user can act on: each configuration and HSM problem is one line that names what the user
 * wrote (key or token), the value, what is allowed and the command that checks it — no object dump, no
 * Go map, nothing that follows from something else. The plain modules, the HSM ones against real SoftHSM2;
 * test/engine/errors.test.ts shows what the engine prints of the same problems.
 */
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError, rawFromStackFile, validateConfig } from "../../components/config/load";
import { pkcs11Calls } from "../../components/keys/pkcs11";
import { slotProblems, slotValidationProvider } from "../../components/keys/providers";
import { clusterProblem } from "../../components/platform/cluster";
import { missingToolLine, spawnProblem, toolProblem } from "../../components/platform/tools";
import { recordResources, settle } from "../helpers/mocks";
import { makeSoftHsm } from "../helpers/softhsm";
import { PROJECT_ROOT, SOFTHSM_MODULE, tempDir } from "../helpers/tools";

const ctx = { stack: "erros", projectRoot: PROJECT_ROOT };
const SIGNING = ["CKM_EC_KEY_PAIR_GEN", "CKM_ECDSA"];
const PIN_ENV = "CARTORIO_ERROS_PIN";

function refusal(raw: Record<string, unknown>): ConfigError {
  try {
    validateConfig(raw, ctx);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("expected the config to be refused");
}

/** One line, starting with what the user wrote; no object or map dump anywhere. */
function expectOneLine(text: string) {
  expect(text.split("\n"), text).toHaveLength(1);
  expect(text).not.toMatch(/[{}]|map\[|\[object Object\]|\(missing\)/);
}

afterEach(() => {
  delete process.env[PIN_ENV];
});

describe("(1) replicas: the key the stack wrote, its value, the default it conflicts with", () => {
  it("maxReplicas below the default minReplicas names maxReplicas = 2 and minReplicas' default 3, and the fix", () => {
    const e = refusal({ scaling: { maxReplicas: 2 } });
    expectOneLine(e.message);
    expect(e.message).toMatch(/^stack erros: cartorio-plataforma:scaling\.maxReplicas = 2: /);
    expect(e.message).toContain("scaling.minReplicas, which is 3 by default (this stack does not set it)");
    expect(e.message).toContain("set scaling.maxReplicas to 3 or more, or set scaling.minReplicas to 2 or less");
    expect(e.message).toContain("check with: pulumi preview --stack erros");
    expect(e.problems.map((p) => p.key)).toEqual(["cartorio-plataforma:scaling.maxReplicas"]);
  });

  it("minReplicas above the default maxReplicas names minReplicas and maxReplicas' default 20", () => {
    const e = refusal({ scaling: { minReplicas: 30 } });
    expectOneLine(e.message);
    expect(e.message).toContain("cartorio-plataforma:scaling.minReplicas = 30: ");
    expect(e.message).toContain("scaling.maxReplicas, which is 20 by default");
  });

  it("the same for the load profile: peakRps below the default baselineRps", () => {
    const e = refusal({ loadtest: { profile: { peakRps: 10 } } });
    expect(e.message).toContain("cartorio-plataforma:loadtest.profile.peakRps = 10: ");
    expect(e.message).toContain("loadtest.profile.baselineRps, which is 40 by default");
  });

  it("printed as an uncaught error (console.error, Pulumi's handler: util.inspect) it is the message alone", () => {
    const e = refusal({ scaling: { maxReplicas: 2 } });
    expect(inspect(e)).toBe(e.message);
    expect(inspect(e, { colors: true })).toBe(e.message);
    // Its stack trace is a stack trace (the stack's name used to overwrite it, and util.inspect printed "[erros]").
    expect(e.stack).toMatch(/^ConfigError: stack erros/);
    expect(e.stackName).toBe("erros");
  });

  it("several problems: a line with how many, then one line per problem", () => {
    const e = refusal({ scaling: { minReplicas: 0, cpuUtilization: 150 }, gitops: { path: "apps/producao" } });
    const lines = e.message.split("\n");
    expect(lines[0]).toBe(
      "stack erros: 3 configuration problem(s); nothing was changed " +
        "(fix Pulumi.erros.yaml, then check with: pulumi preview --stack erros):",
    );
    expect(lines.slice(1)).toEqual([
      '  - cartorio-plataforma:gitops.path = "apps/producao": expected a path under clusters/, such as clusters/producao',
      "  - cartorio-plataforma:scaling.minReplicas = 0: expected at least 1 replica",
      "  - cartorio-plataforma:scaling.cpuUtilization = 150: expected a utilisation target between 1 and 100",
    ]);
  });
});

describe("(2) durations: what a Go duration is, and the one meant", () => {
  it("gitops.syncTimeout: 5 minutes", () => {
    const e = refusal({ gitops: { syncTimeout: "5 minutes" } });
    expectOneLine(e.message);
    expect(e.message).toMatch(/^stack erros: cartorio-plataforma:gitops\.syncTimeout = "5 minutes": /);
    expect(e.message).toContain("expected a Go duration: whole numbers with h, m or s and no spaces");
    expect(e.message).toContain("for 5 minutes write 5m");
  });

  it("gitops.flux.interval: 1 hour", () => {
    const e = refusal({ gitops: { flux: { interval: "1 hour" } } });
    expectOneLine(e.message);
    expect(e.message).toContain('cartorio-plataforma:gitops.flux.interval = "1 hour": expected a Go duration');
    expect(e.message).toContain("for 1 hour write 1h");
  });

  it("no guess where the value is not a number and a unit", () => {
    const e = refusal({ gitops: { syncTimeout: "soon" } });
    expect(e.message).not.toContain(" write ");
  });
});

describe("(3) and (4): the signing tokens, on SoftHSM2", () => {
  function hsmWith(label: string, pin = "user-1234") {
    const hsm = makeSoftHsm();
    hsm.activate();
    const serial = hsm.initToken(label, { user: pin });
    return { hsm, serial };
  }

  it("(3) a label the HSM does not have: the inventory, tokens[i].label, what is present, hsm:slots", () => {
    const { serial } = hsmWith("cartorio-local");
    const { failures } = slotProblems(
      {
        modulePath: SOFTHSM_MODULE,
        pinEnv: PIN_ENV,
        tokens: [{ name: "assinatura", label: "cartorio-ausente", mechanisms: SIGNING }],
        loginRequired: false,
      },
      { inventory: "configs/kms/ausente.yaml", stack: "erros" },
    );
    expect(failures).toEqual([
      "kms inventory configs/kms/ausente.yaml: tokens[0].label = cartorio-ausente (token 'assinatura'): " +
        `no token labelled 'cartorio-ausente' on the HSM (kms.module ${SOFTHSM_MODULE}); ` +
        `present: 'cartorio-local' (serial ${serial}); set tokens[0].label to a token listed, or initialise ` +
        "that token (check with: npm run hsm:slots -- --stack erros)",
    ]);
    expectOneLine(failures[0]);
  });

  it("(3) the slot provider's check says the same, with no property: the engine prints no Go map of the tokens", async () => {
    hsmWith("cartorio-local");
    const tokens = [{ name: "assinatura", label: "cartorio-ausente", mechanisms: SIGNING }];
    const res = await slotValidationProvider.check!(
      {},
      { modulePath: SOFTHSM_MODULE, pinEnv: PIN_ENV, tokens, loginRequired: false },
    );
    expect(res.failures).toHaveLength(1);
    expect(res.failures![0].property).toBe("");
    expect(res.failures![0].reason).toContain("tokens[0].label = cartorio-ausente (token 'assinatura'): no token");
    expect(res.failures![0].reason).toContain("(check with: npm run hsm:slots)");
  });

  it("(3) the program stops on it before registering any resource (so nothing is cancelled midway)", async () => {
    hsmWith("cartorio-local");
    const dir = tempDir("erros");
    const inventory = path.join(dir, "ausente.yaml");
    fs.writeFileSync(
      inventory,
      fs
        .readFileSync(path.join(PROJECT_ROOT, "configs/kms/local.yaml"), "utf8")
        .replace("label: cartorio-local", "label: cartorio-ausente"),
    );
    vi.resetModules();
    const raw = rawFromStackFile(path.join(PROJECT_ROOT, "Pulumi.local.yaml"));
    raw.kubernetes = { mode: "render", renderDirectory: "rendered/erros" };
    raw.features = { gitops: false, keys: true, scaling: true, loadtest: false };
    raw.kms = { inventory };
    raw.gitops = { ...(raw.gitops as object), git: { server: "github" } };
    pulumi.runtime.setAllConfig(
      Object.fromEntries(Object.entries(raw).map(([k, v]) => [`cartorio-plataforma:${k}`, JSON.stringify(v)])),
    );
    const registered = await recordResources("erros");
    const mod = await import("../../index");
    const err = await mod
      .default({
        clusterProblem: async () => undefined,
        localGitServer: () => {
          throw new Error("not asked in render mode");
        },
        slotProblems,
      })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    await settle();
    expect(err && pulumi.RunError.isInstance(err), String(err)).toBe(true);
    expectOneLine(err!.message);
    expect(err!.message).toMatch(
      new RegExp(
        `^stack erros: kms inventory ${inventory}: tokens\\[0\\]\\.label = cartorio-ausente .*; nothing was changed$`,
      ),
    );
    expect(registered).toEqual([]);
  });

  it("(4) a wrong PIN: kms.pinEnv and its variable, the one try used, hsm:slots; one C_Login", () => {
    const { serial } = hsmWith("cartorio-local", "user-1234");
    process.env[PIN_ENV] = "errado-0000";
    const before = pkcs11Calls.C_Login ?? 0;
    const { failures } = slotProblems(
      {
        modulePath: SOFTHSM_MODULE,
        pinEnv: PIN_ENV,
        tokens: [{ name: "assinatura", label: "cartorio-local", mechanisms: SIGNING }],
        loginRequired: false,
      },
      { inventory: "configs/kms/local.yaml", stack: "erros" },
    );
    expect((pkcs11Calls.C_Login ?? 0) - before).toBe(1);
    expect(failures).toEqual([
      `cartorio-plataforma:kms.pinEnv = ${PIN_ENV}: token 'assinatura' (label cartorio-local, serial ${serial}) ` +
        `refused the PIN in ${PIN_ENV} (CKR_PIN_INCORRECT); one PIN try was used and not retried, since every ` +
        `wrong try counts toward locking the token; put the token's user PIN in ${PIN_ENV} ` +
        "(check with: npm run hsm:slots -- --stack erros)",
    ]);
    expectOneLine(failures[0]);
  });
});

describe("(5) an unreachable cluster", () => {
  it("one line naming the key, the kubeconfig, the context and the server, and how to check it", async () => {
    // A port that was just free: nothing answers there.
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r));
    const dir = tempDir("erros-kube");
    const kubeconfig = path.join(dir, "kubeconfig");
    fs.writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: parado, cluster: {server: 'https://127.0.0.1:" +
          port +
          "', insecure-skip-tls-verify: true}}]",
        "users: [{name: ninguem, user: {token: x}}]",
        "contexts: [{name: parado, context: {cluster: parado, user: ninguem}}]",
        "current-context: parado",
        "",
      ].join("\n"),
    );
    const problem = await clusterProblem(
      { mode: "cluster", renderDirectory: "rendered/x", kubeconfig, context: "parado" },
      PROJECT_ROOT,
      2000,
    );
    expect(problem).toBeDefined();
    expectOneLine(problem!);
    expect(problem).toBe(
      "cartorio-plataforma:kubernetes.context = parado: the Kubernetes API server " +
        `https://127.0.0.1:${port} (context parado of kubeconfig ${kubeconfig}) is not reachable: ECONNREFUSED; ` +
        "for the local stack start it with npm run cluster -- up, otherwise point kubernetes.kubeconfig and " +
        "kubernetes.context at a running cluster, or set kubernetes.mode: render for a preview without one " +
        `(check with: kubectl --kubeconfig ${kubeconfig} --context parado get --raw /readyz)`,
    );
  });
});

describe("(6) a missing tool", () => {
  const emptyPath = { PATH: "/nonexistent-bin", HOME: "/nonexistent-home" };

  it("conftest not on PATH: the tool, who runs it, the install command", () => {
    const line = toolProblem("conftest", "npm run policy:check", emptyPath);
    expect(line).toBe(
      "conftest is not on PATH (npm run policy:check runs it): install it with npm run toolchain, " +
        "then put ~/.cache/cartorio-toolchain/bin on PATH (npm test and npm run local do both)",
    );
    expectOneLine(line!);
    // The same line from a spawn that failed for it (instead of "spawnSync conftest ENOENT").
    const res = spawnSync("conftest", ["--version"], { env: emptyPath });
    expect(spawnProblem("conftest", res.error!, "npm run policy:check")).toBe(line);
  });

  it("npm run policy:check without conftest on PATH says that line, and nothing else, and exits 2", () => {
    const res = spawnSync(process.execPath, [path.join(PROJECT_ROOT, "scripts/ops/run.mjs"), "policy-check"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      env: { ...emptyPath, PATH: `${path.dirname(process.execPath)}${path.delimiter}/nonexistent-bin` },
    });
    expect(res.stderr.trim()).toBe(
      "error: conftest is not on PATH (npm run policy:check runs it): install it with npm run toolchain, " +
        "then put ~/.cache/cartorio-toolchain/bin on PATH (npm test and npm run local do both)",
    );
    expect(res.status).toBe(2);
  });

  it("softhsm2-util not on PATH: apt-get install softhsm2", () => {
    expect(toolProblem("softhsm2-util", undefined, emptyPath)).toBe(
      "softhsm2-util is not on PATH: install it with sudo apt-get install softhsm2",
    );
    expect(missingToolLine("/opt/k6/k6")).toMatch(
      /^\/opt\/k6\/k6 does not exist or is not executable: install it with/,
    );
  });

  it("a tool that is there is no problem", () => {
    expect(toolProblem("sh")).toBeUndefined();
  });

  it("the SoftHSM2 library missing (kms.module): the key, the path, apt-get install softhsm2, hsm:slots", () => {
    const modulePath = "/nonexistent/softhsm/libsofthsm2.so";
    const { failures } = slotProblems(
      {
        modulePath,
        pinEnv: PIN_ENV,
        tokens: [{ name: "assinatura", label: "cartorio-local", mechanisms: SIGNING }],
        loginRequired: false,
      },
      { stack: "erros" },
    );
    expect(failures).toHaveLength(1);
    expectOneLine(failures[0]);
    expect(failures[0]).toBe(
      `cartorio-plataforma:kms.module = ${modulePath}: this PKCS#11 module does not load ` +
        "(cannot open shared object file: No such file or directory); install SoftHSM2 " +
        "(sudo apt-get install softhsm2), or set kms.module to the library's path " +
        "(check with: npm run hsm:slots -- --stack erros)",
    );
  });
});
