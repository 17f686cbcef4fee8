/**
 * npm run kms:expiry -- [--stack producao] [--config inventory.yaml] [--at YYYY-MM-DD] [--warn-days 90]
 *
 * Lists the active key versions of the inventory with the day each leaves its
 * cryptoperiod: WARNING within --warn-days (default 90), ERROR past it — a
 * renewal window, like a certificate's. Runs in the scheduled workflow, so an
 * approaching rotation is seen weeks ahead and no unrelated PR fails for it.
 * Exit 0 when nothing expired (warnings included), 1 when a key expired.
 */
import { parseArgs } from "node:util";
import * as path from "node:path";
import { expiryReport } from "../../components/keys/expiry";
import { loadInventory } from "../../components/keys/inventory";
import { loadStackFile } from "../../components/config/load";
import { PROJECT_ROOT, run } from "./operator";

const USAGE =
  "usage: npm run kms:expiry -- [--stack producao] [--config inventory.yaml] [--at YYYY-MM-DD] [--warn-days 90]";

run(() => {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      stack: { type: "string", default: "producao" },
      config: { type: "string" },
      at: { type: "string" },
      "warn-days": { type: "string", default: "90" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const at = values.at ? new Date(`${values.at}T00:00:00Z`) : new Date();
  if (values.at && (!/^\d{4}-\d{2}-\d{2}$/.test(values.at) || Number.isNaN(at.getTime())))
    throw new Error(`--at ${values.at}: expected a date YYYY-MM-DD`);
  const warnDays = Number(values["warn-days"]);
  if (!Number.isInteger(warnDays) || warnDays < 0)
    throw new Error(`--warn-days ${values["warn-days"]}: expected a whole number of days ≥ 0`);
  const file = path.resolve(PROJECT_ROOT, values.config ?? loadStackFile(PROJECT_ROOT, values.stack!).kms.inventory);
  const report = expiryReport(loadInventory(file), at, warnDays);
  console.log(
    `${path.relative(PROJECT_ROOT, file)} at ${at.toISOString().slice(0, 10)} (warning window ${warnDays} days):`,
  );
  for (const k of report) {
    const when = k.daysLeft < 0 ? `expired ${-k.daysLeft} day(s) ago` : `${k.daysLeft} day(s) left`;
    const tag = { ok: "ok     ", expiring: "WARNING", expired: "ERROR  " }[k.status];
    const advice = k.status === "ok" ? "" : " — rotate: add the next version to the inventory, then npm run kms:sync";
    console.log(`  ${tag} ${k.label} (${k.purpose}, token ${k.token}) ends ${k.endsOn}: ${when}${advice}`);
  }
  const expired = report.filter((k) => k.status === "expired").length;
  const expiring = report.filter((k) => k.status === "expiring").length;
  console.log(`${report.length} active key(s): ${expired} expired, ${expiring} expiring within ${warnDays} days`);
  return expired > 0 ? 1 : 0;
});
