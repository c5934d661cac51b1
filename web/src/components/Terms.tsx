/** A document to accept in full and the box that accepts it: the e-BOK regulations (registration,
 * manager requests) and the e-invoice regulations. */
import type { ReactNode } from "react";

import type { Terms } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";
import type { LoadState } from "../lib/load";
import { FieldErrors } from "./Form";
import { Failed, Loading } from "./Status";

/** Plain text with blank lines between paragraphs, as the services keep their documents. */
export function Paragraphs({ text }: { text: string }) {
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

/** What every such document has. */
interface Document {
  version: string;
  language: string;
  title: string;
  text: string;
}

/** The document (loading, failed or shown in a scrollable region) and its acceptance box. */
export function AcceptFieldset<D extends Document>({
  id,
  document,
  reload,
  accepted,
  setAccepted,
  errors,
  legend,
  loadingLabel,
  regionLabel,
  versionLine,
  acceptLabel,
  testId,
}: {
  /** The checkbox's id and name; its errors' id is `${id}-error`. */
  id: string;
  document: LoadState<D>;
  reload: () => void;
  accepted: boolean;
  setAccepted: (accepted: boolean) => void;
  errors: string[];
  legend: string;
  loadingLabel: string;
  regionLabel: string;
  /** After the title: which version, and when published where the document says. */
  versionLine: (document: D) => ReactNode;
  /** The checkbox's label, naming the version ("" while it loads). */
  acceptLabel: (version: string) => string;
  testId?: string;
}) {
  const version = document.status === "ok" ? document.data.version : "";
  const errorId = errors.length ? `${id}-error` : undefined;
  return (
    <fieldset>
      <legend>{legend}</legend>
      {document.status === "loading" ? <Loading label={loadingLabel} /> : null}
      {document.status === "error" ? <Failed failure={document.failure} onRetry={reload} /> : null}
      {document.status === "ok" ? (
        <>
          <p className="terms-title">
            <strong lang={document.data.language}>{document.data.title}</strong> — {versionLine(document.data)}
          </p>
          <div
            className="terms-text"
            role="region"
            aria-label={regionLabel}
            tabIndex={0}
            lang={document.data.language}
            data-testid={testId}
          >
            <Paragraphs text={document.data.text} />
          </div>
        </>
      ) : null}
      <div className={errorId ? "field checkbox field-invalid" : "field checkbox"}>
        <FieldErrors id={errorId} errors={errors} />
        <input
          type="checkbox"
          id={id}
          name={id}
          checked={accepted}
          onChange={(event) => setAccepted(event.target.checked)}
          aria-invalid={errorId ? true : undefined}
          aria-describedby={errorId}
          disabled={document.status !== "ok"}
        />
        <label htmlFor={id}>{acceptLabel(version)}</label>
      </div>
    </fieldset>
  );
}

/** The e-BOK regulations in full and the box that accepts them (registration, manager request). */
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
  return (
    <AcceptFieldset
      id="accept_terms"
      document={terms}
      reload={reload}
      accepted={accepted}
      setAccepted={setAccepted}
      errors={errors}
      legend={t("register.termsHeading")}
      loadingLabel={t("register.termsLoading")}
      regionLabel={t("register.termsRegion")}
      versionLine={(d) => t("register.termsVersion", { version: d.version, date: i18n.date(d.published_at) })}
      acceptLabel={(version) => t("register.acceptTerms", { version })}
    />
  );
}
