import type { ConsumptionPoint, Granularity } from "../api/types";
import type { Formatters } from "../i18n/format";

/** Coarsest first: the order of the choice on the meter page. */
export const GRANULARITIES: readonly Granularity[] = ["month", "day", "hour"];

export function isGranularity(value: string | null): value is Granularity {
  return (GRANULARITIES as readonly (string | null)[]).includes(value);
}

/** A calendar day ("2026-11-26") moved by `days`. */
export function addDays(day: string, days: number): string {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + days)).toISOString().slice(0, 10);
}

/** Today in the browser's calendar ("2026-11-26"). */
export function localToday(now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** What the chart shows until the person picks other days: the last 12 months, the last 31 days
 * or the last two days, up to `today` — each well within the API's 400 buckets. */
export function defaultRange(granularity: Granularity, today: string): { from: string; to: string } {
  if (granularity === "month") {
    const [y, m] = today.split("-").map(Number);
    const index = (y ?? 1970) * 12 + (m ?? 1) - 1 - 11;
    const from = `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, "0")}-01`;
    return { from, to: today };
  }
  return { from: addDays(today, granularity === "day" ? -30 : -1), to: today };
}

export interface Bar {
  /** the bucket's start, as the API gives it */
  key: string;
  /** the whole bucket in words: "mar 2026", "26 lis 2026", "26 lis 2026, 02:00" */
  label: string;
  /** under the bar: the month's, day's or hour's number */
  tick: string;
  /** under the tick where a new year, month or day begins (and at the first bar) */
  group: string | null;
  /** cubic metres; null where no reading covers the bucket */
  value: number | null;
  estimated: boolean;
}

/**
 * The points of a series as bars, labelled from the wall clock of each bucket's start (the API
 * writes it in the utility's time zone, so "2026-03-01T00:00:00+01:00" is 1 March there, whatever
 * the browser's zone). The hour the clocks go back comes twice: both carry their UTC offset.
 */
export function consumptionBars(
  points: readonly ConsumptionPoint[],
  granularity: Granularity,
  { date, month }: Pick<Formatters, "date" | "month">,
): Bar[] {
  const wallClocks = points.map((point) => point.start.slice(0, 16));
  return points.map((point, index) => {
    const day = point.start.slice(0, 10);
    const [, monthNumber = "", dayNumber = ""] = day.split("-");
    const hour = point.start.slice(11, 16);
    let label: string;
    let tick: string;
    let group: string | null;
    if (granularity === "month") {
      label = month(day.slice(0, 7));
      tick = monthNumber;
      group = index === 0 || monthNumber === "01" ? day.slice(0, 4) : null;
    } else if (granularity === "day") {
      label = date(day);
      tick = String(Number(dayNumber));
      group = index === 0 || dayNumber === "01" ? month(day.slice(0, 7)) : null;
    } else {
      const twice = wallClocks.indexOf(wallClocks[index] ?? "") !== wallClocks.lastIndexOf(wallClocks[index] ?? "");
      const offset = point.start.slice(19);
      label = `${date(day)}, ${hour}${twice ? ` (UTC${offset === "Z" ? "" : offset})` : ""}`;
      tick = hour.slice(0, 2);
      group = index === 0 || hour === "00:00" ? date(day) : null;
    }
    return {
      key: point.start,
      label,
      tick,
      group,
      value: point.consumption === null ? null : Number(point.consumption),
      estimated: point.estimated,
    };
  });
}
