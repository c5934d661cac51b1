/** The filters above a list (invoices, cases): a choice among values, a day, and the buttons
 * that apply or clear them. The form and its state stay with the page. */
import type { ReactNode } from "react";

import { useI18n } from "../i18n/I18nProvider";

export function SelectFilter({
  id,
  label,
  value,
  onChange,
  allLabel,
  options,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** The first choice, "" (no filter). */
  allLabel: string;
  options: readonly { value: string; label: string }[];
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        <option value="">{allLabel}</option>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function DateFilter({ id, label, value, onChange }: { id: string; label: string; value: string; onChange: (value: string) => void }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} type="date" value={value} onChange={(event) => onChange(event.target.value)} />
    </div>
  );
}

/** Apply, and (while a filter is on) clear. */
export function FilterActions({ filtered, onClear }: { filtered: boolean; onClear: () => void }): ReactNode {
  const { t } = useI18n();
  return (
    <div className="filter-actions">
      <button type="submit" className="button">
        {t("invoices.apply")}
      </button>
      {filtered ? (
        <button type="button" className="button button-secondary" onClick={onClear}>
          {t("invoices.clear")}
        </button>
      ) : null}
    </div>
  );
}
