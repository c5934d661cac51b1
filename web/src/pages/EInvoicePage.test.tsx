import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { EInvoice } from "../api/types";
import { fakeFetch, json, renderAt, type Call } from "../test/helpers";
import EInvoicePage from "./EInvoicePage";

const REGULATIONS = { version: "2026-11", language: "en", title: "E-invoice regulations", text: "§1 Invoices by email.\n\n§2 Withdraw any time." };

const REQUESTED = {
  action: "activation-requested",
  at: "2026-11-26T09:00:00Z",
  address: "anna@example.com",
  by: "customer",
  by_login: "anna.k",
  regulations_version: "2026-11",
  client_address: "203.0.113.7",
} as const;

function state(overrides: Partial<EInvoice> = {}): EInvoice {
  return {
    state: "off",
    address: null,
    since: null,
    pending: null,
    may_change: true,
    regulations_version: "2026-11",
    history: [],
    ...overrides,
  };
}

const PENDING = state({
  state: "pending",
  pending: { address: "anna@example.com", purpose: "activate", requested_at: "2026-11-26T09:00:00Z", expires_at: "2026-11-29T09:00:00Z" },
  history: [REQUESTED],
});
const ON = state({
  state: "on",
  address: "anna@example.com",
  since: "2026-11-26T09:05:00Z",
  history: [{ ...REQUESTED, action: "activated", at: "2026-11-26T09:05:00Z", client_address: null }, REQUESTED],
});

/** GET /e-invoice answers `first`; the changes answer what `change` says. */
function api(first: EInvoice, change: (call: Call) => Response = () => json({ title: "unexpected" }, 500)) {
  return fakeFetch((call) => {
    if (call.method === "GET" && call.path === "/api/v1/e-invoice") return json(first);
    if (call.method === "GET" && call.path === "/api/v1/e-invoice/regulations") {
      const language = new URLSearchParams(call.search).get("language");
      return json({ ...REGULATIONS, language, title: `${REGULATIONS.title} (${language})` });
    }
    return change(call);
  });
}

/** A message shown in a status region (announced). */
async function announced(text: string) {
  const shown = await screen.findByText(text);
  expect(shown.closest('[role="status"]')).toBeTruthy();
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("e-invoice page", () => {
  it("turns e-invoice on only with the regulations accepted, sending their version, then says to check the mailbox", async () => {
    const { calls } = api(state(), () => json(PENDING, 202));
    const user = userEvent.setup();
    renderAt("/e-invoice", "/e-invoice", <EInvoicePage />, "en");

    expect(await screen.findByText("off")).toBeTruthy();
    // The regulations in the page's language.
    expect(await screen.findByText("E-invoice regulations (en)")).toBeTruthy();
    expect(screen.getByRole("region", { name: "Text of the e-invoice regulations" }).textContent).toContain("§2 Withdraw any time.");
    await user.type(screen.getByLabelText("Email address for e-invoices"), "anna@example.com");
    await user.click(screen.getByRole("button", { name: "Turn e-invoices on" }));

    // Not accepted: nothing sent, the box says why and has the focus.
    const box = screen.getByRole("checkbox", { name: /I accept the e-invoice regulations \(version 2026-11\)/ });
    expect(box.getAttribute("aria-invalid")).toBe("true");
    expect(document.getElementById("accept_regulations-error")?.textContent).toBe("Accept the e-invoice regulations to turn e-invoices on.");
    expect(document.activeElement).toBe(box);
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(0);

    await user.click(box);
    await user.click(screen.getByRole("button", { name: "Turn e-invoices on" }));
    await announced("We have sent a confirmation link to anna@example.com. Click it to turn e-invoices on.");
    const post = calls.find((c) => c.method === "POST");
    expect(post?.path).toBe("/api/v1/e-invoice");
    expect(JSON.parse(post?.body ?? "{}")).toEqual({ address: "anna@example.com", regulations_version: "2026-11" });
    // Waiting for the link: where it went and until when, and a way to send it again.
    expect(screen.getByTestId("e-invoice-state").getAttribute("data-state")).toBe("pending");
    expect(screen.getByTestId("e-invoice-pending").textContent).toMatch(/sent a confirmation link to anna@example.com.*works until/);
    expect(screen.getByRole("button", { name: "Send the link again" })).toBeTruthy();
    expect(screen.getAllByRole("row")).toHaveLength(2);
    expect(screen.getByRole("rowheader").textContent).toBe("turning on requested");
    expect(screen.getByRole("row", { name: /turning on requested/ }).textContent).toContain("anna.k (customer)");
  });

  it("shows a refused address at its field and an outdated regulations version in the summary, fetching them again", async () => {
    let answers = 0;
    const { calls } = api(state(), () => {
      answers += 1;
      if (answers === 1) {
        return json(
          {
            type: "https://e-bok.example/problems/validation-failed",
            title: "Invalid input",
            status: 422,
            errors: [{ field: "address", code: "value_error", message: "value is not a valid email address" }],
          },
          422,
        );
      }
      return json({ type: "https://e-bok.example/problems/regulations-outdated", title: "Outdated", status: 422, errors: [{ field: "regulations_version", code: "regulations_outdated", message: "not the version in force" }] }, 422);
    });
    const user = userEvent.setup();
    renderAt("/e-invoice", "/e-invoice", <EInvoicePage />);
    await screen.findByText("E-invoice regulations (pl)");
    await user.type(screen.getByLabelText("Adres e-mail do e-faktur"), "anna@");
    await user.click(screen.getByRole("checkbox"));
    await user.click(screen.getByRole("button", { name: "Włącz e-fakturę" }));
    await waitFor(() => expect(screen.getByLabelText("Adres e-mail do e-faktur").getAttribute("aria-invalid")).toBe("true"));
    expect(screen.getByRole("alert").textContent).toBe("Niektóre pola są wypełnione nieprawidłowo.");

    await user.click(screen.getByRole("button", { name: "Włącz e-fakturę" }));
    expect(await screen.findByText("Regulamin e-faktury został zmieniony. Przeczytaj i zaakceptuj jego aktualną wersję.")).toBeTruthy();
    await waitFor(() => expect((screen.getByRole("checkbox") as HTMLInputElement).checked).toBe(false));
    expect(document.getElementById("accept_regulations-error")?.textContent).toBe("Przeczytaj aktualną wersję regulaminu e-faktury i zaakceptuj ją ponownie.");
    expect(calls.filter((c) => c.path === "/api/v1/e-invoice/regulations").length).toBe(2);
  });

  it("changes the address and withdraws after the second step", async () => {
    const withdrawn = state({ history: [{ ...REQUESTED, action: "withdrawn", at: "2026-11-26T10:00:00Z", address: null, regulations_version: null }, ...ON.history] });
    const { calls } = api(ON, (call) => {
      if (call.method === "PUT") {
        return json(state({ ...ON, pending: { address: "nowy@example.com", purpose: "change-address", requested_at: "2026-11-26T09:30:00Z", expires_at: "2026-11-29T09:30:00Z" } }), 202);
      }
      return json(withdrawn);
    });
    const user = userEvent.setup();
    renderAt("/e-invoice", "/e-invoice", <EInvoicePage />, "en");
    expect(await screen.findByTestId("e-invoice-address")).toHaveProperty("textContent", "anna@example.com");
    // On: no activation form, no regulations.
    expect(screen.queryByTestId("e-invoice-activate")).toBeNull();

    await user.type(screen.getByLabelText("New email address"), "nowy@example.com");
    await user.click(screen.getByRole("button", { name: "Change address" }));
    await announced("We have sent a confirmation link to nowy@example.com. The new address takes effect once the link is clicked.");
    expect(JSON.parse(calls.find((c) => c.method === "PUT")?.body ?? "{}")).toEqual({ address: "nowy@example.com" });
    expect(screen.getByTestId("e-invoice-pending").textContent).toContain("Until the link is clicked, e-invoices go to the current address.");

    await user.click(screen.getByRole("button", { name: "Turn e-invoices off" }));
    expect(calls.filter((c) => c.method === "DELETE")).toHaveLength(0);
    expect(document.activeElement?.textContent).toBe("Are you sure you want to turn e-invoices off? The next invoice will come by post.");
    await user.click(screen.getByRole("button", { name: "No, keep them on" }));
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "Turn e-invoices off" }));
    await user.click(screen.getByRole("button", { name: "Turn e-invoices off" }));
    await user.click(screen.getByRole("button", { name: "Yes, turn e-invoices off" }));
    await announced("E-invoices are off. We will send the next invoice by post.");
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual(["/api/v1/e-invoice"]);
    expect(screen.getByTestId("e-invoice-state").getAttribute("data-state")).toBe("off");
    expect(screen.getByRole("rowheader", { name: "turned off" })).toBeTruthy();
  });

  it("shows a partial manager the state and history with no forms, saying why", async () => {
    const { calls } = api({ ...ON, may_change: false });
    renderAt("/e-invoice", "/e-invoice", <EInvoicePage />);
    expect(await screen.findByTestId("e-invoice-address")).toBeTruthy();
    expect(screen.getByTestId("not-in-scope").textContent).toContain("Ta czynność dotyczy wszystkich nieruchomości klienta");
    expect(screen.queryAllByRole("textbox")).toHaveLength(0);
    expect(screen.queryAllByRole("button")).toHaveLength(0);
    expect(screen.getAllByRole("row")).toHaveLength(3);
    expect(calls.map((c) => c.path)).toEqual(["/api/v1/e-invoice"]);
  });
});
