import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { fakeFetch, json, renderAt } from "../test/helpers";
import DashboardPage from "./DashboardPage";

const invoice = {
  invoice_number: "FV/2026/10/1001",
  contract_number: "U/C-1001",
  issued_on: "2026-11-01",
  due_on: "2026-11-15",
  period_from: "2026-10-01",
  period_to: "2026-10-31",
  net: "311.04",
  vat: "24.88",
  gross: "335.92",
  paid: "0.00",
  amount_due: "335.92",
  status: "overdue",
};
const balance = {
  balance: "-335.92",
  amount_due: "335.92",
  overdue_amount: "335.92",
  overpaid: "0.00",
  charges: "335.92",
  credits: "0.00",
  open_invoices: 1,
  as_of: "2026-11-25",
  currency: "PLN",
};

describe("dashboard", () => {
  it("shows what it has and says which part is temporarily unavailable", async () => {
    fakeFetch(() =>
      json({
        balance: { available: true, data: balance },
        latest_invoices: { available: true, data: [invoice] },
        meters: { available: false, error: "metering did not answer" },
        contracts: { available: true, data: [] },
      }),
    );
    renderAt("/", "/", <DashboardPage />);
    expect((await screen.findByTestId("balance-amount-due")).textContent?.replace(/\s/g, " ")).toBe("335,92 zł");
    expect(screen.getAllByTestId("invoice-row")).toHaveLength(1);
    expect(screen.getByRole("link", { name: "FV/2026/10/1001" }).getAttribute("href")).toBe("/invoices/FV%2F2026%2F10%2F1001");
    expect(screen.getAllByText(/Ta część jest chwilowo niedostępna/)).toHaveLength(1);
    expect(screen.queryAllByTestId("meter-card")).toHaveLength(0);
  });

  it("shows progress, then a failure with a way to try again", async () => {
    fakeFetch(() => json({ type: "https://e-bok.example/problems/service-unavailable", title: "Service unavailable", status: 503 }, 503));
    renderAt("/", "/", <DashboardPage />, "en");
    expect(screen.getByTestId("page-status").getAttribute("role")).toBe("status");
    expect(await screen.findByText("The service is temporarily unavailable. Try again in a few minutes.")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
  });
});
