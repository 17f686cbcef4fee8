/**
 * npm run kms:sync -- --config configs/kms/producao.yaml [--stack producao] [--apply]
 *
 * Shows the difference between the key inventory and the HSM: active versions
 * missing on their token, versions present, keys on the token the inventory
 * does not list. Every version present, active or retired, is inspected as
 * `pulumi up` inspects what it adopts (sensitive, never extractable, sign-only,
 * the declared type and size): one that is not what the inventory declares, or
 * only half there, is reported with each attribute that fails. With --apply it
 * creates the active versions that are absent, and only those: it never changes,
 * adopts or deletes what is already on a token.
 * Exit 0 when in sync (after --apply); 1 when an active version is missing
 * (without --apply) or a version on the token does not conform or is half
 * present (with or without --apply); 2 on an error (inventory, token, PIN).
 */
import { ensureKeys, inspectKeys, KeyInspection, listKeyLabels, pinFromEnv } from "../../components/keys/hsm";
import { keyLabel, loadInventory } from "../../components/keys/inventory";
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
  let nonConforming = 0;
  for (const token of inventory.tokens) {
    const ref = { label: token.label, ...(token.serial ? { serial: token.serial } : {}) };
    const declared = inventory.keys.filter((k) => k.token === token.name);
    console.log(`token ${token.name} (label ${token.label}):`);
    // Inspect first (one login), then create only what is absent with nothing under its label: a planted
    // or half-present pair is reported below, never handed to ensureKeys.
    const seen = new Map<string, KeyInspection>(
      inspectKeys(opts.kms.module, ref, declared, pin).map((i) => [i.label, i]),
    );
    const absent = (label: string) => seen.get(label)!.present === "no" && seen.get(label)!.problems.length === 0;
    const toCreate = declared.filter((k) => k.state === "active" && absent(keyLabel(k)));
    // One login for every key the token lacks.
    const created = new Map(
      opts.apply && toCreate.length > 0 ? ensureKeys(opts.kms.module, ref, toCreate, pin).map((r) => [r.label, r]) : [],
    );
    for (const k of declared) {
      const label = keyLabel(k);
      const found = seen.get(label)!;
      if (found.present === "half") {
        console.log(`  ! ${label} (${k.state}) is half present: ${found.problems.join("; ")}; resolve it by hand`);
        nonConforming++;
      } else if (found.problems.length > 0) {
        console.log(`  ! ${label} (${k.state}) does not conform: ${found.problems.join("; ")}`);
        nonConforming++;
      } else if (found.present === "yes") {
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
    for (const label of new Set(listKeyLabels(opts.kms.module, ref, pin).filter((l) => !known.has(l)))) {
      console.log(`  ? ${label} on the token but not in the inventory (kept; record it as retired)`);
    }
  }
  if (nonConforming > 0) {
    console.log(
      `${nonConforming} key version(s) on the HSM are not what the inventory declares; nothing was changed on ` +
        "them. Find out who made them; to go on, declare a new version of the key in the inventory (key " +
        "material is never deleted here).",
    );
  }
  return missing === 0 && nonConforming === 0 ? 0 : 1;
});
