import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { Consumption as Series, ConsumptionPoint } from "../api/types";
import { Consumption } from "../components/Consumption";
import { ConsumptionChart } from "../components/ConsumptionChart";
import { makeFormatters } from "../i18n/format";
import { I18nProvider } from "../i18n/I18nProvider";
import { fakeFetch, json, renderAt } from "../test/helpers";
import { addDays, consumptionBars, defaultRange, localToday } from "./consumption";

const point = (start: string, consumption: string | null, estimated = false): ConsumptionPoint => ({
  start,
  consumption,
  estimated,
});
const pl = makeFormatters("pl");
const plain = (text: string | null | undefined) => (text ?? "").replace(/[\u00a0\u202f]/g, " ");

describe("the days a chart shows unless the person picks others", () => {
  it("is the last twelve months, 31 days or two days up to today", () => {
    expect(defaultRange("month", "2026-11-26")).toEqual({ from: "2025-12-01", to: "2026-11-26" });
    expect(defaultRange("month", "2026-12-31")).toEqual({ from: "2026-01-01", to: "2026-12-31" });
    expect(defaultRange("day", "2026-03-01")).toEqual({ from: "2026-01-30", to: "2026-03-01" });
    expect(defaultRange("hour", "2026-01-01")).toEqual({ from: "2025-12-31", to: "2026-01-01" });
    expect(addDays("2024-02-28", 1)).toBe("2024-02-29");
    expect(localToday(new Date(2026, 0, 5, 23, 59))).toBe("2026-01-05");
  });
});

describe("bars of a series", () => {
  it("names months by the utility's calendar, whatever the browser's time zone", () => {
    const bars = consumptionBars(
      [
        point("2025-12-01T00:00:00+01:00", "3.500"),
        point("2026-01-01T00:00:00+01:00", null),
        point("2026-02-01T00:00:00+01:00", "1.250", true),
      ],
      "month",
      pl,
    );
    expect(bars.map((b) => [b.tick, b.group, b.value, b.estimated])).toEqual([
      ["12", "2025", 3.5, false],
      ["01", "2026", null, false],
      ["02", null, 1.25, true],
    ]);
    expect(bars.map((b) => plain(b.label))).toEqual(["gru 2025", "sty 2026", "lut 2026"]);
  });

  it("names days, and a new month under its first day", () => {
    const bars = consumptionBars(
      [point("2026-01-31T00:00:00+01:00", "1.000"), point("2026-02-01T00:00:00+01:00", "2.000")],
      "day",
      pl,
    );
    expect(bars.map((b) => [plain(b.label), b.tick, plain(b.group)])).toEqual([
      ["31 sty 2026", "31", "sty 2026"],
      ["1 lut 2026", "1", "lut 2026"],
    ]);
  });

  it("tells apart the two hours at 02:00 when the clocks go back", () => {
    const bars = consumptionBars(
      [
        point("2025-10-26T01:00:00+02:00", "0.100"),
        point("2025-10-26T02:00:00+02:00", "0.100"),
        point("2025-10-26T02:00:00+01:00", "0.100"),
        point("2025-10-26T03:00:00+01:00", "0.100"),
      ],
      "hour",
      pl,
    );
    expect(bars.map((b) => plain(b.label))).toEqual([
      "26 paź 2025, 01:00",
      "26 paź 2025, 02:00 (UTC+02:00)",
      "26 paź 2025, 02:00 (UTC+01:00)",
      "26 paź 2025, 03:00",
    ]);
    expect(bars.map((b) => b.tick)).toEqual(["01", "02", "02", "03"]);
    expect(new Set(bars.map((b) => b.key)).size).toBe(4);
  });
});

describe("the chart", () => {
  it("draws a bar for each bucket with consumption, an outline for an estimate, named as an image", () => {
    const bars = consumptionBars(
      [
        point("2026-01-01T00:00:00+01:00", "4.000"),
        point("2026-01-02T00:00:00+01:00", null),
        point("2026-01-03T00:00:00+01:00", "2.000", true),
      ],
      "day",
      pl,
    );
    const { getByTestId } = render(
      <I18nProvider initial="en">
        <ConsumptionChart bars={bars} label="Three days" />
      </I18nProvider>,
    );
    const chart = getByTestId("consumption-chart");
    expect(chart.getAttribute("role")).toBe("img");
    expect(chart.getAttribute("aria-label")).toBe("Three days");
    expect(chart.querySelectorAll("rect.chart-bar")).toHaveLength(2);
    expect(chart.querySelectorAll("rect.chart-bar-estimated")).toHaveLength(1);
  });

  it("stays one bar per bucket, thinner, for 400 of them", () => {
    const points = Array.from({ length: 400 }, (_, n) =>
      point(`${addDays("2025-01-01", n)}T00:00:00+01:00`, (n / 100).toFixed(3)),
    );
    const { getByTestId } = render(
      <I18nProvider initial="pl">
        <ConsumptionChart bars={consumptionBars(points, "day", pl)} label="400 dni" />
      </I18nProvider>,
    );
    const chart = getByTestId("consumption-chart");
    const rects = chart.querySelectorAll("rect.chart-bar");
    expect(rects).toHaveLength(400);
    expect(rects[0]?.getAttribute("height")).toBe("0"); // 0.000 m³: a bar of no height
    expect(Number(chart.getAttribute("width"))).toBeLessThan(400 * 8);
  });
});

const series = (overrides: Partial<Series> = {}): Series => ({
  meter_number: "M-1",
  granularity: "month",
  time_zone: "Europe/Warsaw",
  first_day: "2025-12-01",
  last_day: "2026-02-10",
  total: "7.750",
  points: [
    point("2025-12-01T00:00:00+01:00", "3.500"),
    point("2026-01-01T00:00:00+01:00", "3.000", true),
    point("2026-02-01T00:00:00+01:00", "1.250"),
  ],
  ...overrides,
});

describe("the consumption on the meter page", () => {
  it("asks the API for the last twelve months, shows the chart, the total and every figure in a table", async () => {
    const { calls } = fakeFetch(() => json(series()));
    renderAt("/meters/M-1", "/meters/:meter", <Consumption number="M-1" refresh={0} />, "en");
    const chart = await screen.findByTestId("consumption-chart");
    const today = localToday();
    expect(calls[0]?.path).toBe("/api/v1/meters/M-1/consumption");
    expect(new URLSearchParams(calls[0]?.search).get("granularity")).toBe("month");
    expect(Object.fromEntries(new URLSearchParams(calls[0]?.search))).toMatchObject(defaultRange("month", today));
    expect(plain(chart.getAttribute("aria-label"))).toBe(
      "Bar chart: consumption by month from 1 Dec 2025 to 10 Feb 2026, 7.750 m³ in all. The table below the chart gives the value of every bar.",
    );
    expect(plain(screen.getByText(/^In all from/).textContent)).toBe("In all from 1 Dec 2025 to 10 Feb 2026: 7.750 m³.");
    expect(screen.getByText(/^Outlined bars are estimates/)).toBeTruthy();
    const rows = within(screen.getByTestId("consumption-table")).getAllByRole("row").slice(1);
    expect(rows.map((row) => plain(row.textContent))).toEqual([
      "Dec 20253.500",
      "Jan 20263.000 (estimated)",
      "Feb 20261.250",
    ]);
  });

  it("ends a removed meter's usual days on its last day", async () => {
    const { calls } = fakeFetch(() => json(series()));
    renderAt("/meters/M-1", "/meters/:meter", <Consumption number="M-1" refresh={0} lastDay="2025-06-30" />, "en");
    await screen.findByTestId("consumption-chart");
    const asked = new URLSearchParams(calls[0]?.search);
    expect([asked.get("from"), asked.get("to")]).toEqual(["2024-07-01", "2025-06-30"]);
    expect(screen.getByLabelText("To").getAttribute("max")).toBe("2025-06-30");
  });

  it("starts another granularity from its own usual days and keeps the choice in the address", async () => {
    const { calls } = fakeFetch(() => json(series()));
    renderAt("/meters/M-1", "/meters/:meter", <Consumption number="M-1" refresh={0} />, "en");
    await screen.findByTestId("consumption-chart");
    fireEvent.change(screen.getByLabelText("Show consumption"), { target: { value: "hour" } });
    const today = localToday();
    expect((screen.getByLabelText("From") as HTMLInputElement).value).toBe(addDays(today, -1));
    expect((screen.getByLabelText("To") as HTMLInputElement).value).toBe(today);
    fireEvent.click(screen.getByRole("button", { name: "Show" }));
    await screen.findByTestId("consumption-chart");
    const asked = new URLSearchParams(calls.at(-1)?.search);
    expect([asked.get("granularity"), asked.get("from"), asked.get("to")]).toEqual(["hour", addDays(today, -1), today]);
    expect(screen.getByTestId("location").textContent).toContain("granularity=hour");
  });

  it("shows a range the API refuses at the field it names, in the reader's language", async () => {
    fakeFetch(() =>
      json(
        {
          type: "https://e-bok.example/problems/validation-failed",
          title: "Validation failed",
          status: 422,
          detail: "from: 744 hours from 2025-01-01 to 2025-01-31: a series has at most 400",
          errors: [
            {
              field: "from",
              code: "range_too_long",
              message: "744 hours from 2025-01-01 to 2025-01-31: a series has at most 400",
              params: { buckets: "744", max_buckets: "400", granularity: "hour" },
            },
          ],
        },
        422,
      ),
    );
    renderAt(
      "/meters/M-1?granularity=hour&from=2025-01-01&to=2025-01-31",
      "/meters/:meter",
      <Consumption number="M-1" refresh={0} />,
    );
    const from = await screen.findByLabelText("Od dnia");
    await screen.findByText(/Za długi okres/);
    expect(from.getAttribute("aria-invalid")).toBe("true");
    const described = document.getElementById(from.getAttribute("aria-describedby") ?? "");
    expect(described?.textContent).toBe(
      "Za długi okres dla tego wyboru: wykres ma najwyżej 400 słupków. Wybierz późniejszą datę początkową, wcześniejszą końcową albo zużycie miesięczne.",
    );
    expect(screen.getByRole("alert").textContent).toBe("Niektóre pola są wypełnione nieprawidłowo.");
    expect(screen.queryByTestId("consumption-chart")).toBeNull();
  });

  it("says so when no reading covers the days, and when the meter was not the customer's then", async () => {
    fakeFetch(() => json(series({ total: null, points: [point("2025-12-01T00:00:00+01:00", null)] })));
    const first = renderAt("/meters/M-1", "/meters/:meter", <Consumption number="M-1" refresh={0} />, "en");
    expect(await screen.findByText("There are no readings from this period, so consumption cannot be shown.")).toBeTruthy();
    first.unmount();
    fakeFetch(() => json(series({ first_day: null, last_day: null, total: null, points: [] })));
    renderAt("/meters/M-1", "/meters/:meter", <Consumption number="M-1" refresh={0} />, "en");
    expect(await screen.findByText("This meter was not on your contract in this period.")).toBeTruthy();
  });
});
