import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { CHALLENGE, fakeFetch, json, renderAt } from "../test/helpers";
import RegisterPage from "./RegisterPage";

const terms = { version: "2026-01", language: "pl", title: "Regulamin e-BOK", text: "1. Pierwszy punkt.\n\n2. Drugi punkt.", published_at: "2026-01-01T00:00:00Z" };
const captcha = (n: number) => ({
  captcha_id: `00000000-0000-4000-8000-00000000000${n}`,
  image: "data:image/png;base64,AAAA",
  audio_url: "/api/v1/captcha/00000000-0000-4000-8000-000000000001/audio",
  expires_at: "2030-01-01T00:00:00Z",
});

async function fillAndSend() {
  const user = userEvent.setup();
  await screen.findByTestId("captcha-image");
  await screen.findByText("1. Pierwszy punkt.");
  await user.type(screen.getByLabelText("Numer faktury"), "FV/2026/10/1001");
  await user.type(screen.getByLabelText("Kwota brutto faktury (zł)"), "335,92");
  await user.type(screen.getByLabelText(/^Adres e-mail/), "anna@example");
  await user.click(screen.getByRole("checkbox"));
  await user.type(screen.getByLabelText("Przepisz kod z obrazka lub nagrania"), "demo1");
  await user.click(screen.getByRole("button", { name: "Zarejestruj się" }));
}

describe("registration", () => {
  it("asks for the regulations in the language of the page", async () => {
    const { calls } = fakeFetch((call) => {
      if (call.path === "/api/v1/terms") return json({ ...terms, language: "uk", title: "Регламент e-BOK" });
      return json(captcha(1), 201);
    });
    renderAt("/register", "/register", <RegisterPage />, "uk");
    const title = await screen.findByText("Регламент e-BOK");
    expect(title.getAttribute("lang")).toBe("uk");
    expect(calls.filter((c) => c.path === "/api/v1/terms").map((c) => c.search)).toEqual(["?language=uk"]);
  });

  it("shows each field error of the problem document at its field", async () => {
    let captchas = 0;
    const { calls } = fakeFetch((call) => {
      if (call.path === "/api/v1/terms") return json(terms);
      if (call.path === "/api/v1/captcha") return json(captcha(++captchas), 201);
      return json(
        {
          type: "https://e-bok.example/problems/validation-failed",
          title: "Validation failed",
          status: 422,
          detail: "Invalid or missing fields: email",
          errors: [{ field: "email", message: "value is not a valid email address", code: "value_error" }],
        },
        422,
      );
    });
    renderAt("/register", "/register", <RegisterPage />);
    await fillAndSend();

    const email = screen.getByLabelText(/^Adres e-mail/);
    await waitFor(() => expect(email.getAttribute("aria-invalid")).toBe("true"));
    const error = document.getElementById("email-error");
    expect(error?.textContent).toBe("Podaj prawidłowy adres e-mail, np. jan.kowalski@example.com.");
    expect(email.getAttribute("aria-describedby")).toContain("email-error");
    expect(screen.getByRole("alert").textContent).toContain("Niektóre pola są wypełnione nieprawidłowo.");
    expect(screen.getByLabelText("Numer faktury").getAttribute("aria-invalid")).toBeNull();

    const sent = JSON.parse(calls.find((c) => c.path === "/api/v1/registrations")?.body ?? "{}");
    expect(sent).toMatchObject({
      invoice_number: "FV/2026/10/1001",
      invoice_amount: "335.92",
      accept_terms: true,
      terms_version: "2026-01",
      captcha_id: captcha(1).captcha_id,
      captcha_answer: "demo1",
      language: "pl",
      phone: null,
    });
    // A validation error does not spend the CAPTCHA.
    expect(captchas).toBe(1);
    // The CAPTCHA came for a solved proof of work.
    const asked = JSON.parse(calls.find((c) => c.path === "/api/v1/captcha")?.body ?? "{}");
    expect(asked).toEqual({
      proof: {
        algorithm: "SHA-256",
        challenge: CHALLENGE.challenge,
        salt: CHALLENGE.salt,
        number: 7,
        signature: CHALLENGE.signature,
      },
    });
  });

  it("marks both invoice fields when no invoice matches, in English, and gets a new CAPTCHA", async () => {
    let captchas = 0;
    fakeFetch((call) => {
      if (call.path === "/api/v1/terms") return json(terms);
      if (call.path === "/api/v1/captcha") return json(captcha(++captchas), 201);
      return json(
        {
          type: "https://e-bok.example/problems/invoice-not-matching",
          title: "Invoice not matching",
          status: 422,
          errors: [
            { field: "invoice_number", message: "no matching invoice", code: "invoice_not_matching" },
            { field: "invoice_amount", message: "no matching invoice", code: "invoice_not_matching" },
          ],
        },
        422,
      );
    });
    const user = userEvent.setup();
    renderAt("/register", "/register", <RegisterPage />, "en");
    await screen.findByTestId("captcha-image");
    await user.type(screen.getByLabelText("Invoice number"), "FV/1");
    await user.click(screen.getByRole("button", { name: "Register" }));
    await waitFor(() => expect(document.getElementById("invoice_number-error")?.textContent).toBe("Matches no invoice — check the number and the gross amount."));
    expect(document.getElementById("invoice_amount-error")).not.toBeNull();
    expect(screen.getByRole("alert").textContent).toContain("We found no invoice with this number and gross amount.");
    await waitFor(() => expect(captchas).toBe(2));
  });

  it("goes to 'check your mailbox' when accepted", async () => {
    fakeFetch((call) => {
      if (call.path === "/api/v1/terms") return json(terms);
      if (call.path === "/api/v1/captcha") return json(captcha(1), 201);
      return json({ status: "accepted", message: "ok" }, 202);
    });
    renderAt("/register", "/register", <RegisterPage />);
    await fillAndSend();
    await waitFor(() => expect(screen.getAllByTestId("location")[0]?.textContent).toBe("/register/sent"));
  });
});
