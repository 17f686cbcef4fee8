/**
 * The key inventory's calendar: when each active key version leaves its
 * cryptoperiod, judged like a certificate renewal window — within `warnDays`
 * (default 90) it is "expiring" (a warning), past its end "expired" (an
 * error). CART-KMS-003 uses the same cryptoperiodEnd. Plain module: the
 * kms:expiry command and tests use it with an explicit date, never the
 * ambient clock.
 */
import type { Inventory } from "./inventory";
import { keyLabel } from "./keyid";

const DAY_MS = 86_400_000;

/** The end of a key version's cryptoperiod (ms since the epoch): activatedOn at 00:00 UTC plus its days. */
export function cryptoperiodEnd(activatedOn: string, cryptoperiodDays: number): number {
  return Date.parse(`${activatedOn}T00:00:00Z`) + cryptoperiodDays * DAY_MS;
}

export type ExpiryStatus = "ok" | "expiring" | "expired";

export interface KeyExpiry {
  label: string;
  token: string;
  purpose: string;
  activatedOn: string;
  /** Last moment of the cryptoperiod, YYYY-MM-DD (00:00 UTC). */
  endsOn: string;
  /** Whole days from `at` to the end; negative once expired. */
  daysLeft: number;
  status: ExpiryStatus;
}

/** Every active key version with its status at `at`, soonest end first. Retired versions sign nothing. */
export function expiryReport(inventory: Inventory, at: Date, warnDays = 90): KeyExpiry[] {
  return inventory.keys
    .filter((k) => k.state === "active")
    .map((k) => {
      const ends = cryptoperiodEnd(k.activatedOn, k.cryptoperiodDays);
      const left = ends - at.getTime();
      const status: ExpiryStatus = left < 0 ? "expired" : left <= warnDays * DAY_MS ? "expiring" : "ok";
      return {
        label: keyLabel(k),
        token: k.token,
        purpose: k.purpose,
        activatedOn: k.activatedOn,
        endsOn: new Date(ends).toISOString().slice(0, 10),
        daysLeft: Math.floor(left / DAY_MS),
        status,
      };
    })
    .sort((a, b) => a.endsOn.localeCompare(b.endsOn) || a.label.localeCompare(b.label));
}
