/**
 * Running the program through the real Pulumi engine (Automation API) on a copy
 * of the project, with a file backend and a SoftHSM2 token of the test's own.
 *
 * The engine runs the copy with PULUMI_NODEJS_TRANSPILE_ONLY=true (ts-node strips types without checking
 * them: each engine test would otherwise pay a full type check of the program). What that leaves out,
 * the type errors a user's `pulumi up` would stop on, is checked by test/engine/typecheck.test.ts with
 * typecheckProgram(): `tsc --noEmit -p` on a copy made by copyProgram(), the same copy these tests run.
 */
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { makeSoftHsm, SoftHsm } from "./softhsm";
import { PROJECT_ROOT, pulumiCli, tempDir } from "./tools";

const COPIED = [
  "Pulumi.yaml",
  "Pulumi.local.yaml",
  "package.json",
  "tsconfig.json",
  "index.ts",
  "components",
  "policypack",
  "policies",
  "configs",
  "testes",
  "manifests",
  // What Flux applies beside manifests/, so a copy published to a test cluster's Git server is a whole
  // repository (the evidence test publishes the copy's own commit and waits for Flux to apply it).
  "clusters",
  "infrastructure",
];

export const PASSPHRASE = "cartorio-local-estado";
export const USER_PIN = "engine-pin-7319";

export interface EngineProject {
  dir: string;
  backend: string;
  hsm: SoftHsm;
  env: Record<string, string>;
  /** Stack `local` (its config changed in place when `config` is given), or a render-mode copy of it. */
  stack(name: string, config?: (cfg: Record<string, unknown>) => void): Promise<Stack>;
  /** The rendered manifests of a stack (default: stack `render`), file name -> text. */
  rendered(stackRenderDir?: string): Record<string, string>;
}

export interface EngineProjectOptions {
  /** The kubeconfig the local stack applies to (a test cluster's), instead of .local/cluster/kubeconfig. */
  kubeconfig?: string;
  /** The local Git server's folder the local stack syncs from (a test cluster's), instead of .local/cluster/git. */
  gitDir?: string;
}

/**
 * Copies the project (node_modules linked) so tests can change stack files freely.
 * Stack `local` is the real one (cluster mode: pass the test cluster's kubeconfig);
 * any other name is `local` in render mode, rendering to rendered/<name>.
 */
export async function engineProject(opts: EngineProjectOptions = {}): Promise<EngineProject> {
  const dir = copyProgram(opts);
  const backend = path.join(dir, ".pulumi-state");
  fs.mkdirSync(backend);

  const hsm = makeSoftHsm();
  hsm.initToken("cartorio-local", { user: USER_PIN });

  const cli = pulumiCli();
  const command = await PulumiCommand.get({ root: path.dirname(path.dirname(cli)), skipVersionCheck: false });
  const env: Record<string, string> = {
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
    // No type check in the engine: typecheckProgram() does it once (test/engine/typecheck.test.ts).
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    CARTORIO_HSM_PIN: USER_PIN,
    ...hsm.env,
  };
  const ws = await LocalWorkspace.create({ workDir: dir, pulumiCommand: command, envVars: env });

  return {
    dir,
    backend,
    hsm,
    env,
    async stack(name, config) {
      if (name !== "local") {
        const doc = parse(fs.readFileSync(path.join(dir, "Pulumi.local.yaml"), "utf8"));
        const cfg = doc.config as Record<string, unknown>;
        cfg["cartorio-plataforma:kubernetes"] = { mode: "render", renderDirectory: `rendered/${name}` };
        // Rendering needs no cluster, so no local Git server either; the embedded Flux source needs no network.
        // A sync from github.com verifies signed commits (CART-GIT-001), as producao's does: with the test
        // maintainers' public keys, since configs/gitops/maintainers/ waits for the real ones.
        Object.assign(cfg["cartorio-plataforma:gitops"] as Record<string, unknown>, {
          git: { server: "github" },
          requireSignedCommits: true,
          maintainerKeys: path.join(PROJECT_ROOT, "test/fixtures/maintainers"),
        });
        config?.(cfg);
        fs.writeFileSync(path.join(dir, `Pulumi.${name}.yaml`), stringify(doc));
      } else if (config) {
        const file = path.join(dir, "Pulumi.local.yaml");
        const doc = parse(fs.readFileSync(file, "utf8"));
        config(doc.config as Record<string, unknown>);
        fs.writeFileSync(file, stringify(doc));
      }
      return Stack.createOrSelect(name, ws);
    },
    rendered(renderDir = "rendered/render") {
      const out: Record<string, string> = {};
      const root = path.join(dir, renderDir);
      if (!fs.existsSync(root)) return out;
      for (const sub of fs.readdirSync(root)) {
        for (const f of fs.readdirSync(path.join(root, sub)))
          out[`${sub}/${f}`] = fs.readFileSync(path.join(root, sub, f), "utf8");
      }
      return out;
    },
  };
}

/**
 * The program as the engine tests run it: the project's program files copied to a new temporary folder
 * (node_modules linked), the copy's key dates and exceptions moved to today, the local stack pointed at a
 * test cluster when given. Returns the folder.
 */
export function copyProgram(opts: EngineProjectOptions = {}): string {
  const dir = tempDir("engine");
  for (const entry of COPIED) fs.cpSync(path.join(PROJECT_ROOT, entry), path.join(dir, entry), { recursive: true });
  // The policy pack judges cryptoperiods at the wall clock (as it must in production): the copy's
  // local keys start today, so these tests pass on any day. The repository's own calendar is
  // npm run kms:expiry's business.
  const inventory = path.join(dir, "configs/kms/local.yaml");
  const today = new Date().toISOString().slice(0, 10);
  fs.writeFileSync(
    inventory,
    fs.readFileSync(inventory, "utf8").replace(/activatedOn: "\d{4}-\d{2}-\d{2}"/g, `activatedOn: "${today}"`),
  );
  // Likewise the catalogue's exceptions: in force for 90 more days in the copy, whatever the day (their
  // expiry is judged by the policy tests at a fixed clock, and by the pack in production at the wall clock).
  const catalogueFile = path.join(dir, "policies/catalogue.yaml");
  const later = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
  fs.writeFileSync(
    catalogueFile,
    fs.readFileSync(catalogueFile, "utf8").replace(/expires: "\d{4}-\d{2}-\d{2}"/g, `expires: "${later}"`),
  );
  if (opts.kubeconfig || opts.gitDir) {
    const file = path.join(dir, "Pulumi.local.yaml");
    const doc = parse(fs.readFileSync(file, "utf8"));
    if (opts.kubeconfig)
      (doc.config["cartorio-plataforma:kubernetes"] as Record<string, unknown>).kubeconfig = opts.kubeconfig;
    if (opts.gitDir)
      (doc.config["cartorio-plataforma:gitops"] as { git: Record<string, unknown> }).git.localDir = opts.gitDir;
    fs.writeFileSync(file, stringify(doc));
  }
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/**
 * The TypeScript compiler over a program copy, with the copy's own tsconfig.json (what ts-node would check
 * without transpile-only): `tsc --noEmit -p <dir>`. ok is tsc's exit status 0; output holds its errors.
 */
export function typecheckProgram(dir: string): { ok: boolean; output: string } {
  const tsc = path.join(PROJECT_ROOT, "node_modules/typescript/bin/tsc");
  const run = spawnSync(process.execPath, [tsc, "--noEmit", "--pretty", "false", "-p", dir], {
    cwd: dir,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (run.error) throw run.error;
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
}

/** Everything the engine wrote: state files and backups. */
export function stateText(project: EngineProject): string {
  let text = "";
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else text += fs.readFileSync(p).toString("utf8");
    }
  };
  walk(project.backend);
  return text;
}
