import { fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeFetch, json, renderAt, type Call } from "../test/helpers";
import PayPage from "./PayPage";

function invoice(number: string, due: string, status = "unpaid") {
  return {
    invoice_number: number,
    contract_number: "U/C-1001",
    issued_on: "2026-11-01",
    due_on: number.endsWith("1") ? "2026-11-15" : "2026-12-15",
    period_from: "2026-10-01",
    period_to: "2026-10-31",
    net: "100.00",
    vat: "8.00",
    gross: "108.00",
    paid: "0.00",
    amount_due: due,
    status,
  };
}

const FIRST = invoice("FV/1", "108.00", "overdue");
const SECOND = invoice("FV/2", "50.00");

function payment(status: string) {
  return {
    payment_id: "9b2c4f1e-0000-4000-8000-000000000001",
    customer_id: "C-1",
    status,
    amount: "158.00",
    currency: "PLN",
    method: "card",
    bank: null,
    invoices: [],
    provider: "p24",
    redirect_url: null,
    return_url: "http://localhost:3000/payments/online/return?attempt=x",
    failure_reason: status === "failed" ? "provider-unavailable" : null,
    created_at: "2026-11-26T08:00:00Z",
    settled_at: null,
  };
}

/** The invoices by status; POST /payments answered by `pay` in turn. */
function api(pay: (call: Call) => Response | Promise<Response>) {
  return fakeFetch((call) => {
    if (call.method === "GET" && call.path === "/api/v1/invoices") {
      const status = new URLSearchParams(call.search).get("status");
      const items = [FIRST, SECOND].filter((i) => i.status === status);
      return json({ items, next_cursor: null, prev_cursor: null });
    }
    if (call.method === "POST" && call.path === "/api/v1/payments") return pay(call);
    return json({ title: "unexpected" }, 500);
  });
}

const posts = (calls: Call[]) => calls.filter((c) => c.method === "POST");

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("pay page", () => {
  it("offers what is due, keeps one Idempotency-Key per attempt and makes a new one for another", async () => {
    let answers = 0;
    const { calls } = api(() => {
      answers += 1;
      if (answers === 1) throw new TypeError("network down");
      return json({ type: "https://e-bok.example/problems/provider-unavailable", title: "Bad gateway", status: 502 }, 502);
    });
    renderAt("/pay", "/pay", <PayPage />, "en");
    const amount = (await screen.findByLabelText("Amount (PLN)")) as HTMLInputElement;
    expect(amount.value).toBe("158.00");
    expect((screen.getByRole("checkbox", { name: /FV\/1/ }) as HTMLInputElement).checked).toBe(true);
    expect((screen.getByRole("checkbox", { name: /FV\/2/ }) as HTMLInputElement).checked).toBe(true);

    const submit = () => fireEvent.click(screen.getByRole("button", { name: /Go to payment/ }));
    submit();
    expect(await screen.findByText(/Cannot reach the server/)).toBeTruthy();
    submit(); // the same attempt again: the same key
    expect(await screen.findByText(/The payment operator is not answering/)).toBeTruthy();
    fireEvent.change(amount, { target: { value: "100" } });
    submit(); // refused, then changed: a new attempt
    await waitFor(() => expect(posts(calls)).toHaveLength(3));

    const [first, again, other] = posts(calls).map((c) => ({ key: c.headers.get("Idempotency-Key"), body: JSON.parse(c.body) }));
    expect(first!.key).toMatch(/^[A-Za-z0-9_.:-]{8,100}$/);
    expect(again!.key).toBe(first!.key);
    expect(other!.key).not.toBe(first!.key);
    expect(first!.body).toEqual({
      invoices: ["FV/1", "FV/2"],
      amount: "158.00",
      confirm_overpayment: false,
      method: "card",
      bank: null,
      return_url: `${window.location.origin}/payments/online/return?attempt=${first!.key}`,
    });
    expect(other!.body.amount).toBe("100.00");
  });

  it("takes more than is due only with the overpayment confirmed, and a bank for pay-by-link", async () => {
    const { calls } = api(() => json(payment("failed"), 201));
    renderAt("/pay?invoice=FV%2F2", "/pay", <PayPage />);
    const amount = (await screen.findByLabelText("Kwota (zł)")) as HTMLInputElement;
    expect((screen.getByRole("checkbox", { name: /FV\/1/ }) as HTMLInputElement).checked).toBe(false);
    expect(amount.value).toBe("50,00");
    fireEvent.change(amount, { target: { value: "60,50" } });
    fireEvent.click(screen.getByLabelText("Szybki przelew (pay-by-link)"));
    fireEvent.click(screen.getByRole("button", { name: /Przejdź do płatności/ }));
    expect(await screen.findByText("Wybierz bank, z którego zapłacisz.")).toBeTruthy();
    expect(screen.getByText(/Kwota jest większa niż należność/)).toBeTruthy();
    expect(posts(calls)).toHaveLength(0);

    const confirm = screen.getByRole("checkbox", { name: /nadpłata 10,50/ });
    expect(confirm.getAttribute("aria-invalid")).toBe("true");
    fireEvent.click(confirm);
    fireEvent.change(screen.getByLabelText("Bank"), { target: { value: "25" } });
    fireEvent.click(screen.getByRole("button", { name: /Przejdź do płatności/ }));
    await waitFor(() => expect(posts(calls)).toHaveLength(1));
    const body = JSON.parse(posts(calls)[0]!.body);
    expect(body).toMatchObject({ invoices: ["FV/2"], amount: "60.50", confirm_overpayment: true, method: "pay-by-link", bank: "25" });
    // No provider page for a payment that failed at once: its own page says so.
    await waitFor(() =>
      expect(screen.getByTestId("location").textContent).toBe("/payments/online/9b2c4f1e-0000-4000-8000-000000000001"),
    );
  });

  it("says when nothing is due", async () => {
    fakeFetch(() => json({ items: [], next_cursor: null, prev_cursor: null }));
    renderAt("/pay", "/pay", <PayPage />, "en");
    expect((await screen.findByTestId("nothing-due")).textContent).toMatch(/^You have no invoices to pay online\./);
  });
});
