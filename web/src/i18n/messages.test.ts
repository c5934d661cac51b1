import { describe, expect, it } from "vitest";

import { LANGUAGES, MESSAGES } from "./messages";
import { pl } from "./pl";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("translations", () => {
  const keys = Object.keys(pl);

  it.each(LANGUAGES)("%s has every key of pl, none empty, none extra", (language) => {
    const messages: Record<string, string> = { ...MESSAGES[language] };
    expect(Object.keys(messages).sort()).toEqual([...keys].sort());
    for (const key of keys) {
      expect(messages[key]?.trim(), `${language}: ${key}`).toBeTruthy();
    }
  });

  it.each(LANGUAGES)("%s uses the same {placeholders} as pl", (language) => {
    const messages: Record<string, string> = { ...MESSAGES[language] };
    for (const [key, text] of Object.entries(pl)) {
      expect(placeholders(messages[key] ?? ""), `${language}: ${key}`).toEqual(placeholders(text));
    }
  });

  it("Ukrainian and Russian are written in Cyrillic", () => {
    for (const language of ["uk", "ru"] as const) {
      expect(MESSAGES[language]["login.title"]).toMatch(/^[\u0400-\u04FF]+$/);
      expect(MESSAGES[language]["problem.invalid-credentials"]).toMatch(/[\u0400-\u04FF]/);
    }
  });
});
