import type { InputHTMLAttributes, ReactNode } from "react";

import { useI18n } from "../i18n/I18nProvider";

interface TextFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "id" | "children"> {
  id: string;
  label: string;
  hint?: string;
  errors?: string[] | undefined;
  optional?: boolean;
}

/** A labelled input; its hint and errors are tied to it with aria-describedby. */
export function TextField({ id, label, hint, errors, optional, ...input }: TextFieldProps) {
  const { t } = useI18n();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = errors?.length ? `${id}-error` : undefined;
  const describedBy = [errorId, hintId].filter(Boolean).join(" ") || undefined;
  return (
    <div className={errorId ? "field field-invalid" : "field"}>
      <label htmlFor={id}>
        {label}
        {optional ? <span className="optional"> {t("common.optional")}</span> : null}
      </label>
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      <FieldErrors id={errorId} errors={errors} />
      <input
        id={id}
        name={id}
        aria-invalid={errorId ? true : undefined}
        aria-describedby={describedBy}
        {...input}
      />
    </div>
  );
}

export function FieldErrors({ id, errors }: { id: string | undefined; errors?: string[] | undefined }) {
  if (!id || !errors?.length) return null;
  return (
    <div className="field-error" id={id}>
      {errors.map((error) => (
        <p key={error}>{error}</p>
      ))}
    </div>
  );
}

/** The form's summary of what went wrong, announced (role="alert"). */
export function FormAlert({ messages }: { messages: string[] }) {
  const { t } = useI18n();
  if (!messages.length) return null;
  return (
    <div className="form-alert" role="alert">
      {messages.length === 1 ? (
        <p>{messages[0]}</p>
      ) : (
        <>
          <p>{t("common.formErrors")}</p>
          <ul>
            {messages.map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

export function Notice({ children, tone = "info" }: { children: ReactNode; tone?: "info" | "success" }) {
  return (
    <div className={`notice notice-${tone}`} role="status">
      {children}
    </div>
  );
}
