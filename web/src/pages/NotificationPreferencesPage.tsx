import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router";

import { api } from "../api/client";
import type { Failure } from "../api/problems";
import type { NotificationPreferences } from "../api/types";
import { FormAlert, Notice } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { useI18n } from "../i18n/I18nProvider";
import type { MessageKey } from "../i18n/messages";
import { describeFailure } from "../i18n/problems";
import { daysText } from "../lib/eInvoice";
import { call, useLoad } from "../lib/load";

type Choice = "invoice_issued" | "due_reminder" | "payment_received";
type Choices = Record<Choice, boolean>;

const CHOICES: [Choice, MessageKey, MessageKey][] = [
  ["invoice_issued", "notifications.invoiceIssued", "notifications.invoiceIssuedHint"],
  ["due_reminder", "notifications.dueReminder", "notifications.dueReminderHint"],
  ["payment_received", "notifications.paymentReceived", "notifications.paymentReceivedHint"],
];

function choicesOf(preferences: NotificationPreferences): Choices {
  return {
    invoice_issued: preferences.invoice_issued,
    due_reminder: preferences.due_reminder,
    payment_received: preferences.payment_received,
  };
}

/** The optional emails the account gets (issue 12): three switches, saved together. The
 * account's own (a manager's and an operator's too), not a chosen customer's. */
export default function NotificationPreferencesPage() {
  const i18n = useI18n();
  const { t, language } = i18n;
  const [loaded, reload] = useLoad(() => call(api.GET("/api/v1/me/notification-preferences")), []);
  const [choices, setChoices] = useState<Choices | null>(null);
  const [days, setDays] = useState(0);
  const [saving, setSaving] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (loaded.status !== "ok") return;
    setChoices(choicesOf(loaded.data));
    setDays(loaded.data.reminder_days_before_due);
  }, [loaded]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!choices) return;
    setSaving(true);
    setFailure(null);
    setSaved(false);
    const outcome = await call(api.PUT("/api/v1/me/notification-preferences", { body: choices }));
    setSaving(false);
    if (outcome.ok) {
      setChoices(choicesOf(outcome.data));
      setDays(outcome.data.reminder_days_before_due);
      setSaved(true);
    } else setFailure(outcome.failure);
  };

  return (
    <div className="medium">
      <PageHeading>{t("notifications.title")}</PageHeading>
      <p>{t("notifications.intro")}</p>
      {loaded.status === "loading" ? <Loading /> : null}
      {loaded.status === "error" ? <Failed failure={loaded.failure} onRetry={reload} /> : null}
      {choices ? (
        <form className="form" onSubmit={save} noValidate aria-busy={saving} data-testid="notification-preferences">
          <FormAlert messages={failure ? [describeFailure(i18n, failure)] : []} />
          <fieldset>
            <legend>{t("notifications.legend")}</legend>
            {CHOICES.map(([name, label, hint]) => (
              <div className="field switch-field" key={name}>
                <input
                  type="checkbox"
                  role="switch"
                  className="switch"
                  id={`pref-${name}`}
                  name={name}
                  checked={choices[name]}
                  aria-describedby={`pref-${name}-hint`}
                  onChange={(event) => {
                    const value = event.target.checked;
                    setSaved(false);
                    setChoices((previous) => (previous ? { ...previous, [name]: value } : previous));
                  }}
                />
                <label htmlFor={`pref-${name}`}>{t(label)}</label>
                <p className="hint" id={`pref-${name}-hint`}>
                  {t(hint, { days: daysText(language, days) })}
                </p>
              </div>
            ))}
          </fieldset>
          <p className="notice" data-testid="notifications-always">
            {t("notifications.always")}
          </p>
          {saved ? <Notice tone="success">{t("notifications.saved")}</Notice> : null}
          <p className="actions">
            <button type="submit" className="button" disabled={saving}>
              {saving ? t("notifications.saving") : t("notifications.save")}
            </button>
            <Link to="/account">{t("notifications.back")}</Link>
          </p>
        </form>
      ) : null}
    </div>
  );
}
