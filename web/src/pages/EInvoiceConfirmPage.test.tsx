import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { daysText, linkRefusal } from "../lib/eInvoice";
import { fakeFetch, json, renderAt } from "../test/helpers";
import EInvoiceConfirmPage from "./EInvoiceConfirmPage";

const TOKEN = "Zm9vYmFyYmF6cXV4LXRva2VuLXRoYXQtaXMtbG9uZw";

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("e-invoice confirmation", () => {
  it("posts the token of the fragment once, takes it out of the address and says where e-invoices go", async () => {
    const { calls } = fakeFetch(() => json({ state: "on", address: "anna@example.com", purpose: "activate" }));
    renderAt(`/e-invoice/confirm#token=${TOKEN}-a`, "/e-invoice/confirm", <EInvoiceConfirmPage />, "en");
    expect(await screen.findByText("E-invoices are on.")).toBeTruthy();
    expect(screen.getByText("E-invoices will be sent to anna@example.com.")).toBeTruthy();
    const posts = calls.filter((c) => c.path === "/api/v1/e-invoice/confirmations");
    expect(posts).toHaveLength(1);
    expect(JSON.parse(posts[0]?.body ?? "{}")).toEqual({ token: `${TOKEN}-a` });
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/e-invoice/confirm"));
    // Not signed in: the way on is to sign in.
    expect(screen.getByRole("link", { name: "Sign in to e-BOK" }).getAttribute("href")).toBe("/login");
  });

  it("says a changed address is in force", async () => {
    fakeFetch(() => json({ state: "on", address: "nowy@example.com", purpose: "change-address" }));
    renderAt(`/e-invoice/confirm#token=${TOKEN}-b`, "/e-invoice/confirm", <EInvoiceConfirmPage />);
    expect(await screen.findByText("Adres e-faktury został zmieniony.")).toBeTruthy();
    expect(screen.getByText("E-faktury będą wysyłane na adres nowy@example.com.")).toBeTruthy();
  });

  it.each([
    [410, "used", "Це посилання вже використано"],
    [410, "expired", "Це посилання більше не діє"],
    [410, "superseded", "Це посилання більше не діє"],
    [410, "cancelled", "Це посилання більше не діє"],
    [400, "invalid", "Ми не розпізнаємо це посилання"],
  ])("explains a refused link (%i %s) and what to do", async (status, code, title) => {
    fakeFetch(() => json({ type: `https://e-bok.example/problems/${code}`, title: "Refused", status }, status));
    renderAt(`/e-invoice/confirm#token=${TOKEN}-${code}`, "/e-invoice/confirm", <EInvoiceConfirmPage />, "uk");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain(title);
    expect(alert.textContent).toMatch(/e-BOK/);
    expect(screen.queryByRole("button", { name: "Спробувати ще раз" })).toBeNull();
  });

  it("offers to try again when the service did not answer, posting again", async () => {
    let answers = 0;
    const { calls } = fakeFetch(() => {
      answers += 1;
      if (answers === 1) return json({ type: "https://e-bok.example/problems/service-unavailable", title: "Unavailable", status: 503 }, 503);
      return json({ state: "on", address: "anna@example.com", purpose: "activate" });
    });
    const user = userEvent.setup();
    renderAt(`/e-invoice/confirm#token=${TOKEN}-c`, "/e-invoice/confirm", <EInvoiceConfirmPage />, "en");
    await user.click(await screen.findByRole("button", { name: "Try again" }));
    expect(await screen.findByText("E-invoices are on.")).toBeTruthy();
    expect(calls.filter((c) => c.path === "/api/v1/e-invoice/confirmations")).toHaveLength(2);
  });

  it("says so when the address has no token, posting nothing", async () => {
    const { calls } = fakeFetch(() => json({}));
    renderAt("/e-invoice/confirm", "/e-invoice/confirm", <EInvoiceConfirmPage />, "ru");
    expect(await screen.findByText(/Этот адрес не содержит ссылки для подтверждения/)).toBeTruthy();
    expect(calls).toHaveLength(0);
  });
});

describe("e-invoice helpers", () => {
  it("reads a refusal by its code, else by its status", () => {
    const failure = (status: number, code?: string) => ({
      status,
      problem: code ? { type: `https://e-bok.example/problems/${code}`, title: "x", status, detail: null, instance: null, errors: null } : null,
      retryAfter: null,
    });
    expect(linkRefusal(failure(410, "used"))).toBe("used");
    expect(linkRefusal(failure(410, "superseded"))).toBe("expired");
    expect(linkRefusal(failure(400, "invalid"))).toBe("unknown");
    expect(linkRefusal(failure(410))).toBe("expired");
    expect(linkRefusal(failure(404))).toBe("unknown");
    expect(linkRefusal(failure(503))).toBeNull();
    expect(linkRefusal(failure(0))).toBeNull();
  });

  it("writes days with each language's plural", () => {
    expect(daysText("pl", 1)).toBe("1 dzień");
    expect(daysText("pl", 3)).toBe("3 dni");
    expect(daysText("en", 3)).toBe("3 days");
    expect(daysText("uk", 3)).toBe("3 дні");
    expect(daysText("ru", 5)).toBe("5 дней");
  });
});
