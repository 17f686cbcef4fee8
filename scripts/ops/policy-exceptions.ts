/**
 * The catalogue's exceptions as `npm run local` summarizes them: each with its
 * rule, scope, owner and expiry, in force or expired (an expired one is
 * CART-EXC-001 on both enforcers). Plain: no Pulumi import.
 *
 * With --warn-days N (or --check, N = 30) it is the scheduled workflow's calendar: each exception
 * expiring within N days is a warning and each expired one an error (GitHub annotations under
 * GitHub Actions), and it exits 1 if there is any — weeks before an expired exception fails every
 * preview. --now YYYY-MM-DD judges at another day than today (tests); --catalogue another file.
 *   npm run policy:exceptions -- --warn-days 30
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { CATALOGUE_FILE, loadCatalogue } from "../../components/policy/catalogue";
import { exceptionActive, exceptionDaysLeft, scopeText } from "../../components/policy/rules";

const { values } = parseArgs({
  options: {
    check: { type: "boolean", default: false },
    "warn-days": { type: "string" },
    now: { type: "string" },
    catalogue: { type: "string" },
  },
});

function fail(message: string): never {
  console.error(`policy-exceptions: ${message}`);
  process.exit(2);
}

const now = values.now === undefined ? Date.now() : Date.parse(values.now);
if (Number.isNaN(now)) fail(`--now ${values.now}: expected a date such as 2026-12-01`);
const warnDays = values["warn-days"] === undefined ? 30 : Number(values["warn-days"]);
if (!Number.isInteger(warnDays) || warnDays < 0)
  fail(`--warn-days ${values["warn-days"]}: expected a whole number of days`);
const check = values.check || values["warn-days"] !== undefined;
const file = path.resolve(values.catalogue ?? CATALOGUE_FILE);
const exceptions = loadCatalogue(file).exceptions;

if (exceptions.length === 0) console.log("policy exceptions: none");
for (const e of exceptions) {
  const state = exceptionActive(e, now)
    ? `in force, ${exceptionDaysLeft(e, now)} day(s) left`
    : "EXPIRED (CART-EXC-001)";
  console.log(`policy exception: ${e.rule} (${scopeText(e)}), owner ${e.owner}, until ${e.expires}: ${state}`);
}

if (check) {
  const github = process.env.GITHUB_ACTIONS === "true";
  const where = path.relative(process.cwd(), file) || file;
  const say = (level: "warning" | "error", title: string, text: string) =>
    console.log(github ? `::${level} file=${where},title=${title}::${text}` : `${level}: ${text}`);
  let flagged = 0;
  for (const e of exceptions) {
    const what = `exception to ${e.rule} (${scopeText(e)}) owned by ${e.owner}`;
    if (!exceptionActive(e, now)) {
      flagged++;
      say(
        "error",
        "CART-EXC-001",
        `${what} expired on ${e.expires}: every preview fails with CART-EXC-001 until it is renewed (new reason and date) or its findings fixed`,
      );
    } else if (exceptionDaysLeft(e, now) <= warnDays) {
      flagged++;
      say(
        "warning",
        "policy exception expiring",
        `${what} expires on ${e.expires}, in ${exceptionDaysLeft(e, now)} day(s): renew it or fix its findings before then, or every preview fails with CART-EXC-001`,
      );
    }
  }
  console.log(
    `policy exceptions: ${flagged} of ${exceptions.length} expired or expiring within ${warnDays} day(s) of ${new Date(now).toISOString().slice(0, 10)}`,
  );
  if (flagged) process.exit(1);
}
