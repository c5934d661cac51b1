import { useI18n } from "../i18n/I18nProvider";
import type { MonthlyConsumption } from "../lib/consumption";

const BAR = 28;
const GAP = 14;
const HEIGHT = 180;
const TOP = 22;
const BOTTOM = 40;
const LEFT = 8;

/** Monthly bars in SVG; named as an image listing every month (the readings table has the detail). */
export function ConsumptionChart({ months }: { months: MonthlyConsumption[] }) {
  const { t, month, number } = useI18n();
  const max = Math.max(...months.map((m) => m.value), 0.001);
  const width = LEFT * 2 + months.length * (BAR + GAP);
  const label = t("meter.chartLabel", {
    months: months.map((m) => t("meter.chartMonth", { month: month(m.month), value: number(m.value, 3) })).join("; "),
  });
  return (
    <svg
      className="chart"
      data-testid="consumption-chart"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${width} ${HEIGHT + TOP + BOTTOM}`}
      width={width}
      height={HEIGHT + TOP + BOTTOM}
      preserveAspectRatio="xMinYMin meet"
    >
      <line className="chart-axis" x1={0} x2={width} y1={TOP + HEIGHT} y2={TOP + HEIGHT} />
      {months.map((m, index) => {
        const h = Math.max((m.value / max) * HEIGHT, m.value > 0 ? 2 : 0);
        const x = LEFT + index * (BAR + GAP) + GAP / 2;
        const [year, monthNumber] = m.month.split("-");
        return (
          <g key={m.month}>
            <rect className="chart-bar" x={x} y={TOP + HEIGHT - h} width={BAR} height={h} rx={3} />
            <text className="chart-value" x={x + BAR / 2} y={TOP + HEIGHT - h - 6} textAnchor="middle">
              {number(m.value, m.value >= 100 ? 0 : 1)}
            </text>
            <text className="chart-label" x={x + BAR / 2} y={TOP + HEIGHT + 16} textAnchor="middle">
              {monthNumber}
            </text>
            {index === 0 || monthNumber === "01" ? (
              <text className="chart-label" x={x + BAR / 2} y={TOP + HEIGHT + 32} textAnchor="middle">
                {year}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}
