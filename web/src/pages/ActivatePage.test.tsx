import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { fakeFetch, json, renderAt } from "../test/helpers";
import ActivatePage, { tokenFrom } from "./ActivatePage";

const TOKEN = "PTkHZ5ILuRlclSnQUgWI63Zpm7qpM_8gR2j5q5YGgW0";

const CAPTCHA = {
  captcha_id: "00000000-0000-4000-8000-000000000001",
  image: "data:image/png;base64,AAAA",
  audio_url: "/api/v1/captcha/00000000-0000-4000-8000-000000000001/audio",
  expires_at: "2030-01-01T00:00:00Z",
};

describe("activation", () => {
  it("reads the token from the fragment and from the query", () => {
    expect(tokenFrom(`#token=${TOKEN}`, "")).toBe(TOKEN);
    expect(tokenFrom("", `?token=${TOKEN}`)).toBe(TOKEN);
    expect(tokenFrom("", "")).toBeNull();
  });

  it.each([
    ["the fragment (#token=)", `/activate#token=${TOKEN}-a`, `${TOKEN}-a`],
    ["the query (?token=)", `/activate?token=${TOKEN}-b`, `${TOKEN}-b`],
  ])("activates with the token of %s and takes it out of the address", async (_form, path, token) => {
    const { calls } = fakeFetch(() => json({ status: "activated", message: "ok" }));
    renderAt(path, "/activate", <ActivatePage />);

    expect(await screen.findByText("Konto zostało aktywowane.")).toBeTruthy();
    expect(screen.getByText(/otrzymasz login i hasło jednorazowe/)).toBeTruthy();
    const posts = calls.filter((c) => c.path === "/api/v1/registrations/activate");
    expect(posts).toHaveLength(1);
    expect(JSON.parse(posts[0]?.body ?? "{}")).toEqual({ token });
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/activate"));
  });

  it("explains an expired link and sends a new one", async () => {
    const { calls } = fakeFetch((call) => {
      if (call.path === "/api/v1/registrations/activate") {
        return json({ type: "https://e-bok.example/problems/activation-link-expired", title: "Activation link expired", status: 410 }, 410);
      }
      if (call.path === "/api/v1/captcha") return json(CAPTCHA, 201);
      return json({ status: "accepted", message: "ok" }, 202);
    });
    const user = userEvent.setup();
    renderAt(`/activate#token=${TOKEN}-c`, "/activate", <ActivatePage />, "en");

    expect(await screen.findByText("This activation link has expired — it is valid for 48 hours.")).toBeTruthy();
    await user.type(screen.getByLabelText("Invoice number"), "FV/2026/10/1001");
    await user.type(screen.getByLabelText("Email address"), "anna@example.com");
    // The same CAPTCHA as the registration's.
    await screen.findByTestId("captcha-image");
    await user.type(screen.getByLabelText("Type the code from the picture or the recording"), "demo1");
    await user.click(screen.getByRole("button", { name: "Send a new link" }));
    expect(await screen.findByText(/a new link is on its way/)).toBeTruthy();
    const request = calls.find((c) => c.path === "/api/v1/registrations/activation-links");
    expect(JSON.parse(request?.body ?? "{}")).toEqual({
      invoice_number: "FV/2026/10/1001",
      email: "anna@example.com",
      captcha_id: CAPTCHA.captcha_id,
      captcha_answer: "demo1",
    });
  });

  it("without a token offers a new link", async () => {
    fakeFetch(() => json({}, 500));
    renderAt("/activate", "/activate", <ActivatePage />);
    expect(screen.getByText(/W adresie brakuje kodu aktywacyjnego/)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Wyślij nowy link" })).toBeTruthy();
  });
});
