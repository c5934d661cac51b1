import type { Reading } from "../api/types";

export interface MonthlyConsumption {
  /** "2026-03" */
  month: string;
  /** cubic metres */
  value: number;
}

function monthKey(iso: string, timeZone?: string): string {
  // en-CA writes "2026-03"-like parts in a stable order.
  const parts = new Intl.DateTimeFormat("en-CA", {
    year: "numeric",
    month: "2-digit",
    ...(timeZone ? { timeZone } : {}),
  }).formatToParts(new Date(iso));
  const year = parts.find((part) => part.type === "year")?.value ?? "1970";
  const month = parts.find((part) => part.type === "month")?.value ?? "01";
  return `${year}-${month}`;
}

function nextMonth(key: string): string {
  const [year, month] = key.split("-").map(Number);
  const y = year ?? 1970;
  const m = month ?? 1;
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
}

/**
 * Consumption per calendar month: each reading's consumption (since the reading before it)
 * counts in the month it was read; months between the first and the last without a reading
 * show 0. Readings may come in any order (the API sends the newest first).
 */
export function monthlyConsumption(readings: readonly Reading[], timeZone?: string): MonthlyConsumption[] {
  const sums = new Map<string, number>();
  for (const reading of readings) {
    if (reading.consumption === null || reading.consumption === undefined) continue;
    const key = monthKey(reading.read_at, timeZone);
    sums.set(key, (sums.get(key) ?? 0) + Number(reading.consumption));
  }
  if (!sums.size) return [];
  const keys = [...sums.keys()].sort();
  const first = keys[0] ?? "";
  const last = keys[keys.length - 1] ?? first;
  const months: MonthlyConsumption[] = [];
  for (let key = first; key <= last; key = nextMonth(key)) {
    months.push({ month: key, value: Math.round((sums.get(key) ?? 0) * 1000) / 1000 });
  }
  return months;
}
