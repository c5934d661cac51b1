import { describe, expect, it } from "vitest";

import type { Language } from "../api/types";
import { makeFormatters } from "./format";
import { translator } from "./messages";
import { describeFieldError } from "./problems";

const tools = (language: Language) => ({ t: translator(language), ...makeFormatters(language, "Europe/Warsaw") });
const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, " ");

describe("field errors in the reader's language", () => {
  it("words a refused reading by its code, with its values formatted for the locale", () => {
    const error = {
      field: "value",
      code: "reading_below_last",
      message: "15.000 is below the last reading of this meter (15.250 m³ on 2026-11-24)",
      params: { value: "15.000", last_value: "15.250", last_read_at: "2026-11-24T07:00:00+00:00" },
    };
    expect(plain(describeFieldError(tools("pl"), error))).toBe(
      "Stan 15,000 m³ jest niższy niż ostatni odczyt tego licznika (15,250 m³ z 24 lis 2026, 08:00).",
    );
    expect(plain(describeFieldError(tools("en"), error))).toBe(
      "15.000 m³ is below the last reading of this meter (15.250 m³ on 24 Nov 2026, 08:00).",
    );
  });

  it("words each refusal code and each password problem", () => {
    const pl = tools("pl");
    const word = (code: string, params?: Record<string, string>) =>
      plain(describeFieldError(pl, { field: "x", code, message: "English", params: params ?? null }));
    expect(word("reading_in_future")).toBe(pl.t("reading.future"));
    expect(word("meter_removed", { removed_on: "2026-01-31" })).toContain("31 sty 2026");
    expect(word("reading_before_installation", { installed_on: "2024-01-10" })).toContain("10 sty 2024");
    expect(word("reading_not_after_last", { last_read_at: "2026-11-24T07:00:00Z" })).toContain("24 lis 2026, 08:00");
    expect(word("password_too_short")).toBe(pl.t("passwordRule.tooShort"));
    expect(word("password_needs_letters_and_digits")).toBe(pl.t("passwordRule.lettersDigits"));
    expect(word("password_contains_login")).toBe(pl.t("passwordRule.containsLogin"));
    expect(word("password_same_as_current")).toBe(pl.t("passwordRule.sameAsCurrent"));
  });

  it("words a common password in each language, not with the API's English message", () => {
    const error = { field: "new_password", code: "password_too_common", message: "is too common or easy to guess", params: null };
    const texts = (["pl", "en", "uk", "ru"] as const).map((language) => describeFieldError(tools(language), error));
    expect(texts[0]).toBe("To hasło jest zbyt popularne lub łatwe do odgadnięcia. Wybierz inne, np. kilka niezwiązanych ze sobą słów i cyfrę.");
    expect(texts[1]).toBe(tools("en").t("passwordRule.tooCommon"));
    expect(new Set(texts).size).toBe(4);
    expect(texts).not.toContain(error.message);
  });

  it("shows the API's own message for a code it does not know", () => {
    for (const code of ["something_new", "constructor", "toString"]) {
      expect(describeFieldError(tools("uk"), { field: "x", code, message: "as the API wrote it", params: null })).toBe(
        "as the API wrote it",
      );
    }
  });
});

describe("problems in the reader's language", () => {
  it("says how long to wait when the server is busy", async () => {
    const { describeFailure } = await import("./problems");
    const busy = {
      status: 503,
      retryAfter: 5,
      problem: { type: "https://e-bok.example/problems/busy", title: "Busy", status: 503, detail: "Too many", instance: null, errors: null },
    };
    expect(plain(describeFailure(tools("pl"), busy))).toBe("Serwer jest teraz zajęty. Spróbuj ponownie za 5 sekund.");
  });
});
