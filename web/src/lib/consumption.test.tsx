import { render } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { Reading } from "../api/types";
import { ConsumptionChart } from "../components/ConsumptionChart";
import { I18nProvider } from "../i18n/I18nProvider";
import { monthlyConsumption } from "./consumption";

const reading = (read_at: string, value: string, consumption: string | null): Reading => ({
  read_at,
  value,
  source: "remote",
  consumption,
});

// Newest first, as the API sends them.
const readings = [
  reading("2026-04-02T05:00:00Z", "130.000", "4.000"),
  reading("2026-02-28T05:00:00Z", "126.000", "2.500"),
  reading("2026-02-01T05:00:00Z", "123.500", "1.250"),
  reading("2026-01-31T22:30:00Z", "122.250", "2.250"), // 23:30 in Warsaw: still January
  reading("2026-01-10T05:00:00Z", "120.000", null), // the first: no consumption
];

describe("monthly consumption", () => {
  it("sums consumption per month of reading, filling months without readings with 0", () => {
    expect(monthlyConsumption(readings, "Europe/Warsaw")).toEqual([
      { month: "2026-01", value: 2.25 },
      { month: "2026-02", value: 3.75 },
      { month: "2026-03", value: 0 },
      { month: "2026-04", value: 4 },
    ]);
  });

  it("counts a reading in the month of the given time zone", () => {
    expect(monthlyConsumption(readings, "Asia/Tokyo")[0]).toEqual({ month: "2026-02", value: 6 });
  });

  it("is empty without consumption", () => {
    expect(monthlyConsumption([reading("2026-01-10T05:00:00Z", "1.000", null)])).toEqual([]);
  });

  it("crosses a year", () => {
    const months = monthlyConsumption(
      [reading("2026-01-15T12:00:00Z", "3.000", "1.000"), reading("2025-11-15T12:00:00Z", "2.000", "1.000")],
      "UTC",
    ).map((m) => m.month);
    expect(months).toEqual(["2025-11", "2025-12", "2026-01"]);
  });

  it("draws one bar per month, named for screen readers", () => {
    const { getByTestId } = render(
      <I18nProvider initial="en">
        <ConsumptionChart months={monthlyConsumption(readings, "Europe/Warsaw")} />
      </I18nProvider>,
    );
    const chart = getByTestId("consumption-chart");
    expect(chart.getAttribute("role")).toBe("img");
    expect(chart.querySelectorAll("rect.chart-bar")).toHaveLength(4);
    expect(chart.getAttribute("aria-label")).toContain("Feb 2026: 3.750 m³");
  });
});
