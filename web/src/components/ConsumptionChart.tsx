import { useI18n } from "../i18n/I18nProvider";
import type { Bar } from "../lib/consumption";

const HEIGHT = 180;
const TOP = 22;
const BOTTOM = 40;
const LEFT = 8;
/** Ticks under the bars at least this far apart, and the lines that name a year, month or day. */
const TICK_SPACING = 24;
const GROUP_SPACING = 90;

/** Wide bars with their values over them for a few buckets; thin ones for many (up to 400). */
function geometry(count: number): { bar: number; gap: number; values: boolean } {
  if (count <= 24) return { bar: 28, gap: 14, values: true };
  if (count <= 48) return { bar: 20, gap: 8, values: true };
  if (count <= 120) return { bar: 10, gap: 4, values: false };
  return { bar: 5, gap: 2, values: false };
}

/**
 * Bars in SVG, named as an image by `label` (the table beside it lists every bar). A bucket no
 * reading covers has no bar; an estimated one (no reading within it) is drawn as an outline.
 */
export function ConsumptionChart({ bars, label }: { bars: readonly Bar[]; label: string }) {
  const { number } = useI18n();
  const { bar, gap, values } = geometry(bars.length);
  const step = bar + gap;
  const every = Math.ceil(TICK_SPACING / step);
  const known = bars.flatMap((b) => (b.value === null ? [] : [b.value]));
  const max = Math.max(...known, 0);
  const min = Math.min(...known, 0);
  const span = max - min || 0.001;
  const zero = TOP + (max / span) * HEIGHT;
  const width = LEFT * 2 + bars.length * step;
  let lastGroup = -GROUP_SPACING;
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
      <line className="chart-axis" x1={0} x2={width} y1={zero} y2={zero} />
      {bars.map((b, index) => {
        const x = LEFT + index * step + gap / 2;
        const middle = x + bar / 2;
        const h = b.value === null ? 0 : Math.max((Math.abs(b.value) / span) * HEIGHT, b.value !== 0 ? 2 : 0);
        const y = b.value !== null && b.value < 0 ? zero : zero - h;
        const group = b.group !== null && middle - lastGroup >= GROUP_SPACING;
        if (group) lastGroup = middle;
        return (
          <g key={b.key}>
            {b.value === null ? null : (
              <rect
                className={b.estimated ? "chart-bar chart-bar-estimated" : "chart-bar"}
                x={x}
                y={y}
                width={bar}
                height={h}
                rx={bar > 8 ? 3 : 1}
              />
            )}
            {values && b.value !== null ? (
              <text className="chart-value" x={middle} y={y - 6} textAnchor="middle">
                {number(b.value, Math.abs(b.value) >= 100 ? 0 : Math.abs(b.value) >= 10 ? 1 : 2)}
              </text>
            ) : null}
            {index % every === 0 || group ? (
              <text className="chart-label" x={middle} y={TOP + HEIGHT + 16} textAnchor="middle">
                {b.tick}
              </text>
            ) : null}
            {group ? (
              <text className="chart-label" x={index === 0 ? x : middle} y={TOP + HEIGHT + 32} textAnchor={index === 0 ? "start" : "middle"}>
                {b.group}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}
