/**
 * HSM slot readiness: finds each required token among the slots and judges it.
 * Pure over SlotSnapshot (pkcs11.ts reads those), so tests and the hsm:slots
 * command share the verdicts; `validateTokens` adds the one login attempt.
 */
import type { SlotSnapshot } from "./pkcs11";

export interface TokenRequirement {
  name: string;
  label: string;
  serial?: string;
  mechanisms: string[];
}

export interface Check {
  requirement: string;
  ok: boolean;
  detail: string;
}

export interface TokenVerdict {
  name: string;
  label: string;
  ok: boolean;
  slotId?: string;
  serial?: string;
  /** The required mechanisms, all present when ok. */
  mechanisms: string[];
  checks: Check[];
}

/** Finds the slot of a requirement: by serial when pinned, else by a label that must be unique. */
export function matchSlot(req: TokenRequirement, slots: SlotSnapshot[]): { slot?: SlotSnapshot; problem?: string } {
  const withToken = slots.filter((s) => s.token);
  if (req.serial) {
    const slot = withToken.find((s) => s.token!.serial === req.serial);
    if (!slot) {
      return { problem: `no token with serial ${req.serial} (label ${req.label}); present: ${describe(withToken)}` };
    }
    if (slot.token!.label !== req.label) {
      return { problem: `token serial ${req.serial} carries label '${slot.token!.label}', expected '${req.label}'` };
    }
    return { slot };
  }
  const candidates = withToken.filter((s) => s.token!.label === req.label);
  if (candidates.length === 0) {
    return { problem: `no token labelled '${req.label}'; present: ${describe(withToken)}` };
  }
  if (candidates.length > 1) {
    return {
      problem:
        `${candidates.length} tokens carry the label '${req.label}' (serials ${candidates.map((c) => c.token!.serial).join(", ")}); ` +
        `pin the intended one with tokens[].serial in the inventory`,
    };
  }
  return { slot: candidates[0] };
}

/** The initialised tokens (SoftHSM2 always adds an empty one, its free slot, which names nothing). */
function describe(slots: SlotSnapshot[]): string {
  const named = slots.filter((s) => s.token!.initialized);
  return named.length === 0 ? "none" : named.map((s) => `'${s.token!.label}' (serial ${s.token!.serial})`).join(", ");
}

/** The checks that need no login. `loginAllowed` says whether a login attempt is safe. */
export function preLoginChecks(req: TokenRequirement, slot: SlotSnapshot): { checks: Check[]; loginAllowed: boolean } {
  const t = slot.token!;
  const missing = req.mechanisms.filter((mech) => !slot.mechanisms.includes(mech));
  const checks: Check[] = [
    {
      requirement: "token initialised",
      ok: t.initialized,
      detail: t.initialized ? "yes" : "the token is not initialised",
    },
    {
      requirement: "user PIN initialised",
      ok: t.userPinInitialized,
      detail: t.userPinInitialized ? "yes" : "the user PIN was never set (C_InitPIN by the security officer)",
    },
    {
      requirement: "user PIN not locked",
      ok: !t.userPinLocked,
      detail: t.userPinLocked ? "the user PIN is locked; the security officer must reset it" : "yes",
    },
    {
      requirement: "user PIN not on its final try",
      ok: !t.userPinFinalTry,
      detail: t.userPinFinalTry
        ? "one more wrong PIN locks the token; not attempting a login, verify the PIN out of band"
        : "yes",
    },
    {
      requirement: "token writable",
      ok: !t.writeProtected,
      detail: t.writeProtected ? "the token is write-protected; keys cannot be created" : "yes",
    },
    {
      requirement: "mechanisms present",
      ok: missing.length === 0,
      detail: missing.length === 0 ? req.mechanisms.join(", ") : `missing ${missing.join(", ")}`,
    },
  ];
  const loginAllowed = t.initialized && t.userPinInitialized && !t.userPinLocked && !t.userPinFinalTry;
  return { checks, loginAllowed };
}

/** Builds the verdict for one requirement; `login` is called at most once, only when safe. */
export function judgeToken(
  req: TokenRequirement,
  slots: SlotSnapshot[],
  login: (slot: SlotSnapshot) => { ok: true } | { ok: "not tried" } | { ok: false; code: string; message: string },
): TokenVerdict {
  const { slot, problem } = matchSlot(req, slots);
  if (!slot) {
    return {
      name: req.name,
      label: req.label,
      ok: false,
      mechanisms: [],
      checks: [{ requirement: "token present", ok: false, detail: problem! }],
    };
  }
  const { checks, loginAllowed } = preLoginChecks(req, slot);
  checks.unshift({
    requirement: "token present",
    ok: true,
    detail: `slot ${slot.slotId}, serial ${slot.token!.serial}`,
  });
  if (loginAllowed) {
    const r = login(slot);
    checks.push({
      requirement: "user login",
      ok: r.ok !== false,
      detail:
        r.ok === true
          ? "succeeded"
          : r.ok === "not tried"
            ? "not tried: this run has no PIN (a preview); the deployment logs in"
            : r.code === "CKR_PIN_INCORRECT"
              ? "the PIN was refused (CKR_PIN_INCORRECT); not retried, since each try counts toward the lock"
              : `${r.code}: ${r.message}`,
    });
  } else {
    checks.push({ requirement: "user login", ok: false, detail: "not attempted (see the PIN checks above)" });
  }
  return {
    name: req.name,
    label: req.label,
    ok: checks.every((c) => c.ok),
    slotId: slot.slotId,
    serial: slot.token!.serial,
    mechanisms: req.mechanisms.filter((m) => slot.mechanisms.includes(m)),
    checks,
  };
}

/** One line per failed check, for preview errors. */
export function failureText(v: TokenVerdict): string[] {
  return v.checks
    .filter((c) => !c.ok)
    .map((c) => `token '${v.name}' (label ${v.label}): ${c.requirement}: ${c.detail}`);
}

/** Where a token requirement came from, for messages a user can act on. */
export interface TokenContext {
  /** The inventory file as the stack names it (kms.inventory); absent where it is not known. */
  inventory?: string;
  /** The PKCS#11 module (kms.module). */
  modulePath: string;
  /** The environment variable holding the user PIN (kms.pinEnv). */
  pinEnv: string;
  /** The stack, for the command that checks the HSM; absent: the command's default stack. */
  stack?: string;
  /** The inventory's tokens in its order, so a line can say tokens[i]. */
  tokens: TokenRequirement[];
}

/** The command that shows the slots and judges every token of a stack's inventory. */
export function hsmSlotsCommand(stack?: string): string {
  return `npm run hsm:slots${stack ? ` -- --stack ${stack}` : ""}`;
}

/**
 * One line per failed check, each on its own: the inventory token the user wrote (its index, name and
 * label), what the HSM has instead, what to do, and the command that checks it again. Without a PIN the
 * login is not a failure here (the program reports a missing PIN itself, naming kms.pinEnv).
 */
export function tokenProblemLines(verdicts: TokenVerdict[], ctx: TokenContext): string[] {
  const check = ` (check with: ${hsmSlotsCommand(ctx.stack)})`;
  const where = ctx.inventory ? `kms inventory ${ctx.inventory}: ` : "";
  const lines: string[] = [];
  for (const v of verdicts) {
    const i = ctx.tokens.findIndex((t) => t.name === v.name);
    const req = ctx.tokens[i];
    const at = i >= 0 ? `tokens[${i}]` : "tokens[]";
    const serial = v.serial ?? req?.serial;
    const token = `token '${v.name}' (label ${v.label}${serial ? `, serial ${serial}` : ""})`;
    for (const c of v.checks.filter((x) => !x.ok)) {
      if (c.requirement === "token present") {
        // matchSlot's detail: what is wrong first, then what the HSM has or how to choose.
        const [what, ...rest] = c.detail.split("; ");
        const fix = /^present: /.test(rest[0] ?? "")
          ? `set ${at}.label${req?.serial ? ` and ${at}.serial` : ""} to a token listed, or initialise that token`
          : /carries label/.test(what)
            ? `set ${at}.label and ${at}.serial so they name the same token`
            : "";
        const written = `${at}.label = ${v.label}${req?.serial ? `, ${at}.serial = ${req.serial}` : ""}`;
        lines.push(
          `${where}${written} (token '${v.name}'): ${what} on the HSM (kms.module ${ctx.modulePath})` +
            [...rest, fix]
              .filter(Boolean)
              .map((x) => `; ${x}`)
              .join("") +
            check,
        );
      } else if (c.requirement === "user login" && /CKR_PIN_INCORRECT/.test(c.detail)) {
        lines.push(
          `cartorio-plataforma:kms.pinEnv = ${ctx.pinEnv}: ${token} refused the PIN in ${ctx.pinEnv} ` +
            `(CKR_PIN_INCORRECT); one PIN try was used and not retried, since every wrong try counts toward ` +
            `locking the token; put the token's user PIN in ${ctx.pinEnv}${check}`,
        );
      } else if (c.requirement === "user login" && /NO_PIN|no user PIN/.test(c.detail)) {
        lines.push(
          `cartorio-plataforma:kms.pinEnv = ${ctx.pinEnv}: ${token} needs a login and ${ctx.pinEnv} is not set; ` +
            `set the user PIN in the environment variable ${ctx.pinEnv} (kms.pinEnv)${check}`,
        );
      } else if (c.requirement === "mechanisms present") {
        lines.push(
          `${where}${at}.mechanisms: ${token} offers no ${c.detail.replace(/^missing /, "")}; use a token that ` +
            `has them, or change ${at}.mechanisms${check}`,
        );
      } else if (c.requirement === "user login" && c.detail.startsWith("not attempted")) {
        // Follows from a PIN check that failed and has its own line.
        continue;
      } else {
        lines.push(`${where}${token}: ${c.requirement}: ${c.detail}${check}`);
      }
    }
  }
  return lines;
}

/**
 * The line for an HSM that could not be asked at all: a PKCS#11 module that does not load (not installed,
 * or kms.module pointing elsewhere) names the key, the path and the install command.
 */
export function moduleProblemLine(e: Error, ctx: Pick<TokenContext, "modulePath" | "stack">): string {
  const check = ` (check with: ${hsmSlotsCommand(ctx.stack)})`;
  const first = (s: string) => s.split("\n")[0].trim();
  const load = /^cannot load the PKCS#11 module .*?: ([\s\S]*?)(; check kms\.module)?$/.exec(e.message);
  if (load) {
    const install = /softhsm/i.test(ctx.modulePath)
      ? "install SoftHSM2 (sudo apt-get install softhsm2)"
      : "install the HSM vendor's PKCS#11 library";
    return (
      `cartorio-plataforma:kms.module = ${ctx.modulePath}: this PKCS#11 module does not load (${first(load[1]).replace(`${ctx.modulePath}: `, "")}); ` +
      `${install}, or set kms.module to the library's path${check}`
    );
  }
  return `cartorio-plataforma:kms.module = ${ctx.modulePath}: the HSM could not be asked (${first(e.message)})${check}`;
}
