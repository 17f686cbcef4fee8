/**
 * npm run evidence:verify -- <dir> [--inventory FILE]
 *
 * Checks an evidence folder (npm run evidence): report.json matches its schema and its signature
 * (report.json.sig) verifies with the evidence-signing key's public key as the inventory publishes it —
 * the ConfigMap cartorio-kms-inventory: read from the report's stack (its cluster in cluster mode, its
 * rendered manifests in render mode), or from FILE (that ConfigMap as YAML, or its inventory.json).
 * Exit 0 verified, 1 not verified (every reason printed), 2 the published inventory can't be read.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { loadStackFile } from "../components/config/load";
import { validateReport } from "../components/evidence/schema";
import { PublishedKey, verifyReport } from "../components/evidence/signature";
import { kubeconfigPath } from "../components/platform/cluster";
import { PROJECT_ROOT } from "./operator";

const { values, positionals } = parseArgs({
  options: { inventory: { type: "string" } },
  allowPositionals: true,
  strict: true,
});

const CONFIGMAP = "cartorio-kms-inventory";

/** inventory.json's keys from a ConfigMap YAML (any document of a file) or inventory.json itself. */
function keysFrom(text: string, where: string): PublishedKey[] {
  for (const doc of parseAllDocuments(text)) {
    const v = doc.toJS() as {
      kind?: string;
      metadata?: { name?: string };
      data?: Record<string, string>;
      keys?: PublishedKey[];
    };
    if (v?.kind === "ConfigMap" && v.metadata?.name === CONFIGMAP && v.data?.["inventory.json"])
      return JSON.parse(v.data["inventory.json"]).keys ?? [];
    if (Array.isArray(v?.keys)) return v.keys;
  }
  throw new Error(`${where} holds neither ConfigMap ${CONFIGMAP} nor an inventory.json`);
}

function published(stack: string): { keys: PublishedKey[]; where: string } {
  if (values.inventory)
    return { keys: keysFrom(fs.readFileSync(values.inventory, "utf8"), values.inventory), where: values.inventory };
  const cfg = loadStackFile(PROJECT_ROOT, stack);
  if (cfg.kubernetes.mode === "cluster") {
    const args = ["get", "configmap", CONFIGMAP, "-n", cfg.workload.namespace, "-o", "yaml"];
    args.push("--kubeconfig", kubeconfigPath(cfg.kubernetes, PROJECT_ROOT));
    if (cfg.kubernetes.context) args.push("--context", cfg.kubernetes.context);
    const res = spawnSync("kubectl", args, { encoding: "utf8" });
    if (res.status !== 0)
      throw new Error(`kubectl get configmap ${CONFIGMAP}: ${(res.stderr || res.error?.message || "").trim()}`);
    return {
      keys: keysFrom(res.stdout, `ConfigMap ${cfg.workload.namespace}/${CONFIGMAP}`),
      where: `ConfigMap ${cfg.workload.namespace}/${CONFIGMAP} of stack ${stack}'s cluster`,
    };
  }
  const dir = path.resolve(PROJECT_ROOT, cfg.kubernetes.renderDirectory);
  const files = fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]) : [];
  for (const f of files.filter((f) => /\.ya?ml$/.test(f))) {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    if (text.includes(CONFIGMAP))
      return { keys: keysFrom(text, f), where: path.relative(PROJECT_ROOT, path.join(dir, f)) };
  }
  throw new Error(`no rendered ConfigMap ${CONFIGMAP} under ${dir}; pass --inventory`);
}

function main(): number {
  const dir = positionals[0];
  if (!dir)
    throw Object.assign(new Error("usage: npm run evidence:verify -- <evidence folder> [--inventory FILE]"), {
      code: 2,
    });
  const bytes = fs.readFileSync(path.join(dir, "report.json"));
  const problems: string[] = [];
  let stack: string | undefined;
  try {
    stack = validateReport(JSON.parse(bytes.toString("utf8")), path.join(dir, "report.json")).stack.name;
  } catch (e) {
    problems.push((e as Error).message);
    try {
      stack = JSON.parse(bytes.toString("utf8"))?.stack?.name;
    } catch {
      // the signature check below says it too
    }
  }
  let inv;
  try {
    inv = published(stack ?? "local");
  } catch (e) {
    console.error(`error: the published inventory can't be read: ${(e as Error).message}`);
    return 2;
  }
  const sigFile = path.join(dir, "report.json.sig");
  problems.push(
    ...(fs.existsSync(sigFile)
      ? verifyReport(bytes, fs.readFileSync(sigFile, "utf8"), inv.keys)
      : ["report.json.sig is missing"]),
  );
  if (problems.length) {
    console.error(`NOT verified: ${dir}\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 1;
  }
  console.log(`verified: ${dir} (signature checked with the public key published in ${inv.where})`);
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exitCode = (e as { code?: number }).code === 2 ? 2 : 1;
}
