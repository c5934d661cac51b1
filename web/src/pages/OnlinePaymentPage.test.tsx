import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { POLL_DELAYS } from "../lib/payments";
import { fakeFetch, json, renderAt } from "../test/helpers";
import OnlinePaymentPage from "./OnlinePaymentPage";

const ID = "9b2c4f1e-0000-4000-8000-000000000001";

function payment(status: string) {
  return {
    payment_id: ID,
    customer_id: "C-1",
    status,
    amount: "300.00",
    currency: "PLN",
    method: "blik",
    bank: null,
    invoices: [{ invoice_number: "FV/3", amount: "300.00" }],
    provider: "p24",
    redirect_url: "https://sandbox.przelewy24.pl/trnRequest/T",
    return_url: "http://localhost:3000/payments/online/return?attempt=x",
    failure_reason: null,
    created_at: "2026-11-26T08:00:00Z",
    settled_at: status === "paid" ? "2026-11-26T08:00:05Z" : null,
  };
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

const page = () => renderAt(`/payments/online/${ID}`, "/payments/online/:paymentId", <OnlinePaymentPage />, "en");

describe("online payment page", () => {
  it("follows a pending payment until it is paid", async () => {
    let checks = 0;
    const { calls } = fakeFetch(() => {
      checks += 1;
      return json(payment(checks < 3 ? "pending" : "paid"));
    });
    vi.useFakeTimers();
    page();
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(screen.getByTestId("payment-status").getAttribute("data-status")).toBe("pending");
    expect(screen.getByRole("progressbar")).toBeTruthy();
    await act(() => vi.advanceTimersByTimeAsync(2_000));
    expect(screen.getByTestId("payment-status").getAttribute("data-status")).toBe("paid");
    expect(screen.getByText("Payment received — thank you")).toBeTruthy();
    expect(screen.queryByRole("progressbar")).toBeNull();
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(calls).toHaveLength(3); // no check after the final status
  });

  it("stops checking after its bound and says the confirmation is late; check again restarts", async () => {
    const { calls } = fakeFetch(() => json(payment("pending")));
    vi.useFakeTimers();
    page();
    const total = POLL_DELAYS.reduce((sum, delay) => sum + delay, 0);
    await act(() => vi.advanceTimersByTimeAsync(total * 1000 + 100));
    expect(calls).toHaveLength(POLL_DELAYS.length + 1);
    expect(screen.getByText(/There is no confirmation from the payment operator yet/)).toBeTruthy();
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(calls).toHaveLength(POLL_DELAYS.length + 1);
    vi.useRealTimers();
    fireEvent.click(screen.getByRole("button", { name: "Check again" }));
    await waitFor(() => expect(calls).toHaveLength(POLL_DELAYS.length + 2));
  });

  it("cancels a pending payment", async () => {
    const { calls } = fakeFetch((call) =>
      json(payment(call.method === "POST" || calls.some((c) => c.method === "POST") ? "cancelled" : "pending")),
    );
    page();
    fireEvent.click(await screen.findByRole("button", { name: "Cancel the payment" }));
    await waitFor(() => expect(screen.getByTestId("payment-status").getAttribute("data-status")).toBe("cancelled"));
    expect(calls.find((c) => c.method === "POST")?.path).toBe(`/api/v1/payments/${ID}/cancel`);
    expect(screen.getByRole("link", { name: "Pay again" }).getAttribute("href")).toBe("/pay?invoice=FV%2F3");
  });
});
