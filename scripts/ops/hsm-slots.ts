/**
 * npm run hsm:slots [-- --stack local|producao] [--module /path/lib.so] [--config inventory.yaml]
 *
 * Lists the HSM's slots as `softhsm2-util --show-slots` does, then judges each
 * token the inventory requires (present, initialised, PIN state, mechanisms,
 * one login). Exit 0 when every token is ready, 1 otherwise.
 */
import { pinFromEnv, snapshotSlots, validateTokens } from "../../components/keys/hsm";
import { loadInventory } from "../../components/keys/inventory";
import { operatorOptions, run } from "./operator";

run(() => {
  const opts = operatorOptions(
    process.argv.slice(2),
    "usage: npm run hsm:slots -- [--stack local] [--module lib.so] [--config inventory.yaml]",
  );
  const inventory = loadInventory(opts.inventoryFile);
  const slots = snapshotSlots(opts.kms.module);
  console.log(`Available slots (${opts.kms.module}):`);
  for (const s of slots) {
    const t = s.token!;
    console.log(`Slot ${s.slotId}`);
    console.log(`    Slot info:\n        Description:      ${s.description}\n        Token present:    yes`);
    console.log(
      [
        "    Token info:",
        `        Manufacturer ID:  ${t.manufacturer}`,
        `        Model:            ${t.model}`,
        `        Serial number:    ${t.serial}`,
        `        Initialized:      ${t.initialized ? "yes" : "no"}`,
        `        User PIN init.:   ${t.userPinInitialized ? "yes" : "no"}`,
        `        Label:            ${t.label}`,
      ].join("\n"),
    );
  }
  const verdicts = validateTokens(opts.kms.module, inventory.tokens, pinFromEnv(opts.kms.pinEnv));
  console.log(`\nRequirements of ${opts.inventoryFile}:`);
  for (const v of verdicts) {
    console.log(
      `token ${v.name} (label ${v.label}${v.serial ? `, serial ${v.serial}` : ""}): ${v.ok ? "READY" : "NOT READY"}`,
    );
    for (const c of v.checks) console.log(`    [${c.ok ? "ok" : "FAIL"}] ${c.requirement}: ${c.detail}`);
  }
  return verdicts.every((v) => v.ok) ? 0 : 1;
});
