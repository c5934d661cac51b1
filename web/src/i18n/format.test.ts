import { describe, expect, it } from "vitest";

import { makeFormatters, normalizeDecimal } from "./format";

// Intl puts (narrow) no-break spaces in numbers and currencies: compare with plain spaces.
const plain = (text: string) => text.replace(/[\u00a0\u202f]/g, " ");

describe("formatters per language", () => {
  it("formats money in PLN", () => {
    expect(plain(makeFormatters("pl").money("1234.5"))).toBe("1234,50 zł");
    expect(plain(makeFormatters("pl").money("12345.5"))).toBe("12 345,50 zł");
    expect(plain(makeFormatters("en").money("1234.5"))).toBe("PLN 1,234.50");
    expect(plain(makeFormatters("uk").money("1234.5"))).toBe("1 234,50 PLN");
    expect(plain(makeFormatters("ru").money("1234.5"))).toBe("1 234,50 PLN");
  });

  it("formats calendar days without shifting them across time zones", () => {
    expect(plain(makeFormatters("pl").date("2026-10-31"))).toBe("31 paź 2026");
    expect(plain(makeFormatters("en").date("2026-10-31"))).toBe("31 Oct 2026");
    expect(plain(makeFormatters("uk").date("2026-10-31"))).toBe("31 жовт. 2026 р.");
    expect(plain(makeFormatters("ru").date("2026-10-31"))).toBe("31 окт. 2026 г.");
  });

  it("formats a moment in the given time zone", () => {
    expect(plain(makeFormatters("pl", "Europe/Warsaw").dateTime("2026-11-24T05:00:00Z"))).toBe("24 lis 2026, 06:00");
    expect(plain(makeFormatters("en", "Europe/Warsaw").dateTime("2026-11-24T05:00:00Z"))).toBe("24 Nov 2026, 06:00");
  });

  it("formats numbers and cubic metres", () => {
    expect(plain(makeFormatters("pl").cubicMetres("218.46"))).toBe("218,460");
    expect(plain(makeFormatters("en").cubicMetres("1218.46"))).toBe("1,218.460");
    expect(plain(makeFormatters("ru").number(12345))).toBe("12 345");
    expect(plain(makeFormatters("uk").number("0.5", 1))).toBe("0,5");
  });

  it("formats VAT rates", () => {
    expect(plain(makeFormatters("pl").rate("8"))).toBe("8%");
    expect(plain(makeFormatters("ru").rate("23"))).toBe("23 %");
    expect(makeFormatters("en").rate("zw")).toBe("zw");
  });

  it("says how long to wait in words of the language", () => {
    expect(makeFormatters("pl").duration(300)).toBe("5 minut");
    expect(makeFormatters("en").duration(30)).toBe("30 seconds");
    expect(makeFormatters("uk").duration(120)).toBe("2 хвилини");
    expect(makeFormatters("ru").duration(3600)).toBe("1 час");
  });

  it("reads decimals typed with a comma or spaces", () => {
    expect(normalizeDecimal("335,92")).toBe("335.92");
    expect(normalizeDecimal(" 1 234,5 ")).toBe("1234.5");
    expect(normalizeDecimal("12.345")).toBe("12.345");
  });
});
