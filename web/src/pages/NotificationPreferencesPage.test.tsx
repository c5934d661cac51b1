import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { fakeFetch, json, renderAt } from "../test/helpers";
import NotificationPreferencesPage from "./NotificationPreferencesPage";

const PREFERENCES = { invoice_issued: true, due_reminder: true, payment_received: true, reminder_days_before_due: 3 };

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("notification preferences", () => {
  it("shows the three switches as saved, the reminder's days, and saves what was changed", async () => {
    const { calls } = fakeFetch((call) => {
      if (call.method === "PUT") return json({ ...JSON.parse(call.body), reminder_days_before_due: 3 });
      return json(PREFERENCES);
    });
    const user = userEvent.setup();
    renderAt("/account/notifications", "/account/notifications", <NotificationPreferencesPage />);
    const reminder = await screen.findByRole("switch", { name: "z przypomnieniem o terminie płatności" });
    expect(screen.getAllByRole("switch")).toHaveLength(3);
    expect(screen.getAllByRole("switch").every((box) => (box as HTMLInputElement).checked)).toBe(true);
    expect(screen.getByText("3 dni przed terminem, jeśli faktura nie jest jeszcze opłacona.").id).toBe(reminder.getAttribute("aria-describedby"));
    expect(screen.getByTestId("notifications-always").textContent).toContain("nie można ich wyłączyć");

    await user.click(reminder);
    await user.click(screen.getByRole("switch", { name: "o nowej fakturze" }));
    await user.click(screen.getByRole("button", { name: "Zapisz ustawienia" }));
    const saved = await screen.findByText("Ustawienia powiadomień zostały zapisane.");
    expect(saved.getAttribute("role")).toBe("status");
    const put = calls.find((c) => c.method === "PUT");
    expect(put?.path).toBe("/api/v1/me/notification-preferences");
    expect(JSON.parse(put?.body ?? "{}")).toEqual({ invoice_issued: false, due_reminder: false, payment_received: true });
    // Another change takes the "saved" away until it is saved too.
    await user.click(reminder);
    expect(screen.queryByText("Ustawienia powiadomień zostały zapisane.")).toBeNull();
  });

  it("shows a refused save in the form's summary", async () => {
    fakeFetch((call) => {
      if (call.method === "PUT") return json({ type: "https://e-bok.example/problems/service-unavailable", title: "Unavailable", status: 503 }, 503);
      return json(PREFERENCES);
    });
    const user = userEvent.setup();
    renderAt("/account/notifications", "/account/notifications", <NotificationPreferencesPage />, "en");
    await user.click(await screen.findByRole("button", { name: "Save settings" }));
    expect((await screen.findByRole("alert")).textContent).toBe("The service is temporarily unavailable. Try again in a few minutes.");
  });
});
