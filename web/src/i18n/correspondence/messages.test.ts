import { describe, expect, it } from "vitest";

import { LANGUAGES } from "../messages";
import { pl as main } from "../pl";
import { CORRESPONDENCE } from "./index";
import { pl } from "./pl";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("correspondence translations", () => {
  const keys = Object.keys(pl);

  it.each(LANGUAGES)("%s has every key of pl, none empty, the same {placeholders}", (language) => {
    const messages: Record<string, string> = { ...CORRESPONDENCE[language] };
    expect(Object.keys(messages).sort()).toEqual([...keys].sort());
    for (const [key, text] of Object.entries(pl)) {
      expect(messages[key]?.trim(), `${language}: ${key}`).toBeTruthy();
      expect(placeholders(messages[key] ?? ""), `${language}: ${key}`).toEqual(placeholders(text));
    }
  });

  it("shares no key with the app's messages (one text per key)", () => {
    expect(keys.filter((key) => key in main)).toEqual([]);
  });
});
