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

  it("shows the open cases, linking to each", async () => {
    const open = {
      number: "KOR/2026/000007",
      kind: "failure",
      status: "registered",
      title: "Lipowa 7",
      service_point_id: "SP-1",
      invoice_number: null,
      submitted_by: { role: "customer", login: "jan", name: "Jan Kowalski" },
      submitted_at: "2026-11-26T08:00:00Z",
      updated_at: "2026-11-26T09:00:00Z",
    };
    fakeFetch(() =>
      json({
        balance: { available: true, data: balance },
        latest_invoices: { available: true, data: [] },
        meters: { available: true, data: [] },
        contracts: { available: true, data: [] },
        open_cases: { available: true, data: { open: 2, latest_open: [open] } },
      }),
    );
    renderAt("/", "/", <DashboardPage />, "en");
    expect((await screen.findByTestId("open-cases-count")).textContent).toBe("2");
    expect(screen.getByText("Number of open cases")).toBeTruthy();
    expect(screen.getByRole("link", { name: "KOR/2026/000007: Lipowa 7" }).getAttribute("href")).toBe("/cases/KOR%2F2026%2F000007");
    expect(screen.getByTestId("open-cases").textContent).toContain("registered");
  });

  it("shows progress, then a failure with a way to try again", async () => {
    fakeFetch(() => json({ type: "https://e-bok.example/problems/service-unavailable", title: "Service unavailable", status: 503 }, 503));
    renderAt("/", "/", <DashboardPage />, "en");
    expect(screen.getByTestId("page-status").getAttribute("role")).toBe("status");
    expect(await screen.findByText("The service is temporarily unavailable. Try again in a few minutes.")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
  });
});
