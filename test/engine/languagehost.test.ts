/**
 * Our Node.js language host behaves as upstream's wherever a user could tell:
 * each case runs test/fixtures/host (a tiny program and a policy pack) through
 * the real CLI the toolchain built, with the host next to it.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT, pulumiCli, tempDir } from "../helpers/tools";

const TIMEOUT = 240_000;
const SECRET = "fé-pública-7319";
let dir: string;
let record: string;
let env: NodeJS.ProcessEnv;
let ambientMarker: string;
const cli = pulumiCli();
const toolchainHost = path.join(path.dirname(cli), "pulumi-language-nodejs");

interface Seen {
  who: "program" | "policy" | "policy-js" | "remediate-rpc";
  dryRun: boolean;
  organization: string;
  project: string;
  stack: string;
  pid?: number;
  ppid?: number;
  hostExe?: string;
  regiao?: string;
  tsNode?: boolean;
}

function pulumi(...args: string[]) {
  const res = spawnSync(cli, [...args, "--non-interactive"], { cwd: dir, env, encoding: "utf8", timeout: TIMEOUT });
  return { status: res.status, stdout: res.stdout ?? "", stderr: res.stderr ?? "", out: `${res.stdout}${res.stderr}` };
}
function ok(...args: string[]) {
  const res = pulumi(...args);
  if (res.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed (${res.status}):\n${res.out}`);
  return res;
}
const scenario = (name: string) => ok("config", "set", "cenario", name);
const seen = (): Seen[] =>
  fs.existsSync(record)
    ? fs
        .readFileSync(record, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
// Sorted: the state lists resources in the order a run registered them, which a program's concurrency decides.
const urns = () =>
  JSON.parse(ok("stack", "export").stdout)
    .deployment.resources.map((r: { urn: string }) => r.urn)
    .sort();
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `pulumi up` of the sleeping scenario and resolves once the program has started. */
async function upUntilProgramRuns(): Promise<{ child: ChildProcess; program: Seen; output: () => string }> {
  scenario("sleep");
  fs.writeFileSync(record, "");
  let output = "";
  const child = spawn(cli, ["up", "--yes", "--skip-preview", "--non-interactive"], { cwd: dir, env });
  child.stdout!.on("data", (b) => (output += b));
  child.stderr!.on("data", (b) => (output += b));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const program = seen().find((s) => s.who === "program");
    // The program records itself, then registers its resources and sleeps: give it a moment to get there.
    if (program) return sleep(1500).then(() => ({ child, program, output: () => output }));
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the program never started:\n${output}`);
    await sleep(200);
  }
}

async function exitWithin(child: ChildProcess, seconds: number): Promise<number> {
  const t0 = Date.now();
  if (child.exitCode === null && child.signalCode === null) {
    await Promise.race([new Promise((r) => child.once("exit", r)), sleep(seconds * 1000)]);
  }
  expect(child.exitCode !== null || child.signalCode !== null, `the CLI still runs after ${seconds}s`).toBe(true);
  return (Date.now() - t0) / 1000;
}

async function goneWithin(pids: number[], seconds: number) {
  const deadline = Date.now() + seconds * 1000;
  while (pids.some(alive) && Date.now() < deadline) await sleep(100);
  expect(pids.filter(alive), `still running after ${seconds}s`).toEqual([]);
}

/** Processes whose command line names the test project (the program, plugins started for it). */
function processesOf(folder: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmd.includes(folder) && Number(pid) !== process.pid) out.push(`${pid} ${cmd}`);
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

describe("the language host, through the real CLI", () => {
  beforeAll(() => {
    dir = tempDir("host");
    fs.cpSync(path.join(PROJECT_ROOT, "test/fixtures/host"), dir, { recursive: true });
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
    for (const pack of ["policypack", "policypack-js", "policypack-remedia"])
      fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, pack, "node_modules"));
    fs.mkdirSync(path.join(dir, "state"));
    record = path.join(dir, "record.jsonl");
    // An "official" host first on PATH: with PULUMI_IGNORE_AMBIENT_PLUGINS it must never run.
    const ambient = tempDir("ambient-host");
    ambientMarker = path.join(ambient, "ran");
    fs.writeFileSync(
      path.join(ambient, "pulumi-language-nodejs"),
      `#!/bin/sh\ntouch ${ambientMarker}\necho "ambient host" >&2\nexit 1\n`,
      { mode: 0o755 },
    );
    env = {
      ...process.env,
      PATH: `${ambient}:${process.env.PATH}`,
      PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "anfitriao-teste",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
      HOST_TEST_RECORD: record,
    };
    ok("stack", "init", "teste");
    ok("config", "set", "regiao", "sa-east-1");
    ok("config", "set", "--secret", "lema", SECRET);
  });
  afterAll(() => {
    for (const p of processesOf(dir)) process.kill(Number(p.split(" ")[0]), "SIGKILL");
  });

  it(
    "isDryRun, organization, project and stack are right in preview and in up; the host is the toolchain's",
    () => {
      scenario("ok");
      fs.writeFileSync(record, "");
      ok("preview");
      ok("up", "--yes", "--skip-preview");
      const runs = seen().filter((s) => s.who === "program");
      expect(runs.map((r) => r.dryRun)).toEqual([true, false]);
      for (const r of runs) {
        expect(r).toMatchObject({ organization: "organization", project: "anfitriao", stack: "teste" });
        // From the process table: the program's parent is the host next to the toolchain's CLI.
        expect(fs.realpathSync(r.hostExe!)).toBe(fs.realpathSync(toolchainHost));
      }
      const version = spawnSync(toolchainHost, ["-version"], { encoding: "utf8" }).stdout;
      expect(version).toMatch(/^v3\.259\.0 \(cartorio-plataforma toolchain host/);
      expect(fs.existsSync(ambientMarker), "the host on PATH ran").toBe(false);
      expect(pulumi("about").out).toMatch(/languageHost='cartorio-plataforma toolchain host/);
    },
    TIMEOUT,
  );

  it(
    "a secret config value shows as [secret] in outputs and is never plaintext in the state",
    () => {
      const up = ok("up", "--yes", "--skip-preview");
      expect(up.stdout).toMatch(/lema\s*:\s*\[secret\]/);
      expect(up.out).not.toContain(SECRET);
      expect(ok("stack", "output", "lema").stdout.trim()).toBe("[secret]");
      const state = fs.readFileSync(path.join(dir, "state/.pulumi/stacks/anfitriao/teste.json"), "utf8");
      expect(state).toContain("lema");
      expect(state).not.toContain(SECRET);
    },
    TIMEOUT,
  );

  it(
    "a policy reads getStack(), getProject() and a config key during preview and up, and gets the real values",
    () => {
      scenario("ok");
      fs.writeFileSync(record, "");
      const packs = ["--policy-pack", "policypack", "--policy-pack", "policypack-js"];
      ok("preview", ...packs);
      ok("up", "--yes", "--skip-preview", ...packs);
      for (const who of ["policy", "policy-js"]) {
        const policy = seen().filter((s) => s.who === who);
        expect(policy.map((p) => p.dryRun)).toEqual([true, false]);
        for (const p of policy)
          expect(p).toMatchObject({
            stack: "teste",
            project: "anfitriao",
            organization: "organization",
            regiao: "sa-east-1",
            // The TypeScript pack is compiled by ts-node; the one that says typescript: false starts without
            // it (policy-runner.js), which the SDK's runner would register regardless.
            tsNode: who === "policy",
          });
      }
    },
    TIMEOUT,
  );

  it(
    "a JavaScript pack that throws while loading fails the preview with its message, as under the SDK's runner",
    () => {
      scenario("ok");
      const broken = { ...env, HOST_TEST_PACK_THROW: "1" };
      const res = spawnSync(cli, ["preview", "--non-interactive", "--policy-pack", "policypack-js"], {
        cwd: dir,
        env: broken,
        encoding: "utf8",
        timeout: TIMEOUT,
      });
      const out = `${res.stdout}${res.stderr}`;
      expect(res.status, out).not.toBe(0);
      expect(out).toContain("pacote quebrado de propósito");
    },
    TIMEOUT,
  );

  it(
    "a JavaScript pack where the SDK can't be found fails the preview saying so, as the host says it for any plugin",
    () => {
      scenario("ok");
      // The runner finds the SDK's pack runner from the pack's folder itself (no `node -e` first): a pack
      // with no node_modules above it must still get the host's words, naming the folder.
      const alone = tempDir("pack-without-sdk");
      fs.cpSync(path.join(PROJECT_ROOT, "test/fixtures/host/policypack-js"), alone, { recursive: true });
      const res = spawnSync(cli, ["preview", "--non-interactive", "--policy-pack", alone], {
        cwd: dir,
        env,
        encoding: "utf8",
        timeout: TIMEOUT,
      });
      const out = `${res.stdout}${res.stderr}`;
      expect(res.status, out).not.toBe(0);
      expect(out).toContain("It looks like the Pulumi SDK has not been installed");
      expect(out).toContain(`@pulumi/pulumi/cmd/run-policy-pack could not be resolved from ${alone}`);
    },
    TIMEOUT,
  );

  it(
    "Remediate reaches a pack only while one of its policies can remediate, and then it remediates",
    () => {
      scenario("ok");
      // The host answers Remediate itself (the empty answer) while no policy of the pack is at "remediate";
      // the pack records each Remediate call that reaches it.
      const calls = () => seen().filter((s) => s.who === "remediate-rpc").length;
      const preview = (extraEnv: Record<string, string>, ...args: string[]) => {
        const before = calls();
        const res = spawnSync(
          cli,
          ["preview", "--non-interactive", "--diff", "--policy-pack", "policypack-remedia", ...args],
          { cwd: dir, env: { ...env, ...extraEnv }, encoding: "utf8", timeout: TIMEOUT },
        );
        const out = `${res.stdout}${res.stderr}`;
        expect(res.status, out).toBe(0);
        return { out, reached: calls() - before };
      };
      const advisory = preview({});
      expect(advisory.reached).toBe(0);
      expect(advisory.out).not.toContain("remediado");
      // Configuration makes the policy remediate: every resource's Remediate goes to the pack, which stamps it.
      const config = path.join(dir, "remedia.json");
      fs.writeFileSync(config, JSON.stringify({ carimba: { enforcementLevel: "remediate" } }));
      const configured = preview({}, "--policy-pack-config", config);
      expect(configured.reached).toBeGreaterThanOrEqual(3);
      expect(configured.out).toContain("remediado");
      // So does the policy's own level, with no configuration.
      const own = preview({ HOST_TEST_REMEDIA_LEVEL: "remediate" });
      expect(own.reached).toBeGreaterThanOrEqual(3);
      expect(own.out).toContain("remediado");
    },
    TIMEOUT,
  );

  it(
    "a program that throws after registering resources fails up, and nothing already in the stack is deleted",
    () => {
      scenario("ok");
      ok("up", "--yes", "--skip-preview");
      const before = urns();
      expect(before.some((u: string) => u.endsWith("::segundo"))).toBe(true);
      scenario("throw");
      const up = pulumi("up", "--yes", "--skip-preview");
      expect(up.status).not.toBe(0);
      expect(up.out).toContain("falha depois de registrar o primeiro");
      // "segundo" was not registered this time: a failed run deletes nothing.
      expect(urns()).toEqual(before);
    },
    TIMEOUT,
  );

  it(
    "pulumi.RunError ends the run with its message and no stack trace, like upstream's bail",
    () => {
      scenario("runerror");
      const up = pulumi("up", "--yes", "--skip-preview");
      expect(up.status).not.toBe(0);
      expect(up.out).toContain("configuração inválida: o cenário pede um RunError");
      expect(up.out).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
      expect(up.out).not.toMatch(/index\.ts:\d+/);
      expect(up.out).not.toMatch(/Program exited with non-zero exit code/);
    },
    TIMEOUT,
  );

  it(
    "--logflow -v=9 --logtostderr works: the host takes the flags and its own log reaches the CLI's",
    () => {
      // The host's log reaches the CLI over OTLP (PULUMI_LOG_OTLP_ENDPOINT) in batches, and the CLI kills the
      // host as soon as the run ends: a program that ends at once (this stack's, once its resources exist)
      // can end before the batch leaves, and the line never arrives. The program pauses 3 s (scenario pausa).
      scenario("pausa");
      const preview = pulumi("preview", "--logflow", "-v=9", "--logtostderr");
      expect(preview.status, preview.out.slice(-3000)).toBe(0);
      expect(preview.stderr).toMatch(/Language host launching process/);
    },
    TIMEOUT,
  );

  it(
    "SIGINT during up ends it within 10 s, leaves no process behind, and the stack unlocked and consistent",
    async () => {
      const { child, program, output } = await upUntilProgramRuns();
      child.kill("SIGINT");
      const took = await exitWithin(child, 10);
      expect(child.exitCode, output()).not.toBe(0);
      await goneWithin([program.pid!, program.ppid!], 10 - took);
      expect(processesOf(dir)).toEqual([]);
      // Unlocked: no lock file left, and the next run goes through.
      const locks = path.join(dir, "state/.pulumi/locks/organization/anfitriao/teste");
      expect(fs.existsSync(locks) ? fs.readdirSync(locks) : []).toEqual([]);
      scenario("ok");
      const up = ok("up", "--yes", "--skip-preview");
      expect(up.stdout).not.toMatch(/pending operation/i);
      expect(urns().filter((u: string) => /::(primeiro|segundo)$/.test(u))).toHaveLength(2);
    },
    TIMEOUT,
  );

  it(
    "after kill -9 of the CLI, the host and the program exit within 10 s",
    async () => {
      const { child, program } = await upUntilProgramRuns();
      expect(alive(program.ppid!)).toBe(true);
      child.kill("SIGKILL");
      await goneWithin([program.pid!, program.ppid!], 10);
      expect(processesOf(dir)).toEqual([]);
    },
    TIMEOUT,
  );
});
