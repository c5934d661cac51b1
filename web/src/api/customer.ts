/**
 * The customer a manager works for (issue 10). Every account route takes `?customer=<id>` for a
 * manager; the app keeps the chosen customer here and this middleware adds it to every account
 * call, so the account pages need not know about managers. The chosen customer's id (not a
 * credential) is also kept in sessionStorage (`ebok.customer`), so that a reload or an address
 * typed in the same tab stays with the same customer; it is removed when the session ends.
 */
import type { Middleware } from "openapi-fetch";

import type { PortfolioEntry } from "./types";

/** The routes of one customer's account (`account(...)` policies in the gateway). */
export const ACCOUNT_PATHS = new Set([
  "/api/v1/me/dashboard",
  "/api/v1/contracts",
  "/api/v1/invoices",
  "/api/v1/invoices/{number}",
  "/api/v1/invoices/{number}/pdf",
  "/api/v1/balance",
  "/api/v1/payments-received",
  "/api/v1/notes",
  "/api/v1/meters",
  "/api/v1/meters/{meter_number}/readings",
  "/api/v1/meters/{meter_number}/consumption",
  "/api/v1/payments",
  "/api/v1/payments/{payment_id}",
  "/api/v1/payments/{payment_id}/cancel",
  "/api/v1/e-invoice",
  "/api/v1/e-invoice/address",
  "/api/v1/cases",
  "/api/v1/cases/{number}",
  "/api/v1/cases/{number}/messages",
  "/api/v1/attachments",
  "/api/v1/attachments/{attachment_id}",
]);

export type ChosenCustomer = Pick<PortfolioEntry, "customer_id" | "name" | "scope" | "service_points">;

export const CUSTOMER_STORAGE_KEY = "ebok.customer";

let chosen: ChosenCustomer | null = null;
const listeners = new Set<() => void>();

export function getChosenCustomer(): ChosenCustomer | null {
  return chosen;
}

/** The id of the customer chosen before the page was loaded (this tab), if any. */
export function storedCustomerId(): string | null {
  try {
    return globalThis.sessionStorage?.getItem(CUSTOMER_STORAGE_KEY) ?? null;
  } catch {
    return null;
  }
}

function store(customerId: string | null): void {
  try {
    if (customerId) globalThis.sessionStorage?.setItem(CUSTOMER_STORAGE_KEY, customerId);
    else globalThis.sessionStorage?.removeItem(CUSTOMER_STORAGE_KEY);
  } catch {
    // Storage refused (private mode): the choice lasts until the page is reloaded.
  }
}

export function chooseCustomer(customer: ChosenCustomer | null): void {
  store(customer?.customer_id ?? null);
  if (chosen?.customer_id === customer?.customer_id && chosen?.scope === customer?.scope) {
    chosen = customer;
    return;
  }
  chosen = customer;
  listeners.forEach((listener) => listener());
}

export function subscribeChosenCustomer(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Adds `customer=` to the account routes while a customer is chosen (a manager's session). */
export function customerMiddleware(): Middleware {
  return {
    async onRequest({ request, schemaPath }) {
      if (!chosen || !ACCOUNT_PATHS.has(schemaPath)) return request;
      const url = new URL(request.url);
      url.searchParams.set("customer", chosen.customer_id);
      const body = request.body ? await request.arrayBuffer() : undefined;
      return new Request(url, {
        method: request.method,
        headers: request.headers,
        body,
        credentials: request.credentials,
        signal: request.signal,
      });
    },
  };
}
