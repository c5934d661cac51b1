/** The e-BOK regulations in full and the box that accepts them (as on the registration page). */
import type { Terms } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";
import type { LoadState } from "../lib/load";
import { FieldErrors } from "./Form";
import { Failed, Loading } from "./Status";

function Paragraphs({ text }: { text: string }) {
  return (
    <>
      {text
        .split(/\n\s*\n/)
        .filter((part) => part.trim())
        .map((part, index) => (
          <p key={index}>{part.trim()}</p>
        ))}
    </>
  );
}

export function TermsFieldset({
  terms,
  reload,
  accepted,
  setAccepted,
  errors,
}: {
  terms: LoadState<Terms>;
  reload: () => void;
  accepted: boolean;
  setAccepted: (accepted: boolean) => void;
  errors: string[];
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const version = terms.status === "ok" ? terms.data.version : "";
  return (
    <fieldset>
      <legend>{t("register.termsHeading")}</legend>
      {terms.status === "loading" ? <Loading label={t("register.termsLoading")} /> : null}
      {terms.status === "error" ? <Failed failure={terms.failure} onRetry={reload} /> : null}
      {terms.status === "ok" ? (
        <>
          <p className="terms-title">
            <strong lang={terms.data.language}>{terms.data.title}</strong> —{" "}
            {t("register.termsVersion", { version: terms.data.version, date: i18n.date(terms.data.published_at) })}
          </p>
          <div className="terms-text" role="region" aria-label={t("register.termsRegion")} tabIndex={0} lang={terms.data.language}>
            <Paragraphs text={terms.data.text} />
          </div>
        </>
      ) : null}
      <div className={errors.length ? "field checkbox field-invalid" : "field checkbox"}>
        <FieldErrors id={errors.length ? "accept_terms-error" : undefined} errors={errors} />
        <input
          type="checkbox"
          id="accept_terms"
          name="accept_terms"
          checked={accepted}
          onChange={(event) => setAccepted(event.target.checked)}
          aria-invalid={errors.length ? true : undefined}
          aria-describedby={errors.length ? "accept_terms-error" : undefined}
          disabled={terms.status !== "ok"}
        />
        <label htmlFor="accept_terms">{t("register.acceptTerms", { version })}</label>
      </div>
    </fieldset>
  );
}
