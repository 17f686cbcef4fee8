/**
 * npm run kms:sync -- --config configs/kms/producao.yaml [--stack producao] [--apply]
 *
 * Shows the difference between the key inventory and the HSM: active versions
 * missing on their token, versions present, keys on the token the inventory
 * does not list. With --apply it creates what is missing. It never deletes.
 * Exit 0 when in sync (after --apply), 1 when something is missing.
 */
import { ensureKeys, listKeyLabels, pinFromEnv } from "../components/keys/hsm";
import { keyLabel, loadInventory } from "../components/keys/inventory";
import { operatorOptions, run } from "./operator";

run(() => {
  const opts = operatorOptions(
    process.argv.slice(2),
    "usage: npm run kms:sync -- [--config inventory.yaml] [--stack local] [--apply]",
  );
  const inventory = loadInventory(opts.inventoryFile);
  const pin = pinFromEnv(opts.kms.pinEnv);
  if (!pin) throw new Error(`set the user PIN in the environment variable ${opts.kms.pinEnv} (kms.pinEnv)`);
  let missing = 0;
  for (const token of inventory.tokens) {
    const ref = { label: token.label, ...(token.serial ? { serial: token.serial } : {}) };
    const onHsm = new Set(listKeyLabels(opts.kms.module, ref, pin));
    const declared = inventory.keys.filter((k) => k.token === token.name);
    console.log(`token ${token.name} (label ${token.label}):`);
    const toCreate = declared.filter((k) => k.state === "active" && !onHsm.has(keyLabel(k)));
    // One login for every key the token lacks.
    const created = new Map(opts.apply ? ensureKeys(opts.kms.module, ref, toCreate, pin).map((r) => [r.label, r]) : []);
    for (const k of declared) {
      const label = keyLabel(k);
      if (onHsm.has(label)) {
        console.log(`  = ${label} (${k.state})`);
      } else if (k.state === "retired") {
        console.log(`  . ${label} retired and absent from the token`);
      } else if (created.has(label)) {
        console.log(`  + ${label} created (${created.get(label)!.fingerprint})`);
      } else {
        console.log(`  + ${label} missing: run with --apply to create it`);
        missing++;
      }
    }
    const known = new Set(declared.map(keyLabel));
    for (const label of [...onHsm].filter((l) => !known.has(l))) {
      console.log(`  ? ${label} on the token but not in the inventory (kept; record it as retired)`);
    }
  }
  return missing === 0 ? 0 : 1;
});
