/**
 * E-invoice pieces shared by its pages (issue 12): the token of the emailed confirmation link,
 * what a refused link means, and day counts in words.
 */
import { problemCode, type Failure } from "../api/problems";
import type { Language } from "../api/types";
import { LOCALES } from "../i18n/format";

/** The token of `/e-invoice/confirm#token=…` (the emailed link keeps it in the fragment, which
 * no server and no Referer sees); `?token=` too, should a mail program have moved it. */
export function confirmationToken(hash: string, search: string): string | null {
  const fromHash = new URLSearchParams(hash.replace(/^#/, "")).get("token");
  const fromQuery = new URLSearchParams(search).get("token");
  return fromHash || fromQuery || null;
}

/** Why a confirmation link did not work, in the page's terms: used; expired (or replaced by a
 * newer one, or its request withdrawn); unknown — each says what to do next; anything else is a
 * failure to try again. */
export type LinkRefusal = "used" | "expired" | "unknown" | null;

// Billing's codes (services/billing/e_invoice_api.py): 400 invalid, 410 used / superseded /
// cancelled / expired.
const USED = new Set(["used"]);
const NO_LONGER = new Set(["expired", "superseded", "cancelled"]);

export function linkRefusal(failure: Failure): LinkRefusal {
  const code = problemCode(failure) ?? "";
  if (USED.has(code)) return "used";
  if (NO_LONGER.has(code)) return "expired";
  // By status, should a code be new: a link that works no more (410), one never made (400,
  // 404) or not a token at all (422).
  if (failure.status === 410) return "expired";
  if (failure.status === 404 || failure.status === 400 || failure.status === 422) return "unknown";
  return null;
}

/** 3 → "3 dni" / "3 days" / "3 дні" / "3 дня": the plural is the locale's. */
export function daysText(language: Language, days: number): string {
  return new Intl.NumberFormat(LOCALES[language], { style: "unit", unit: "day", unitDisplay: "long" }).format(days);
}
