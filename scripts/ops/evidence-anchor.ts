/**
 * npm run evidence:anchor -- --stack <stack> [--anchor FILE]
 *
 * Rotating the evidence key, step 2 of 2 (step 1: a new version of the evidence-signing key in the KMS
 * inventory, deployed, which makes it in the HSM): reads the active evidence-signing keys from the HSM,
 * inspected as adoption inspects them (a planted or extractable key is refused by attribute), and writes the
 * stack's trust anchor (evidence.anchor): a new key valid from now, a key no longer active closed at now;
 * older keys stay, so the reports they signed keep verifying. It changes only that file: commit it on a
 * branch and open a PR, which CODEOWNERS sends to the security team. Until that PR is merged, reports
 * signed with the new key do not verify — and npm run evidence refuses to sign with a key the anchor does
 * not list. The local stack's anchor is under .local/ (its token is made per machine); npm run local runs
 * this itself. The PIN comes from kms.pinEnv. Exit 0 written or already up to date, 2 refused (nothing written).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { loadStackFile } from "../../components/config/load";
import { Anchor, ANCHOR_SCHEMA, anchorText, loadAnchor, rotateAnchor } from "../../components/evidence/anchor";
import { inspectInventory, pinFromEnv } from "../../components/keys/hsm";
import { loadInventory } from "../../components/keys/inventory";
import { PROJECT_ROOT, run } from "./operator";

run(() => {
  const { values } = parseArgs({
    options: { stack: { type: "string" }, anchor: { type: "string" } },
    strict: true,
  });
  if (!values.stack) throw new Error("usage: npm run evidence:anchor -- --stack <stack> [--anchor FILE]");
  const cfg = loadStackFile(PROJECT_ROOT, values.stack);
  const file = path.resolve(PROJECT_ROOT, values.anchor ?? cfg.evidence.anchor);
  const pin = pinFromEnv(cfg.kms.pinEnv);
  if (pin === undefined)
    throw new Error(`set the HSM user PIN in the environment variable ${cfg.kms.pinEnv} (kms.pinEnv)`);
  const inventory = loadInventory(path.resolve(PROJECT_ROOT, cfg.kms.inventory));
  const active = inventory.keys.filter((k) => k.purpose === "evidence-signing" && k.state === "active");
  if (!active.length)
    throw new Error(
      `${cfg.kms.inventory}: no active key with purpose evidence-signing (see configs/kms/local.yaml, key evidencias)`,
    );
  // One login per token, the same inspection as kms:sync and the evidence report.
  const current = inspectInventory(cfg.kms.module, { tokens: inventory.tokens, keys: active }, pin).map((k) => {
    const t = inventory.tokens.find((x) => x.name === k.token)!;
    if (!k.record)
      throw new Error(`key ${k.label} is not on token '${t.label}' yet: deploy the stack first (pulumi up creates it)`);
    if (k.problems.length)
      throw new Error(
        `key ${k.label} on token '${t.label}' does not conform, so it can't be trusted: ${k.problems.join("; ")}`,
      );
    return { label: k.record.label, fingerprint: k.record.fingerprint, publicKey: k.record.publicKey };
  });
  const before: Anchor = fs.existsSync(file)
    ? loadAnchor(file)
    : { schema: ANCHOR_SCHEMA, stack: values.stack, keys: [] };
  if (before.stack !== values.stack)
    throw new Error(`${file} is the trust anchor of stack ${before.stack}, not ${values.stack}`);
  const { anchor, changes } = rotateAnchor(before, current, new Date());
  const rel = path.relative(PROJECT_ROOT, file);
  if (!changes.length) {
    console.log(`trust anchor ${rel} is up to date (${current.map((c) => `${c.label} ${c.fingerprint}`).join(", ")})`);
    return 0;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, anchorText(anchor));
  fs.renameSync(`${file}.tmp`, file);
  console.log(`trust anchor ${rel} written:\n${changes.map((c) => `  ${c}`).join("\n")}`);
  if (!rel.startsWith(".local"))
    console.log(
      `Commit ${rel} on a branch and open a PR: CODEOWNERS asks the security team to review it. Reports signed with a new key verify once it is merged.`,
    );
  return 0;
});
