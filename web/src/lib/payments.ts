/** Online payments (issue 11): what the pay, return and status pages share. */
import type { Invoice, PaymentMethod, PaymentStatus } from "../api/types";

export const METHODS: PaymentMethod[] = ["card", "pay-by-link", "blik"];

/**
 * Banks offered for pay-by-link, by their Przelewy24 method id (the API's `bank`). Only the
 * banks whose ids the development provider also knows; the provider's own method list
 * (`GET /api/v1/payment/methods/{lang}` at Przelewy24) is not yet offered by e-BOK's API.
 */
export const BANKS: { id: string; name: string }[] = [
  { id: "25", name: "mBank — mTransfer" },
  { id: "31", name: "PKO Bank Polski — Płacę z iPKO" },
];

/** A payment whose status changes no more (short of money arriving late for it). */
export function isFinal(status: PaymentStatus): boolean {
  return status !== "created" && status !== "pending";
}

/** A new Idempotency-Key: one per attempt to pay (the API takes 8–100 of [A-Za-z0-9_.:-]). */
export function newAttemptKey(): string {
  const random = globalThis.crypto?.randomUUID?.();
  if (random) return random;
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export const RETURN_PATH = "/payments/online/return";

/** Where the provider sends the payer back: this origin, naming the attempt (its key), by which
 * the return page finds the payment among the account's latest. */
export function returnUrl(attempt: string): string {
  return `${window.location.origin}${RETURN_PATH}?attempt=${encodeURIComponent(attempt)}`;
}

export function onlinePaymentPath(paymentId: string): string {
  return `/payments/online/${encodeURIComponent(paymentId)}`;
}

/** "/pay" for the invoices named (all that are due when none). */
export function payPath(invoices: string[] = []): string {
  const query = new URLSearchParams();
  for (const number of invoices) query.append("invoice", number);
  const text = query.toString();
  return text ? `/pay?${text}` : "/pay";
}

/** An amount in grosze from the API's decimal text ("216.00"), or null when it is not one. */
export function grosze(amount: string): number | null {
  const match = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(amount.trim());
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

/** Grosze as the API's decimal text. */
export function decimal(value: number): string {
  return `${Math.floor(value / 100)}.${String(value % 100).padStart(2, "0")}`;
}

export function hasDue(invoice: Invoice): boolean {
  return (grosze(invoice.amount_due) ?? 0) > 0;
}

/** How long the status page waits before each check, in seconds: often at first, then less;
 * about a minute in all before it says the confirmation is late. */
export const POLL_DELAYS = [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5];
