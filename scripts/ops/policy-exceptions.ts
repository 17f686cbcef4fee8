/**
 * The catalogue's exceptions as `npm run local` summarizes them: each with its
 * rule, scope, owner and expiry, in force or expired (an expired one is
 * CART-EXC-001 on both enforcers). Plain: no Pulumi import.
 */
import { loadCatalogue } from "../../components/policy/catalogue";
import { exceptionActive, exceptionDaysLeft, scopeText } from "../../components/policy/rules";

const now = Date.now();
const exceptions = loadCatalogue().exceptions;
if (exceptions.length === 0) console.log("policy exceptions: none");
for (const e of exceptions) {
  const state = exceptionActive(e, now)
    ? `in force, ${exceptionDaysLeft(e, now)} day(s) left`
    : "EXPIRED (CART-EXC-001)";
  console.log(`policy exception: ${e.rule} (${scopeText(e)}), owner ${e.owner}, until ${e.expires}: ${state}`);
}
