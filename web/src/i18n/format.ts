import type { Language } from "../api/types";

export const LOCALES: Record<Language, string> = {
  pl: "pl-PL",
  en: "en-GB",
  uk: "uk-UA",
  ru: "ru-RU",
};

export interface Formatters {
  /** "335.92" → "335,92 zł" (pl), "PLN 335.92" (en) … */
  money(amount: string | number): string;
  /** "2026-10-31" (a calendar day) → "31 paź 2026" … */
  date(day: string): string;
  /** an ISO date-time → date and time in the browser's (or the given) time zone */
  dateTime(iso: string): string;
  /** "2026-03" → "mar 2026" */
  month(yearMonth: string): string;
  number(value: string | number, fractionDigits?: number): string;
  /** cubic metres with three decimals */
  cubicMetres(value: string | number): string;
  /** a VAT rate as the API gives it ("8", "23") → "8%"; anything else ("zw") as it is */
  rate(value: string): string;
  /** 90 → "2 minuty", 30 → "30 sekund" */
  duration(seconds: number): string;
}

function calendarDay(day: string): Date {
  const [y, m, d] = day.slice(0, 10).split("-").map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1));
}

export function makeFormatters(language: Language, timeZone?: string): Formatters {
  const locale = LOCALES[language];
  const money = new Intl.NumberFormat(locale, { style: "currency", currency: "PLN" });
  const day = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone: "UTC" });
  const dateTime = new Intl.DateTimeFormat(locale, {
    dateStyle: "medium",
    timeStyle: "short",
    ...(timeZone ? { timeZone } : {}),
  });
  const month = new Intl.DateTimeFormat(locale, { month: "short", year: "numeric", timeZone: "UTC" });
  const numbers = new Map<number, Intl.NumberFormat>();
  const number = (value: string | number, fractionDigits?: number): string => {
    const digits = fractionDigits ?? -1;
    let format = numbers.get(digits);
    if (!format) {
      format = new Intl.NumberFormat(
        locale,
        fractionDigits === undefined
          ? {}
          : { minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits },
      );
      numbers.set(digits, format);
    }
    return format.format(Number(value));
  };
  const unit = (name: "second" | "minute" | "hour", value: number): string =>
    new Intl.NumberFormat(locale, { style: "unit", unit: name, unitDisplay: "long" }).format(value);
  return {
    money: (amount) => money.format(Number(amount)),
    date: (value) => day.format(calendarDay(value)),
    dateTime: (iso) => dateTime.format(new Date(iso)),
    month: (yearMonth) => month.format(calendarDay(`${yearMonth}-01`)),
    number,
    cubicMetres: (value) => number(value, 3),
    rate: (value) =>
      /^\d+(\.\d+)?$/.test(value)
        ? new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 2 }).format(Number(value) / 100)
        : value,
    duration: (seconds) => {
      if (seconds < 60) return unit("second", Math.max(1, Math.ceil(seconds)));
      if (seconds < 3600) return unit("minute", Math.ceil(seconds / 60));
      return unit("hour", Math.ceil(seconds / 3600));
    },
  };
}

/** What a person types as a decimal ("1 234,5") → what the API reads ("1234.5"). */
export function normalizeDecimal(input: string): string {
  return input.replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
}
