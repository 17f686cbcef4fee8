/**
 * npm run ensaio [-- --destroy] [--down]: the dress rehearsal of producao (docs/production.md, "The rehearsal").
 *
 * producao's own configuration (Pulumi.ensaio.yaml, held to Pulumi.producao.yaml but for its endpoints) run
 * end to end against local stand-ins, in .local/ensaio/: SoftHSM2 tokens labelled as producao's HSM
 * partitions, the embedded cluster shaped as producao's node pool, its Git server as github.com with merges
 * made the way GitHub makes them (signed by a web-flow stand-in), GitHub's API recorded as JSON, k6's
 * stand-in against an API stand-in of known capacity. In order, as producao's pipeline does:
 *   1. the rulebook over the repository (the PR's conftest job);
 *   2. GitHub's side: the repository imported and a pull request squash-merged by the web-flow stand-in;
 *   3. pulumi up --stack ensaio with the policy pack (the deploy job): Flux installed from producao's source,
 *      verifying HEAD against the trusted signers, keys in the tokens, the load gate, GitHub's requests;
 *   4. the trust model tried: an unsigned push and a foreign-signed one are refused by source-controller,
 *      cartorio-api untouched; a merge commit by the web-flow stand-in syncs;
 *   5. the evidence report, signed in the rehearsal's token and verified against its anchor;
 *   6. with --destroy: pulumi destroy, checking what must stay (the guard rails of the workload Flux keeps
 *      running, the environment and the deploy key on GitHub's side), then up again, which adopts them (the same
 *      deploy key). With --down: the cluster is stopped at the end.
 * Plain module (no Pulumi SDK): the engine runs as the CLI, as in CI.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { loadStackFile, rawFromStackFile } from "../../components/config/load";
import { snapshotSlots } from "../../components/keys/hsm";
import { eventually } from "../../components/platform/eventually";
import { defaultToolsBin, down, paths, publish, up } from "../cluster/controlplane";
import { PROJECT_ROOT } from "../ops/operator";
import {
  clone,
  mergePullRequest,
  reconcileSourceArgs,
  setDeploymentLabel,
  standinKeys,
  type Clone,
  type Signer,
  type StandinKeys,
} from "./github";
import { assertRehearsesProducao, ensaioInventory } from "./standins";

const { values } = parseArgs({
  options: {
    destroy: { type: "boolean", default: false },
    down: { type: "boolean", default: false },
    // Shortens the load profile for k6's stand-in only (rates unchanged): producao's 11 minutes in ~35 s.
    "time-scale": { type: "string", default: "0.05" },
  },
  strict: true,
});

const STACK = "ensaio";
const E = path.join(PROJECT_ROOT, ".local/ensaio");
const REPO = "cartorio-digital/infraestrutura";
const PASSPHRASE = "cartorio-ensaio-estado";
const log = (l: string) => console.error(`[ensaio] ${l}`);
const toolsBin = defaultToolsBin();

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, quiet = false): string {
  const r = spawnSync(cmd, args, { cwd: PROJECT_ROOT, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (!quiet || r.status !== 0) process.stderr.write(r.stderr ?? "");
  if (r.status !== 0) {
    process.stdout.write(r.stdout ?? "");
    throw new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(" ")} … exited ${r.status ?? r.signal}`);
  }
  return r.stdout;
}
const ops = (args: string[], env?: NodeJS.ProcessEnv) =>
  run(process.execPath, [path.join(PROJECT_ROOT, "scripts/ops/run.mjs"), ...args], env);

/**
 * SoftHSM2 tokens labelled as producao's (one per inventory token), with random PINs kept beside them; their
 * serials, by label, read over PKCS#11 from `modulePath`.
 */
function tokens(labels: string[], modulePath: string): { env: NodeJS.ProcessEnv; serials: Record<string, string> } {
  const dir = path.join(E, "softhsm");
  fs.mkdirSync(path.join(dir, "tokens"), { recursive: true, mode: 0o700 });
  const conf = path.join(dir, "softhsm2.conf");
  if (!fs.existsSync(conf))
    fs.writeFileSync(conf, `directories.tokendir = ${dir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const pin = (f: string) => {
    const file = path.join(dir, f);
    if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(8).toString("hex"), { mode: 0o600 });
    return fs.readFileSync(file, "utf8");
  };
  const env = { ...process.env, SOFTHSM2_CONF: conf, CARTORIO_HSM_PIN: pin("user-pin") };
  // The module reads SOFTHSM2_CONF when it is loaded: this process's own calls go to the rehearsal's tokens.
  process.env.SOFTHSM2_CONF = conf;
  const present = () =>
    Object.fromEntries(snapshotSlots(modulePath).flatMap((s) => (s.token ? [[s.token.label, s.token.serial]] : [])));
  const have = present();
  for (const label of labels.filter((l) => !(l in have)))
    run(
      "softhsm2-util",
      ["--init-token", "--free", "--label", label, "--so-pin", pin("so-pin"), "--pin", env.CARTORIO_HSM_PIN],
      env,
      true,
    );
  return { env, serials: present() };
}

/** The API stand-in of known capacity the load gate measures (loadtest.target): 64 workers × 10 ms. */
function apiStandin(url: string): { stop(): void } {
  const port = new URL(url).port;
  let stopping = false;
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, "scripts/ops/run.mjs"), "api-standin", port], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  child.on("exit", (code, signal) => {
    if (!stopping) log(`the API stand-in on ${url} exited (${code ?? signal}): the load gate will fail`);
  });
  return {
    stop() {
      stopping = true;
      child.kill();
    },
  };
}

/** source-controller's verdict on the flux-system GitRepository. */
function source(kubectl: (a: string[]) => string) {
  const repo = JSON.parse(kubectl(["get", "gitrepository", "flux-system", "-n", "flux-system", "-o", "json"]));
  const cond = (t: string) => (repo.status?.conditions ?? []).find((c: { type: string }) => c.type === t);
  return { repo, ready: cond("Ready"), verified: cond("SourceVerified") };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  assertRehearsesProducao(PROJECT_ROOT);
  fs.mkdirSync(E, { recursive: true });

  log("1. the rulebook over manifests/, clusters/, infrastructure/ and the inventories (the PR's conftest job) ...");
  ops(["policy-check"]);

  log(
    "stand-ins: SoftHSM2 tokens as producao's, the trusted signers' keys, producao's inventory with their serials ...",
  );
  const producaoInventory = fs.readFileSync(path.join(PROJECT_ROOT, "configs/kms/producao.yaml"), "utf8");
  const labels = (parse(producaoInventory).tokens as { label: string }[]).map((t) => t.label);
  // The stack's module (kms.module) before its configuration can be read whole (it needs the inventory below).
  const modulePath = String(
    (rawFromStackFile(path.join(PROJECT_ROOT, `Pulumi.${STACK}.yaml`)).kms as Record<string, unknown>).module,
  );
  const hsm = tokens(labels, modulePath);
  // Written where Pulumi.ensaio.yaml names them, before its configuration is read (it checks they exist).
  const inventory = path.join(E, "kms/producao.yaml");
  fs.mkdirSync(path.dirname(inventory), { recursive: true });
  fs.writeFileSync(inventory, ensaioInventory(producaoInventory, hsm.serials));
  const keys = standinKeys(path.join(E, "chaves"));
  const cfg = loadStackFile(PROJECT_ROOT, STACK);
  for (const [key, want, got] of [
    ["kms.inventory", inventory, cfg.kms.inventory],
    ["gitops.maintainerKeys", keys.trusted, cfg.gitops.maintainerKeys],
  ])
    if (path.resolve(PROJECT_ROOT, got) !== want)
      throw new Error(
        `Pulumi.ensaio.yaml ${key} must be ${path.relative(PROJECT_ROOT, want)} (npm run ensaio writes it there)`,
      );

  log("the embedded cluster, shaped as producao's node pool (npm run cluster -- up --dir .local/ensaio/cluster) ...");
  const clusterDir = path.dirname(path.resolve(PROJECT_ROOT, cfg.kubernetes.kubeconfig!));
  const clusterOptions = {
    dir: clusterDir,
    toolsBin,
    log: (l: string) => log(`cluster: ${l}`),
    nodePool: cfg.scaling.nodePool,
  };
  // A process that dies while the cluster starts is named; one more `up` restarts it and what needs it (as
  // npm run cluster -- up heals), and a second failure stops the rehearsal.
  const info = await up(clusterOptions).catch((e: Error) => {
    log(`cluster: ${e.message.split("\n")[0]}; starting it again (up heals what died)`);
    return up(clusterOptions);
  });
  const kubeEnv = { ...process.env, KUBECONFIG: info.kubeconfig, PATH: `${toolsBin}:${process.env.PATH}` };
  const kubectl = (a: string[]) => run(path.join(toolsBin, "kubectl"), a, kubeEnv, true);

  log("2. GitHub's side: the repository imported, then pull request #2 squash-merged by the web-flow stand-in ...");
  // This checkout's HEAD as the PR's branch; main is its tree, committed as GitHub's import would be.
  const head = publish(
    { dir: clusterDir, toolsBin },
    { owner: "cartorio-digital", name: "infraestrutura", branch: "importacao", source: PROJECT_ROOT },
  );
  const c = clone(clusterDir, REPO, path.join(E, "work"), keys);
  c.git("checkout", "--quiet", "--orphan", `importacao-${head.slice(0, 12)}`, "origin/importacao");
  c.commit(`Import of ${head.slice(0, 12)} (#1)`, "web-flow");
  c.git("checkout", "--quiet", "-B", "main");
  c.push("main");
  const merged = pullRequest(c, keys, 2, "squash", "pr-2");

  log("3. pulumi up --stack ensaio --policy-pack policypack (the deploy job) ...");
  const api = apiStandin(cfg.loadtest.target!);
  const pulumiEnv = {
    ...hsm.env,
    KUBECONFIG: info.kubeconfig,
    PATH: kubeEnv.PATH,
    PULUMI_BACKEND_URL: `file://${path.join(E, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    K6_STANDIN_TIME_SCALE: values["time-scale"],
  };
  fs.mkdirSync(path.join(E, "state"), { recursive: true });
  const pulumi = process.env.CARTORIO_PULUMI_CLI ?? "pulumi";
  const p = (args: string[]) => run(pulumi, [...args, "--stack", STACK, "--non-interactive"], pulumiEnv);
  try {
    run(pulumi, ["stack", "select", "--create", STACK, "--non-interactive"], pulumiEnv, true);
    process.stdout.write(p(["up", "--yes", "--skip-preview", "--policy-pack", "policypack", "--suppress-progress"]));
  } finally {
    api.stop();
  }
  const applied = source(kubectl);
  if (applied.repo.status?.artifact?.revision !== `main@sha1:${merged}`)
    throw new Error(`ensaio: Flux is at ${applied.repo.status?.artifact?.revision}, not the merge ${merged}`);
  log(`Flux applied the squash merge of PR #2 (${merged.slice(0, 12)}), verified: ${applied.verified?.message}`);

  log("4. the trust model tried: an unsigned push and a foreign-signed one must be refused ...");
  const release = () =>
    JSON.parse(kubectl(["get", "deployment", "cartorio-api", "-n", "cartorio", "-o", "json"])).metadata.labels[
      "cartorio.digital/ensaio"
    ];
  await eventually("cartorio-api labelled by PR #2", 180, () => (release() === "pr-2" ? true : undefined));
  for (const [signer, value] of [
    ["none", "sem-assinatura"],
    ["outsider", "assinatura-estranha"],
  ] as [Signer, string][]) {
    const bad = pushDirect(c, value, signer);
    reconcile(kubectl);
    const refused = await eventually(`source-controller's refusal of ${bad.slice(0, 12)}`, 120, () => {
      const s = source(kubectl);
      return s.verified?.status === "False" && s.ready?.status === "False" && s.verified.message.includes(bad)
        ? s
        : undefined;
    });
    log(
      `refused (${signer === "none" ? "unsigned" : "foreign-signed"}): ${refused.verified.reason}: ${refused.verified.message}`,
    );
    if (refused.repo.status?.artifact?.revision !== `main@sha1:${merged}`)
      throw new Error("ensaio: the refused commit replaced the source's artifact");
    if (release() !== "pr-2") throw new Error("ensaio: cartorio-api changed after a refused push");
    console.log(
      `\n$ kubectl get gitrepositories,kustomizations -A   (after the ${signer === "none" ? "unsigned" : "foreign-signed"} push ${bad.slice(0, 12)})`,
    );
    console.log(kubectl(["get", "gitrepositories,kustomizations", "-A"]));
  }
  // Back to the last good main (force-pushed, as an admin restores a branch), then PR #3 as a merge commit.
  c.git("reset", "--quiet", "--hard", merged);
  c.push("main");
  const mergeCommit = pullRequest(c, keys, 3, "merge", "pr-3");
  reconcile(kubectl);
  await eventually(`Flux Ready at the merge commit of PR #3 (${mergeCommit.slice(0, 12)})`, 180, () => {
    const s = source(kubectl);
    return s.ready?.status === "True" && s.repo.status?.artifact?.revision === `main@sha1:${mergeCommit}`
      ? true
      : undefined;
  });
  await eventually("cartorio-api labelled by PR #3", 180, () => (release() === "pr-3" ? true : undefined));
  console.log(
    `\n$ kubectl get gitrepositories,kustomizations -A   (main is the merge commit of PR #3, ${mergeCommit.slice(0, 12)}, signed by the web-flow stand-in)`,
  );
  console.log(kubectl(["get", "gitrepositories,kustomizations", "-A"]));

  log("5. the evidence report, signed in the rehearsal's token, verified against its anchor ...");
  ops(["evidence-anchor", "--stack", STACK], pulumiEnv);
  const outputs = path.join(E, "outputs.json");
  fs.writeFileSync(outputs, p(["stack", "output", "--json"]));
  const chainDir = path.join(E, "evidencias");
  const genesis = fs.existsSync(path.join(chainDir, STACK)) ? [] : ["--genesis"];
  // How PR #3 reached main, as the deploy job records it from GitHub: here only the checks the rehearsal ran
  // (the rulebook in step 1, the pack in pulumi up), both passed, no bypass.
  const merge = path.join(E, "merge.json");
  fs.writeFileSync(
    merge,
    JSON.stringify({
      commit: mergeCommit,
      pullRequest: 3,
      method: "merge",
      mergedBy: "mantenedora",
      requiredChecks: [
        { name: "conftest", conclusion: "success" },
        { name: "preview", conclusion: "success" },
      ],
      bypass: null,
      source: "npm run ensaio's GitHub-like merge (the checks the rehearsal runs)",
    }),
  );
  const evidence = ops(
    [
      "evidence",
      "--stack",
      STACK,
      "--outputs",
      outputs,
      "--out",
      chainDir,
      "--revision",
      mergeCommit,
      "--merge",
      merge,
      ...genesis,
    ],
    pulumiEnv,
  );
  process.stdout.write(evidence);
  ops(["evidence-verify", "--chain", path.join(chainDir, STACK)], pulumiEnv);

  const recorded = fs.readdirSync(path.resolve(PROJECT_ROOT, cfg.gitops.github.recordDir)).sort();
  log(`GitHub's requests, as data (${cfg.gitops.github.recordDir}): ${recorded.join(", ")}`);

  if (values.destroy) {
    log("6. pulumi destroy --stack ensaio: what must stay, stays; then up again adopts it ...");
    const recordDir = path.resolve(PROJECT_ROOT, cfg.gitops.github.recordDir);
    const deployKey = () =>
      JSON.parse(fs.readFileSync(path.join(recordDir, "RepositoryDeployKey.repository-deploy-key.json"), "utf8"))
        .request.key as string;
    const keyBefore = deployKey();
    process.stdout.write(p(["destroy", "--yes", "--skip-preview", "--suppress-progress"]));
    console.log("\n$ kubectl get networkpolicy,hpa,pdb,configmap -n cartorio   (after pulumi destroy)");
    console.log(kubectl(["get", "networkpolicy,hpa,pdb,configmap", "-n", "cartorio"]));
    // cartorio-api, which Flux applied, keeps running: so must its guard rails.
    const ns = cfg.workload.namespace;
    for (const [kind, name] of [
      ["deployment", cfg.workload.deployment],
      ["networkpolicy", "default-deny"],
      ["networkpolicy", cfg.workload.deployment],
      ["hpa", cfg.workload.deployment],
      ["pdb", cfg.workload.deployment],
      ["configmap", "cartorio-kms-inventory"],
    ])
      kubectl(["get", kind, name, "-n", ns, "-o", "name"]);
    const left = fs.readdirSync(recordDir).sort();
    log(`GitHub's side after destroy: ${left.join(", ")}`);
    const kept = [
      "RepositoryDeployKey.repository-deploy-key.json",
      "RepositoryEnvironment.repository-environment-producao.json",
    ];
    if (JSON.stringify(left) !== JSON.stringify(kept))
      throw new Error(
        `ensaio: after destroy GitHub would hold ${left.join(", ")}; expected exactly ${kept.join(", ")}`,
      );
    const api2 = apiStandin(cfg.loadtest.target!);
    try {
      process.stdout.write(p(["up", "--yes", "--skip-preview", "--policy-pack", "policypack", "--suppress-progress"]));
    } finally {
      api2.stop();
    }
    if (deployKey() !== keyBefore)
      throw new Error("ensaio: the up after destroy made a new deploy key instead of adopting the kept one");
    log(
      `up after destroy: the kept deploy key adopted (${keyBefore.split(" ").slice(0, 2).join(" ").slice(0, 40)}…), the guard rails and the environment adopted`,
    );
  }
  if (values.down) await down({ dir: clusterDir, log: (l) => log(`cluster: ${l}`) });
  log(
    `done in ${Math.round((Date.now() - t0) / 1000)}s (cluster ${values.down ? "stopped" : `left running: KUBECONFIG=${paths(clusterDir).kubeconfig}`})`,
  );
}

/** A pull request: a branch off main changing cartorio-api's label cartorio.digital/ensaio, merged by `method`. */
function pullRequest(
  c: Clone,
  keys: StandinKeys,
  n: number,
  method: "merge" | "squash" | "rebase",
  value: string,
): string {
  const branch = `pr/${n}`;
  c.git("checkout", "--quiet", "-B", branch, "main");
  label(c, value);
  // The author's own commit: unsigned, as most are; GitHub's merge is what main receives.
  c.commit(`cartorio-api: ensaio ${value}`, "none");
  return mergePullRequest(c, keys, { number: n, title: `cartorio-api: ensaio ${value}`, head: branch, method });
}

/** A commit pushed straight to main, past GitHub (the ruleset forbids it; Flux's verification is the last line). */
function pushDirect(c: Clone, value: string, signer: Signer): string {
  c.git("checkout", "--quiet", "main");
  label(c, value);
  const sha = c.commit(`cartorio-api: ${value}`, signer);
  c.push("main");
  return sha;
}

function label(c: Clone, value: string) {
  setDeploymentLabel(path.join(c.dir, "manifests/cartorio-api/deployment.yaml"), "cartorio.digital/ensaio", value);
}

function reconcile(kubectl: (a: string[]) => string) {
  kubectl(reconcileSourceArgs());
}

main()
  .catch((e) => {
    console.error(`ensaio: ${(e as Error).message}`);
    process.exitCode = 1;
  })
  // gpg started an agent for the web-flow stand-in's key: stopped with the rehearsal, whatever its outcome.
  .finally(() =>
    spawnSync("gpgconf", ["--homedir", path.join(E, "chaves", "gnupg"), "--kill", "gpg-agent"], { stdio: "ignore" }),
  );
