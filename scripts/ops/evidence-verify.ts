/**
 * npm run evidence:verify -- <evidence folder> [--anchor FILE]
 * npm run evidence:verify -- --chain <stack folder, e.g. evidence/producao> [--anchor FILE]
 *
 * Checks evidence (npm run evidence) as an auditor would, with the repository and the folders alone: no
 * cluster, no HSM, no network. The trust anchor is FILE, or the stack's evidence.anchor
 * (configs/evidencias/<…>.yaml, owned by the security team) — never a key read from the cluster. One folder:
 * its schema, its signature by a key the anchor lists for the report's date, what it attests. --chain:
 * every report of the stack in sequence, naming the first break (missing, reordered, altered, re-signed).
 * Exit 0 verified, 1 not verified (every reason printed), 2 the anchor or the folder can't be read.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { loadStackFile } from "../../components/config/load";
import { loadAnchor } from "../../components/evidence/anchor";
import { verifyChain, verifyFolder } from "../../components/evidence/verify";
import { PROJECT_ROOT } from "./operator";

const USAGE = "usage: npm run evidence:verify -- <evidence folder> | --chain <stack folder>  [--anchor FILE]";

function usageError(message: string): Error {
  return Object.assign(new Error(`${message}\n${USAGE}`), { code: 2 });
}

/** The anchor: --anchor, else the stack's evidence.anchor (the stack from the report or the chain's folder). */
function anchorFile(given: string | undefined, stack: string | undefined): string {
  if (given) return path.resolve(given);
  if (!stack) throw usageError("the report names no stack: pass --anchor");
  if (!fs.existsSync(path.join(PROJECT_ROOT, `Pulumi.${stack}.yaml`)))
    throw usageError(`there is no Pulumi.${stack}.yaml here to find stack ${stack}'s evidence.anchor: pass --anchor`);
  return path.resolve(PROJECT_ROOT, loadStackFile(PROJECT_ROOT, stack).evidence.anchor);
}

function stackOfReport(dir: string): string | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "report.json"), "utf8"))?.stack?.name;
  } catch {
    return undefined;
  }
}

function main(): number {
  const { values, positionals } = parseArgs({
    options: { anchor: { type: "string" }, chain: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  const target = values.chain ?? positionals[0];
  if (!target || (values.chain && positionals.length)) throw usageError("name one evidence folder, or --chain");
  if (!fs.existsSync(target) || !fs.statSync(target).isDirectory())
    throw Object.assign(new Error(`${target} is not a folder`), { code: 2 });
  const stack = values.chain ? path.basename(path.resolve(target)) : stackOfReport(target);
  const file = anchorFile(values.anchor, stack);
  let anchor;
  try {
    anchor = loadAnchor(file);
  } catch (e) {
    throw Object.assign(e as Error, { code: 2 });
  }
  const where = path.relative(PROJECT_ROOT, file) || file;

  if (values.chain) {
    const r = verifyChain(target, anchor, where);
    if (r.problems.length) {
      console.error(
        `NOT verified: the chain ${target} (${r.reports} reports) breaks after ${r.links.length} good link(s):\n` +
          r.problems.map((p) => `  - ${p}`).join("\n"),
      );
      return 1;
    }
    const last = r.links[r.links.length - 1];
    console.log(
      `verified: the chain ${target}: ${r.reports} reports, sequence 1 to ${last.sequence}, head ${last.folder} ${last.digest} (trust anchor ${where})`,
    );
    return 0;
  }
  const r = verifyFolder(target, anchor, where);
  if (r.problems.length) {
    console.error(`NOT verified: ${target}\n${r.problems.map((p) => `  - ${p}`).join("\n")}`);
    return 1;
  }
  console.log(
    `verified: ${target} (sequence ${r.report!.chain.sequence} of stack ${anchor.stack}; signed by ${r.report!.signer.keyLabel} ${r.report!.signer.fingerprint}, in the trust anchor ${where})`,
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  process.exitCode = (e as { code?: number }).code === 2 ? 2 : 1;
}
