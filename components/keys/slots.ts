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

function describe(slots: SlotSnapshot[]): string {
  return slots.length === 0 ? "none" : slots.map((s) => `'${s.token!.label}' (serial ${s.token!.serial})`).join(", ");
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
