/** The PR and deploy workflows: actionlint passes, and they do what the ruleset and the team process rely on. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { gitopsSchema } from "../../components/config/schema";
import { RUNNER_GROUPS } from "../../components/gitops/github-objects";
import { PROJECT_ROOT, tempDir, toolsBin } from "../helpers/tools";

const wf = (name: string) => parse(fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows", name), "utf8"));

describe("workflows", () => {
  it("pass actionlint", () => {
    const actionlint = path.join(toolsBin(), "actionlint");
    if (!fs.existsSync(actionlint))
      throw new Error(`actionlint is not built at ${actionlint}: run scripts/toolchain/build.sh`);
    const res = spawnSync(actionlint, ["-color=false"], { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect(res.stdout + res.stderr).toBe("");
    expect(res.status).toBe(0);
  });

  it("the PR workflow provides every check the ruleset requires, and previews producao with the pack", () => {
    const pr = wf("pr.yml");
    const required = gitopsSchema.parse({}).requiredChecks;
    expect(Object.keys(pr.jobs).sort()).toEqual([...required].sort());
    const preview = pr.jobs.preview.steps.map((s: { run?: string }) => s.run ?? "").join("\n");
    expect(preview).toContain("npx pulumi preview --stack producao --policy-pack policypack");
    expect(pr.jobs.preview.steps.some((s: { uses?: string }) => s.uses?.startsWith("actions/github-script"))).toBe(
      true,
    );
  });

  it("the deploy workflow runs pulumi up in environment producao, one at a time, never cancelled", () => {
    const deploy = wf("deploy.yml");
    expect(deploy.on.push.branches).toEqual(["main"]);
    expect(deploy.concurrency).toEqual({ group: "pulumi-stack-producao", "cancel-in-progress": false });
    expect(deploy.jobs.up.environment).toBe("producao");
    expect(deploy.jobs.up.steps.map((s: { run?: string }) => s.run ?? "").join("\n")).toContain(
      "npx pulumi up --stack producao --policy-pack policypack",
    );
  });

  it("the deploy workflow appends each deployment's evidence to the chain on branch evidencias, verified whole", () => {
    const runs: string[] = wf("deploy.yml").jobs.up.steps.map((s: { run?: string }) => s.run ?? "");
    const at = (text: string) => runs.findIndex((r) => r.includes(text));
    // After the deployment; the chain fetched first, the report written into it, the whole chain checked, pushed.
    expect(at("npx pulumi up --stack producao")).toBeGreaterThanOrEqual(0);
    expect(at("git fetch --no-tags origin evidencias")).toBeGreaterThan(at("npx pulumi up --stack producao"));
    expect(at("npm run evidence -- --stack producao")).toBeGreaterThan(at("git fetch --no-tags origin evidencias"));
    expect(runs[at("npm run evidence -- --stack producao")]).toContain("--out evidencias-chain");
    expect(at("npm run evidence:verify -- --chain evidencias-chain/producao")).toBeGreaterThan(
      at("npm run evidence -- --stack producao"),
    );
    expect(at("HEAD:refs/heads/evidencias")).toBeGreaterThan(at("npm run evidence:verify -- --chain"));
    // A new chain only where the branch does not exist: --genesis is not passed unconditionally.
    expect(runs[at("git ls-remote --exit-code origin refs/heads/evidencias")]).toContain("genesis=--genesis");
    expect(runs[at("npm run evidence -- --stack producao")]).not.toMatch(/--genesis(\s|$)/);
  });
});

/** The AWS credentials action: it exchanges the job's OIDC token for the role named in role-to-assume. */
const AWS_ACTION = /^aws-actions\/configure-aws-credentials@/;
/** The `vars.NAME` of every AWS role a job's steps assume by OIDC (the role is a credential, not a secret). */
function rolesOf(job: unknown): string[] {
  const steps = ((job as { steps?: { uses?: string; with?: Record<string, unknown> }[] })?.steps ?? []).filter((s) =>
    AWS_ACTION.test(s.uses ?? ""),
  );
  return steps.flatMap((s) =>
    [...String(s.with?.["role-to-assume"] ?? "").matchAll(/vars\.([A-Za-z0-9_]+)/g)].map((m) => m[1]),
  );
}

/** Every `secrets.NAME` a job can read (its own env, its steps' env and inputs, its `if`) and every AWS role it assumes. */
function secretsOf(job: unknown): string[] {
  const secrets = [...JSON.stringify(job ?? {}).matchAll(/(?<![\w.-])secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1]);
  return [...new Set([...secrets, ...rolesOf(job)])].sort();
}

/** job -> [environment, secrets], over every workflow. */
function secretMatrix(): Record<string, { environment?: string; secrets: string[] }> {
  const out: Record<string, { environment?: string; secrets: string[] }> = {};
  for (const file of fs.readdirSync(path.join(PROJECT_ROOT, ".github/workflows"))) {
    const w = wf(file);
    expect(secretsOf({ env: w.env, on: w.on }), `${file}: secrets at workflow level reach every job`).toEqual([]);
    for (const [name, job] of Object.entries(w.jobs as Record<string, { environment?: string }>))
      out[`${file.replace(/\.yml$/, "")}/${name}`] = { environment: job.environment, secrets: secretsOf(job) };
  }
  return out;
}

describe("the pipeline's trust boundaries", () => {
  it("only two jobs see secrets, each only its environment's: the deploy job alone has the HSM PIN and the AWS deploy role", () => {
    const m = secretMatrix();
    expect(m["pr/preview"]).toEqual({
      environment: "producao-preview",
      secrets: [
        "CARTORIO_AWS_PREVIEW_ROLE",
        "CARTORIO_GITHUB_READ_TOKEN",
        "KUBECONFIG_PRODUCAO_READONLY",
        "PULUMI_BACKEND_URL_READONLY",
      ],
    });
    expect(m["deploy/up"]).toEqual({
      environment: "producao",
      secrets: [
        "CARTORIO_APP_PRIVATE_KEY",
        "CARTORIO_AWS_DEPLOY_ROLE",
        "CARTORIO_HSM_PIN",
        "KUBECONFIG_PRODUCAO",
        "PULUMI_BACKEND_URL",
      ],
    });
    for (const [job, v] of Object.entries(m)) {
      if (job === "pr/preview" || job === "deploy/up") continue;
      expect(v.secrets, `${job} sees secrets`).toEqual([]);
    }
    const withPin = Object.entries(m).filter(([, v]) => v.secrets.includes("CARTORIO_HSM_PIN"));
    expect(withPin.map(([j]) => j)).toEqual(["deploy/up"]);
  });

  it("PRs from forks never reach the office runner; the deploy job runs only from main in environment producao", () => {
    const pr = wf("pr.yml");
    expect(pr.on).toEqual({ pull_request: { branches: ["main"] } });
    expect(pr.jobs.preview.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
    expect(pr.jobs.preview["runs-on"]).toEqual(["self-hosted", "cartorio-hsm-preview"]);
    for (const [name, job] of Object.entries(pr.jobs as Record<string, { "runs-on": unknown }>))
      if (name !== "preview") expect(job["runs-on"], name).toBe("ubuntu-latest");
    const deploy = wf("deploy.yml");
    expect(Object.keys(deploy.on).sort()).toEqual(["push", "workflow_dispatch"]);
    expect(deploy.jobs.up.environment).toBe("producao");
  });

  it("the README shows the same secret-to-job matrix", () => {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
    for (const [job, v] of Object.entries(secretMatrix())) {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`${job}\``));
      expect(row, `README has no row for ${job}`).toBeDefined();
      const cells = row!.split("|").map((c) => c.trim());
      expect(cells[2], job).toBe(v.environment ? `\`${v.environment}\`` : "—");
      const listed = cells[3] === "none" ? [] : [...cells[3].matchAll(/`([A-Z0-9_]+)`/g)].map((x) => x[1]).sort();
      expect(listed, job).toEqual(v.secrets);
    }
  });

  it("every action is pinned by its full commit SHA, with the tag in a comment", () => {
    for (const file of fs.readdirSync(path.join(PROJECT_ROOT, ".github/workflows"))) {
      const text = fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows", file), "utf8");
      const uses = text.split("\n").filter((l) => /^\s*(- )?uses:/.test(l));
      expect(uses.length, file).toBeGreaterThan(0);
      for (const l of uses) expect(l, file).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
  });

  it("the scheduled workflow runs kms:expiry, which no PR job runs", () => {
    const s = wf("scheduled.yml");
    expect(s.on.schedule).toHaveLength(1);
    expect(JSON.stringify(s.jobs)).toContain("npm run kms:expiry -- --stack producao");
    expect(JSON.stringify(wf("pr.yml"))).not.toContain("kms:expiry");
  });
});

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Job {
  env?: Record<string, string>;
  steps: Step[];
  "runs-on": unknown;
}

/** Every job of every workflow, as "file/job". */
function allJobs(): [string, Job][] {
  return fs
    .readdirSync(path.join(PROJECT_ROOT, ".github/workflows"))
    .flatMap((file) =>
      Object.entries(wf(file).jobs as Record<string, Job>).map(([n, j]) => [`${file}/${n}`, j] as [string, Job]),
    );
}
/** A secret, a minted App token, or AWS credentials: the configure-aws-credentials step itself and its outputs. */
const readsSecret = (x: unknown) =>
  /(?<![\w.-])secrets\.|steps\.[\w-]+\.outputs\.(token|aws-)|"uses":"aws-actions\/configure-aws-credentials@/.test(
    JSON.stringify(x ?? {}),
  );
/** Steps that run third-party code before anything needs a secret: checkout, setup, installs, builds. */
const installOrBuild = (s: Step) =>
  /^actions\/(checkout|setup-node|setup-go)@/.test(s.uses ?? "") ||
  /\bnpm (ci|install)\b|with-node\.sh true|toolchain\/build\.sh|\bgo (install|build)\b/.test(s.run ?? "");
/** The files a step's script writes (redirections and tee), the workflow command files aside. */
function writtenFiles(run: string): string[] {
  const out: string[] = [];
  for (const m of run.matchAll(/(?<![0-9&>])>{1,2}\s*("?)([^"\s;|&)]+)\1|\btee\s+(?:-a\s+)?("?)([^"\s;|&)]+)\3/g)) {
    const f = m[2] ?? m[4];
    if (!/^\$\{?(GITHUB_OUTPUT|GITHUB_ENV|GITHUB_PATH|GITHUB_STEP_SUMMARY)\}?$|^\/dev\/null$|^&/.test(f)) out.push(f);
  }
  return out;
}
const run = (cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) =>
  spawnSync(cmd, args, { cwd: opts.cwd ?? PROJECT_ROOT, env: opts.env ?? process.env, encoding: "utf8" });

describe("issue 29: runners, workspace, toolchain cache, secrets per step, App token, PR clock", () => {
  it("no job a pull request can run names the deploy runner: scripts/ci/check-workflows.mjs passes the real workflows, refuses a PR copy on it, and runs in conftest", () => {
    const check = path.join(PROJECT_ROOT, "scripts/ci/check-workflows.mjs");
    const real = run(process.execPath, [check, path.join(PROJECT_ROOT, ".github/workflows")]);
    expect(real.stderr).toBe("");
    expect(real.status).toBe(0);

    const label = RUNNER_GROUPS.deploy.label;
    const dir = tempDir("workflows");
    const text = fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows/pr.yml"), "utf8");
    const edited = text.replace(/runs-on: \[self-hosted, cartorio-hsm-preview\]/, `runs-on: [self-hosted, ${label}]`);
    expect(edited).not.toBe(text);
    fs.writeFileSync(path.join(dir, "pr.yml"), edited);
    const res = run(process.execPath, [check, dir]);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(path.join(dir, "pr.yml"));
    expect(res.stderr).toContain(`job preview names the deploy runner (label ${label})`);
    expect(res.stderr).toContain("pull_request");
    expect(res.stderr).toContain("ubuntu-latest"); // the fix

    // The same label in a matrix, or a dispatchable deploy job without a main-only guard, is refused too.
    fs.writeFileSync(
      path.join(dir, "pr.yml"),
      text.replace(
        /runs-on: \[self-hosted, cartorio-hsm-preview\]/,
        `strategy: { matrix: { r: [${label}] } }\n    runs-on: [self-hosted, "\${{ matrix.r }}"]`,
      ),
    );
    expect(run(process.execPath, [check, dir]).stderr).toContain("job preview");
    fs.rmSync(path.join(dir, "pr.yml"));
    fs.writeFileSync(
      path.join(dir, "deploy.yml"),
      fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows/deploy.yml"), "utf8").replace(/\n {4}if: .*\n/, "\n"),
    );
    const unguarded = run(process.execPath, [check, dir]);
    expect(unguarded.status).toBe(1);
    expect(unguarded.stderr).toContain("if: github.ref == 'refs/heads/main'");

    const conftest = wf("pr.yml").jobs.conftest.steps as Step[];
    expect(conftest.some((s) => s.run?.trim() === "node scripts/ci/check-workflows.mjs")).toBe(true);
    for (const [name, job] of allJobs())
      if (!name.startsWith("deploy.yml/")) expect(JSON.stringify(job["runs-on"]), name).not.toContain(`"${label}"`);
  });

  it("preview and deploy end with an always() step that removes the kubeconfig and every file a step holding a secret writes", () => {
    for (const [file, job] of [
      ["pr.yml", "preview"],
      ["deploy.yml", "up"],
    ]) {
      const steps = wf(file).jobs[job].steps as Step[];
      const last = steps[steps.length - 1];
      expect(last.if, `${file}/${job}: the last step runs always()`).toMatch(/^(\$\{\{\s*)?always\(\)(\s*\}\})?$/);
      const written = steps.filter((s) => s !== last && readsSecret(s)).flatMap((s) => writtenFiles(s.run ?? ""));
      expect(
        written.some((f) => /kubeconfig/i.test(f)),
        `${file}/${job} writes a kubeconfig`,
      ).toBe(true);
      for (const f of written) {
        expect(f, `${file}/${job}: secret files go to $RUNNER_TEMP, not the workspace`).toMatch(/^\$RUNNER_TEMP\//);
        expect(last.run, `${file}/${job}: the last step removes ${f}`).toContain(`"${f}"`);
      }
      expect(last.run).toMatch(/^rm -f /);
    }
  });

  it("no secret at job or workflow level; checkout, setup, npm ci and the toolchain see none; the PIN only where the HSM is logged in to", () => {
    let pinSteps = 0;
    for (const [name, job] of allJobs()) {
      expect(readsSecret(job.env), `${name}: a secret in the job's env reaches every step`).toBe(false);
      for (const s of job.steps) {
        const label = `${name}: ${s.name ?? s.uses ?? s.run}`;
        if (installOrBuild(s)) expect(readsSecret(s), label).toBe(false);
        if (JSON.stringify(s).includes("secrets.CARTORIO_HSM_PIN")) {
          pinSteps++;
          expect(name, label).toBe("deploy.yml/up");
          expect(s.run, label).toMatch(/npx pulumi up --stack producao|npm run evidence -- --stack producao/);
        }
        // A step holding a secret never installs packages: their install scripts are third-party code.
        if (readsSecret(s)) expect(s.run ?? "", label).not.toMatch(/\bnpm (ci|install)\b|build\.sh/);
      }
      // Every secret-bearing step (the AWS credentials step among them) after the last install or build.
      const lastInstall = job.steps.map(installOrBuild).lastIndexOf(true);
      const firstSecret = job.steps.findIndex(readsSecret);
      if (firstSecret >= 0)
        expect(firstSecret, `${name}: a secret before an install or build`).toBeGreaterThan(lastInstall);
    }
    expect(pinSteps).toBe(2);
    // npm run (scripts/with-node.sh) would run npm ci again on an unstamped node_modules: the deploy job
    // stamps it in its Dependencies step and forbids installing anywhere else.
    const up = wf("deploy.yml").jobs.up as Job;
    expect(up.env?.CARTORIO_NO_INSTALL).toBe("1");
    const deps = up.steps.filter((s) => s.env?.CARTORIO_NO_INSTALL !== undefined);
    expect(deps.map((s) => s.run)).toEqual(["bash scripts/with-node.sh true"]);
    expect(up.steps.some((s) => /^npm ci$/.test(s.run ?? ""))).toBe(false);
  });

  it("the deploy job mints the App's installation token per run for the steps that need it; no long-lived CARTORIO_GITHUB_TOKEN", () => {
    for (const file of fs.readdirSync(path.join(PROJECT_ROOT, ".github/workflows")))
      expect(fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows", file), "utf8"), file).not.toContain(
        "secrets.CARTORIO_GITHUB_TOKEN",
      );
    const steps = wf("deploy.yml").jobs.up.steps as Step[];
    const up = steps.findIndex((s) => s.run?.includes("npx pulumi up --stack producao"));
    const m = /^\$\{\{ steps\.([\w-]+)\.outputs\.token \}\}$/.exec(steps[up].env?.GITHUB_TOKEN ?? "");
    expect(m, "GITHUB_TOKEN of pulumi up is a minting step's output").not.toBeNull();
    const mint = steps.findIndex((s) => s.id === m![1]);
    expect(mint).toBeGreaterThanOrEqual(0);
    expect(mint).toBeLessThan(up);
    expect(steps[mint].uses).toMatch(/^actions\/create-github-app-token@[0-9a-f]{40}$/);
    // Tokens and the App's key only where they are used.
    const tokenSteps = steps.filter((s) => /steps\.[\w-]+\.outputs\.token/.test(JSON.stringify(s)));
    expect(tokenSteps.map((s) => s.name)).toEqual([
      "pulumi up (cryptoperiods at the wall clock)",
      "Evidence chain (append)",
    ]);
    for (const s of steps.filter((x) => JSON.stringify(x).includes("secrets.CARTORIO_APP_PRIVATE_KEY")))
      expect(s.uses, s.name).toBe(steps[mint].uses);
  });

  it("the PR's cryptoperiod clock comes from main (the base commit), never from the PR's own commits", () => {
    const pr = wf("pr.yml");
    const text = fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows/pr.yml"), "utf8");
    const dated = text.split("\n").filter((l) => l.includes("%cI"));
    expect(dated.length).toBeGreaterThan(0);
    for (const l of dated) expect(l, "a committer date read from the base commit's history").toContain('"$BASE_SHA"');
    for (const [, job] of Object.entries(pr.jobs as Record<string, Job>))
      for (const s of job.steps)
        if (s.run?.includes("%cI")) expect(s.env?.BASE_SHA).toBe("${{ github.event.pull_request.base.sha }}");
    // The preview takes conftest's clock, and the rulebook uses it.
    expect(pr.jobs.preview.needs).toContain("conftest");
    const clockOf = (steps: Step[]) => steps.find((s) => s.env?.CLOCK)?.env?.CLOCK;
    expect(clockOf(pr.jobs.preview.steps)).toBe("${{ needs.conftest.outputs.clock }}");
    expect(pr.jobs.conftest.outputs.clock).toBe("${{ steps.clock.outputs.now }}");
    expect(clockOf(pr.jobs.conftest.steps)).toBe("${{ steps.clock.outputs.now }}");

    // The step's script in a repository where the PR's author forged a committer date in 2031.
    const repo = tempDir("clock");
    const git = (date: string, ...args: string[]) => {
      const res = run("git", ["-c", "user.name=t", "-c", "user.email=t@example.org", ...args], {
        cwd: repo,
        env: { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
      });
      expect(res.status, res.stderr).toBe(0);
      return res.stdout.trim();
    };
    const commit = (date: string, file: string) => {
      fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
      fs.appendFileSync(path.join(repo, file), `${date}\n`);
      git(date, "add", "-A");
      git(date, "commit", "-q", "--no-gpg-sign", "-m", date);
    };
    git("2026-01-01T00:00:00Z", "init", "-q", "-b", "main");
    commit("2026-01-01T00:00:00Z", "configs/kms/producao.yaml");
    commit("2026-03-01T00:00:00Z", "README.md");
    const base = git("2026-03-01T00:00:00Z", "rev-parse", "HEAD");
    const step = (pr.jobs.conftest.steps as Step[]).find((s) => s.id === "clock")!;
    const clock = () => {
      const out = path.join(repo, ".output");
      fs.writeFileSync(out, "");
      const res = run("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run!], {
        cwd: repo,
        env: { ...process.env, BASE_SHA: base, GITHUB_OUTPUT: out },
      });
      expect(res.status, res.stderr).toBe(0);
      return new Date(/^now=(.*)$/m.exec(fs.readFileSync(out, "utf8"))![1]).toISOString();
    };
    commit("2031-01-01T00:00:00Z", "docs/unrelated.md");
    expect(clock()).toBe("2026-01-01T00:00:00.000Z"); // the inventory's last change on main
    commit("2031-01-02T00:00:00Z", "configs/kms/producao.yaml");
    expect(clock()).toBe("2026-03-01T00:00:00.000Z"); // the PR changes it: the base commit's date
  });

  it("the deploy job stops before pulumi up unless k6 on the runner is the version versions.env pins", () => {
    const pinned = /^K6_VERSION=(v\d+\.\d+\.\d+)$/m.exec(
      fs.readFileSync(path.join(PROJECT_ROOT, "scripts/toolchain/versions.env"), "utf8"),
    )?.[1];
    expect(pinned).toBeDefined();
    const steps = wf("deploy.yml").jobs.up.steps as Step[];
    const k6 = steps.findIndex((s) => s.run?.includes("k6 version"));
    expect(k6).toBeGreaterThanOrEqual(0);
    expect(k6).toBeLessThan(steps.findIndex((s) => s.run?.includes("npx pulumi up")));
    // The step's own script, as Actions runs it, against stand-ins for k6.
    const dir = tempDir("k6");
    const script = path.join(dir, "step.sh");
    fs.writeFileSync(script, steps[k6].run!);
    const withK6 = (version: string | null) => {
      const bin = fs.mkdtempSync(path.join(dir, "bin-"));
      if (version)
        fs.writeFileSync(path.join(bin, "k6"), `#!/bin/sh\necho "k6 ${version} (go1.25.0, linux/amd64)"\n`, {
          mode: 0o755,
        });
      return run("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], {
        env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` },
      });
    };
    expect(withK6(pinned!).status).toBe(0);
    for (const v of ["v0.57.0", `${pinned}0`, null]) {
      const res = withK6(v);
      expect(res.status, String(v)).toBe(1);
      expect(res.stdout, String(v)).toContain(`needs k6 ${pinned}`);
    }
  });
});

describe("issue 29: the toolchain cache is verified against digests recorded when it was built", () => {
  /** A cache of stand-in files where build.sh expects each piece (no Go, no network), and its environment. */
  function fakeCache() {
    const dir = tempDir("toolchain-digests");
    const stub = path.join(dir, "stub");
    fs.mkdirSync(stub);
    // build.sh keys pieces by `go env GOVERSION GOOS GOARCH`; nothing else of Go runs when every piece is present.
    fs.writeFileSync(path.join(stub, "go"), '#!/bin/sh\nprintf "go1.0-stand-in\\nlinux\\namd64\\n"\n', { mode: 0o755 });
    const env = {
      ...process.env,
      PATH: `${stub}:${process.env.PATH}`,
      CARTORIO_TOOLCHAIN_CACHE: path.join(dir, "cache"),
      PULUMI_HOME: path.join(dir, "pulumi"),
      GITHUB_ACTIONS: "",
    };
    const build = (...args: string[]) =>
      run("bash", [path.join(PROJECT_ROOT, "scripts/toolchain/build.sh"), ...args], { env });
    const listed = build("--list");
    expect(listed.status, listed.stderr).toBe(0);
    const files = listed.stdout.trim().split("\n");
    const cache = env.CARTORIO_TOOLCHAIN_CACHE;
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(cache, f)), { recursive: true });
      fs.writeFileSync(path.join(cache, f), `stand-in ${f}\n`, { mode: 0o755 });
    }
    // The CLI installs the provider plugin: the stand-in copies the file it is given where Pulumi would.
    fs.writeFileSync(
      path.join(cache, files.find((f) => f.endsWith("/bin/pulumi"))!),
      '#!/bin/sh\n# plugin install resource kubernetes <v> --file <f> --reinstall\nd="$PULUMI_HOME/plugins/resource-kubernetes-$5"\nmkdir -p "$d" && cp "$7" "$d/pulumi-resource-kubernetes"\n',
    );
    // The controllers' versions the release names, as flux/go.mod requires them.
    const gomod = fs.readFileSync(path.join(PROJECT_ROOT, "scripts/toolchain/flux/go.mod"), "utf8");
    const version = (c: string) => new RegExp(`github.com/fluxcd/${c} (v\\S+)`).exec(gomod)![1];
    const components = {
      components: Object.fromEntries(
        ["source-controller", "kustomize-controller"].map((c) => [c, { version: version(c) }]),
      ),
    };
    for (const f of files.filter((x) => x.endsWith("/install.yaml")))
      fs.writeFileSync(path.join(cache, path.dirname(f), "components.json"), JSON.stringify(components));
    return { build, cache, files };
  }

  it("records what is cached (trusted on first use, once), refuses a tampered or unrecorded file naming it, and the workflows verify before use", () => {
    const { build, cache, files } = fakeCache();
    const first = build();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain("trusted on first use");
    const recorded = fs.readFileSync(path.join(cache, "digests.sha256"), "utf8");
    for (const f of files) expect(recorded).toMatch(new RegExp(`^[0-9a-f]{64}  ${f.replace(/[.]/g, "\\.")}$`, "m"));
    expect(build("--verify").status).toBe(0);
    const again = build();
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toContain("trusted on first use");

    // One byte of kwok changed: both the verify and a normal run refuse it, by name.
    const kwok = path.join(cache, files.find((f) => f.endsWith("/bin/kwok"))!);
    const original = fs.readFileSync(kwok);
    const tampered = Buffer.from(original);
    tampered[3] ^= 1;
    fs.writeFileSync(kwok, tampered);
    for (const res of [build("--verify"), build()]) {
      expect(res.status).toBe(1);
      expect(res.stderr).toContain(`refusing ${kwok}: its sha256`);
      expect(res.stderr).toContain("the cache was altered");
    }
    fs.writeFileSync(kwok, original);
    expect(build("--verify").status).toBe(0);

    // A file nobody recorded (dropped into Flux's collected release) is refused too.
    const stray = path.join(cache, path.dirname(files.find((f) => f.endsWith("/install.yaml"))!), "stray.yaml");
    fs.writeFileSync(stray, "kind: Deployment\n");
    const unrecorded = build("--verify");
    expect(unrecorded.status).toBe(1);
    expect(unrecorded.stderr).toContain(`refusing ${stray}: no digest recorded`);
    fs.rmSync(stray);

    // The jobs on the self-hosted runners verify the cache before anything of it runs.
    for (const [file, job] of [
      ["pr.yml", "preview"],
      ["deploy.yml", "up"],
    ]) {
      const runs = (wf(file).jobs[job].steps as Step[]).map((s) => s.run ?? "");
      const verify = runs.findIndex((r) => r.trim() === "bash scripts/toolchain/build.sh --verify");
      expect(verify, `${file}/${job}`).toBeGreaterThan(
        runs.findIndex((r) => r.trim() === "bash scripts/toolchain/build.sh"),
      );
      expect(verify, `${file}/${job}`).toBeLessThan(runs.findIndex((r) => /npx pulumi|k6 version/.test(r)));
    }
  });
});

describe("issue 29, defect 8: producao's backend credentials by OIDC, and its secrets provider", () => {
  const JOBS = [
    { file: "deploy.yml", job: "up", role: "${{ vars.CARTORIO_AWS_DEPLOY_ROLE }}" },
    { file: "pr.yml", job: "preview", role: "${{ vars.CARTORIO_AWS_PREVIEW_ROLE }}" },
  ];
  const PROVIDER = "awskms://alias/cartorio-pulumi-producao?region=sa-east-1";
  const CHECK = "node scripts/ci/check-stack-secrets.mjs Pulumi.producao.yaml";
  const usesBackend = (s: Step) => s.env?.PULUMI_BACKEND_URL !== undefined;
  const isPulumi = (s: Step) => /npx pulumi (up|preview)/.test(s.run ?? "");

  it("AWS credentials by OIDC in deploy/up and pr/preview only: the pinned action, after every install and build, the job's role, and its credentials only in the steps that use the backend", () => {
    const workflows = fs.readdirSync(path.join(PROJECT_ROOT, ".github/workflows"));
    for (const file of workflows) {
      const w = wf(file);
      expect(
        JSON.stringify(w.permissions ?? {}),
        `${file}: id-token at workflow level reaches every job`,
      ).not.toContain("id-token");
      for (const [name, job] of Object.entries(w.jobs as Record<string, Job & { permissions?: unknown }>)) {
        const mine = JOBS.some((j) => j.file === file && j.job === name);
        const perms = job.permissions as Record<string, string> | undefined;
        expect(perms?.["id-token"], `${file}/${name}: id-token`).toBe(mine ? "write" : undefined);
        expect(
          job.steps.some((s) => AWS_ACTION.test(s.uses ?? "")),
          `${file}/${name}: AWS credentials`,
        ).toBe(mine);
      }
    }

    for (const { file, job, role } of JOBS) {
      const label = `${file}/${job}`;
      const text = fs.readFileSync(path.join(PROJECT_ROOT, ".github/workflows", file), "utf8");
      const steps = wf(file).jobs[job].steps as Step[];
      const aws = steps.filter((s) => AWS_ACTION.test(s.uses ?? ""));
      expect(aws.length, `${label} gets AWS credentials`).toBeGreaterThan(0);
      const lastInstall = steps.map(installOrBuild).lastIndexOf(true);
      for (const s of aws) {
        // Pinned by full commit SHA, the release tag beside it.
        expect(s.uses).toMatch(/^aws-actions\/configure-aws-credentials@[0-9a-f]{40}$/);
        expect(text).toContain(`uses: ${s.uses} # v`);
        // By OIDC, the job's own role, no stored key; outputs instead of GITHUB_ENV, which would reach every later step.
        expect(s.with?.["role-to-assume"], label).toBe(role);
        expect(s.with?.["aws-region"], label).toBe("sa-east-1");
        expect(s.with?.["aws-access-key-id"] ?? s.with?.["aws-secret-access-key"], label).toBeUndefined();
        expect(String(s.with?.["output-credentials"]), label).toBe("true");
        expect(String(s.with?.["output-env-credentials"]), label).toBe("false");
        expect(s.id, `${label}: its outputs are referred to by id`).toBeDefined();
        // After the installs and builds: third-party code never runs once credentials exist.
        expect(steps.indexOf(s), `${label}: ${s.name}`).toBeGreaterThan(lastInstall);
      }
      // Its credentials reach exactly the steps that use the backend (PULUMI_BACKEND_URL), each from a step before it.
      const ids = aws.map((s) => s.id!);
      const holders = steps.filter((s) => ids.some((id) => JSON.stringify(s).includes(`steps.${id}.outputs.`)));
      expect(
        holders.map((s) => s.name),
        label,
      ).toEqual(steps.filter(usesBackend).map((s) => s.name));
      expect(holders.some(isPulumi), `${label}: pulumi itself has them`).toBe(true);
      for (const s of holders) {
        const id = /steps\.([\w-]+)\.outputs\.aws-access-key-id/.exec(s.env?.AWS_ACCESS_KEY_ID ?? "")?.[1];
        expect(id && ids.includes(id), `${label}: ${s.name} takes AWS_ACCESS_KEY_ID from a credentials step`).toBe(
          true,
        );
        expect(s.env?.AWS_SECRET_ACCESS_KEY).toBe(`\${{ steps.${id}.outputs.aws-secret-access-key }}`);
        expect(s.env?.AWS_SESSION_TOKEN).toBe(`\${{ steps.${id}.outputs.aws-session-token }}`);
        expect(steps.indexOf(s)).toBeGreaterThan(steps.findIndex((x) => x.id === id));
      }
      // Nowhere else: no AWS_* at job level, in another step, or written to GITHUB_ENV.
      const jobEnv = JSON.stringify(wf(file).jobs[job].env ?? {});
      expect(jobEnv, label).not.toMatch(/AWS_/);
      for (const s of steps.filter((x) => !holders.includes(x) && !aws.includes(x)))
        expect(JSON.stringify(s), `${label}: ${s.name ?? s.uses ?? s.run}`).not.toMatch(/AWS_|outputs\.aws-/);
    }
  });

  it("deploy/up and pr/preview stop at a Stack secrets provider step before any credential and before pulumi", () => {
    for (const { file, job } of JOBS) {
      const label = `${file}/${job}`;
      const steps = wf(file).jobs[job].steps as Step[];
      const at = steps.findIndex((s) => s.name === "Stack secrets provider");
      expect(at, `${label} has the step`).toBeGreaterThanOrEqual(0);
      expect(steps[at].run?.trim()).toBe(CHECK);
      expect(readsSecret(steps[at]), label).toBe(false);
      // After npm ci (the script reads YAML with the locked `yaml` package), before any secret and pulumi.
      expect(at).toBeGreaterThan(steps.map(installOrBuild).lastIndexOf(true));
      expect(at).toBeLessThan(steps.findIndex(readsSecret));
      expect(at).toBeLessThan(steps.findIndex(isPulumi));
    }
  });

  it("scripts/ci/check-stack-secrets.mjs passes a stack file with both keys, and refuses today's Pulumi.producao.yaml (no encryptedkey yet) and one without secretsprovider", () => {
    const script = path.join(PROJECT_ROOT, "scripts/ci/check-stack-secrets.mjs");
    const check = (cwd: string, file: string) => run(process.execPath, [script, file], { cwd });
    const real = fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.producao.yaml"), "utf8");
    const fix = `pulumi stack change-secrets-provider --stack producao "${PROVIDER}"`;
    const dir = tempDir("stack-secrets");
    const write = (text: string) => (fs.writeFileSync(path.join(dir, "Pulumi.producao.yaml"), text), text);

    // Both keys: producao's file as it will be once the first deployment's encryptedkey is committed.
    expect(real).toMatch(new RegExp(`^secretsprovider: ${PROVIDER.replace(/[?.]/g, "\\$&")}$`, "m"));
    write(`${real}encryptedkey: ${Buffer.from("a data key, encrypted by the KMS key").toString("base64")}\n`);
    const ok = check(dir, "Pulumi.producao.yaml");
    expect(ok.stdout + ok.stderr).not.toContain("::error");
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(PROVIDER);

    // The real file, today: the provider is declared, but no encryptedkey, which only the one-time
    // `pulumi stack change-secrets-provider` of the first deployment writes (then committed by PR). That is
    // the truth: until then deploy and preview stop here. When encryptedkey lands, this expectation is the
    // one to flip to the passing case above.
    expect(real, "Pulumi.producao.yaml has an encryptedkey now: make this case expect it to pass").not.toMatch(
      /^encryptedkey:/m,
    );
    const today = check(PROJECT_ROOT, "Pulumi.producao.yaml");
    expect(today.status).toBe(1);
    expect(today.stdout).toContain("::error file=Pulumi.producao.yaml,title=Stack secrets provider::");
    expect(today.stdout).toContain("Pulumi.producao.yaml has no `encryptedkey:`");
    expect(today.stdout).not.toContain("no `secretsprovider");
    expect(today.stdout).toContain(fix);
    expect(today.stdout).toContain("time-infraestrutura");
    expect(today.stdout).toContain("by PR");

    // No secretsprovider (even with a key): named, and the provider to add.
    write(`${real.replace(/^secretsprovider: .*\n/m, "")}encryptedkey: ${Buffer.from("k").toString("base64")}\n`);
    const noProvider = check(dir, "Pulumi.producao.yaml");
    expect(noProvider.status).toBe(1);
    expect(noProvider.stdout).toContain("Pulumi.producao.yaml has no `secretsprovider: awskms://…`");
    expect(noProvider.stdout).toContain(`secretsprovider: ${PROVIDER}`);
    expect(noProvider.stdout).toContain(fix);
    expect(noProvider.stdout).not.toContain("no `encryptedkey:`");

    // A passphrase stack (encryptionsalt, no provider) is refused for both reasons.
    write(`${real.replace(/^secretsprovider: .*\n/m, "")}encryptionsalt: v1:c2FsdA==:v1:aXY=:dGFn\n`);
    const passphrase = check(dir, "Pulumi.producao.yaml");
    expect(passphrase.status).toBe(1);
    for (const key of ["no `secretsprovider: awskms://…`", "no `encryptedkey:`", "`encryptionsalt:`"])
      expect(passphrase.stdout).toContain(key);
  });

  it("the evidence report's break-glass part is judged from a merge record the deploy job reads from GitHub", () => {
    const up = wf("deploy.yml").jobs.up;
    const text = (st: { run?: string; with?: { script?: string } }) => st.run ?? st.with?.script ?? "";
    const at = (t: string) =>
      up.steps.findIndex((st: { run?: string; with?: { script?: string } }) => text(st).includes(t));
    expect(at("listPullRequestsAssociatedWithCommit")).toBeGreaterThanOrEqual(0);
    expect(text(up.steps[at("listPullRequestsAssociatedWithCommit")])).toContain("merge.json");
    expect(at('--merge "$RUNNER_TEMP/merge.json"')).toBeGreaterThan(at("listPullRequestsAssociatedWithCommit"));
    expect(up.permissions).toMatchObject({ "pull-requests": "read", checks: "read" });
  });
});
