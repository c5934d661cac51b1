import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { endSession, getAccessToken } from "../api/session";
import { fakeFetch, json, renderAt } from "../test/helpers";
import { LoginPage } from "./LoginPage";

async function signIn(password = "secret-1") {
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Login"), "a1b2c3");
  await user.type(screen.getByLabelText("Hasło"), password);
  await user.click(screen.getByRole("button", { name: "Zaloguj się" }));
}

describe("sign-in", () => {
  it("says how long to wait after too many attempts", async () => {
    endSession(null);
    fakeFetch(() =>
      json({ type: "https://e-bok.example/problems/rate-limited", title: "Too many requests", status: 429 }, 429, {
        "Retry-After": "900",
      }),
    );
    renderAt("/login", "/login", <LoginPage />);
    await signIn();
    expect((await screen.findByRole("alert")).textContent).toBe("Zbyt wiele prób w krótkim czasie. Spróbuj ponownie za 15 minut.");
  });

  it("explains an account that is not active yet", async () => {
    endSession(null);
    fakeFetch(() =>
      json({ type: "https://e-bok.example/problems/account-not-active", title: "Account not active", status: 403 }, 403),
    );
    renderAt("/login", "/login", <LoginPage />);
    await signIn();
    expect((await screen.findByRole("alert")).textContent).toMatch(/Konto nie jest jeszcze aktywne/);
  });

  it("says a new one-time password is on its way when the old one has expired", async () => {
    endSession(null);
    fakeFetch(() =>
      json({ type: "https://e-bok.example/problems/one-time-password-expired", title: "One-time password expired", status: 403 }, 403),
    );
    renderAt("/login", "/login", <LoginPage />);
    await signIn();
    expect((await screen.findByRole("alert")).textContent).toBe(
      "Hasło jednorazowe wygasło. Nowe wysłaliśmy na adres e-mail konta — zaloguj się nim.",
    );
  });

  it("signs in and goes to the forced password change after a one-time password", async () => {
    endSession(null);
    const { calls } = fakeFetch(() =>
      json({ access_token: "access-1", token_type: "Bearer", expires_in: 900, must_change_password: true }),
    );
    renderAt("/login", "/login", <LoginPage />);
    await signIn();
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/password"));
    expect(getAccessToken()).toBe("access-1");
    expect(calls[0]?.headers.get("X-Ebok-Session")).toBe("cookie");
    expect(localStorage.length + sessionStorage.length).toBe(0);
  });
});
