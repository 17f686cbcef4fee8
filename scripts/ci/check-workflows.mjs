// Refuses a workflow job that could run untrusted code on the deploy runner: a job that names the deploy
// runner's label or group (the HSM, producao's credentials) in a workflow that runs for anything but a push
// to main, a schedule or a dispatch from main. pull_request runs the PR's own workflow files, so a PR could
// otherwise point a job at that runner.
//   node scripts/ci/check-workflows.mjs [workflows-folder]   (default .github/workflows)
// This is the second layer, run in pr.yml: what GitHub enforces is the runner group (components/gitops/
// github-objects.ts, RUNNER_GROUPS), which accepts deploy.yml on refs/heads/main only. A PR can edit this
// script too; it catches the honest mistake and says why, before the group refuses the job.
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { parse } from "yaml";

/** The deploy runner's labels and runner groups (RUNNER_GROUPS.deploy in components/gitops/github-objects.ts). */
export const DEPLOY_LABELS = ["cartorio-hsm"];
export const DEPLOY_GROUPS = ["cartorio-hsm"];
const MAIN = "refs/heads/main";

/** The workflow's triggers, as a map whatever form `on:` takes. */
function triggers(on) {
  if (typeof on === "string") return { [on]: null };
  if (Array.isArray(on)) return Object.fromEntries(on.map((t) => [t, null]));
  return on && typeof on === "object" ? on : {};
}

/**
 * Why the workflow may run code the deploy runner must not trust, or null: every trigger other than
 * a push to main alone, a schedule (runs on the default branch) or workflow_dispatch (any branch: the
 * job must then require main itself) is untrusted, pull_request, pull_request_target, issue_comment,
 * workflow_run and workflow_call among them.
 */
function untrustedTrigger(on) {
  for (const [name, filter] of Object.entries(triggers(on))) {
    if (name === "schedule" || name === "workflow_dispatch") continue;
    if (name === "push") {
      const branches = filter?.branches ?? [];
      const onlyMain = branches.length > 0 && branches.every((b) => b === "main" || b === MAIN);
      if (onlyMain && !filter["branches-ignore"] && !filter.tags && !filter["tags-ignore"]) continue;
      return "push to branches other than main";
    }
    return name;
  }
  return null;
}

/** The deploy labels or groups a job's runs-on (and the matrix that may feed it) names. */
function deployRunnerNames(job) {
  const names = [];
  const visit = (v) => {
    if (typeof v === "string") {
      if (DEPLOY_LABELS.includes(v.trim())) names.push(`label ${v.trim()}`);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      if (typeof v.group === "string" && DEPLOY_GROUPS.includes(v.group.trim())) names.push(`group ${v.group.trim()}`);
      visit(v.labels);
    }
  };
  visit(job["runs-on"]);
  // A matrix value used as runs-on: any deploy label anywhere in the job's strategy counts.
  const matrix = JSON.stringify(job.strategy ?? {});
  for (const l of DEPLOY_LABELS) if (new RegExp(`"${l}"`).test(matrix)) names.push(`label ${l} (in its matrix)`);
  return [...new Set(names)];
}

/** Problems found in one workflow file's text (empty when it passes). */
export function checkWorkflow(file, text) {
  const w = parse(text) ?? {};
  const untrusted = untrustedTrigger(w.on);
  const dispatch = "workflow_dispatch" in triggers(w.on);
  const problems = [];
  for (const [name, job] of Object.entries(w.jobs ?? {})) {
    const runsOn = JSON.stringify(job["runs-on"] ?? "");
    const names = deployRunnerNames(job);
    if (untrusted && runsOn.includes("${{")) {
      problems.push(
        `${file}: job ${name} computes runs-on (${runsOn}) in a workflow that runs for ${untrusted}: ` +
          `it cannot be checked to stay off the deploy runner; name its labels literally`,
      );
    }
    if (names.length === 0) continue;
    if (untrusted) {
      problems.push(
        `${file}: job ${name} names the deploy runner (${names.join(", ")}) but the workflow runs for ${untrusted}, ` +
          `whose workflow files the author of the change controls: run it on ubuntu-latest or on ` +
          `[self-hosted, cartorio-hsm-preview] (no PIN, read-only identities); only deploy.yml's job on a push to main may use the deploy runner`,
      );
    } else if (dispatch && !String(job.if ?? "").includes(`github.ref == '${MAIN}'`)) {
      problems.push(
        `${file}: job ${name} names the deploy runner (${names.join(", ")}) and can be dispatched from any branch: ` +
          `add \`if: github.ref == '${MAIN}'\` to the job`,
      );
    }
  }
  return problems;
}

/** Problems over every workflow of a folder. */
export function checkWorkflows(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((f) => checkWorkflow(path.join(dir, f), fs.readFileSync(path.join(dir, f), "utf8")));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const dir = process.argv[2] ?? ".github/workflows";
  const problems = checkWorkflows(dir);
  for (const p of problems) console.error(`::error title=deploy runner::${p}`);
  if (problems.length) process.exit(1);
  console.log(`${dir}: no job that untrusted triggers run names the deploy runner`);
}
