/** Pieces of the correspondence pages (issue 13): a case's status badge, the file picker with
 * its uploads, attachments as downloads, an author's name. */
import { useCallback, useEffect, useRef, useState, type ChangeEvent } from "react";

import type { Failure } from "../api/problems";
import { problemCode } from "../api/problems";
import { useCasesI18n } from "../i18n/correspondence";
import { describeFailure } from "../i18n/problems";
import {
  ACCEPT,
  MAX_ATTACHMENTS,
  downloadAttachment,
  fileRefusal,
  fileSize,
  uploadAttachment,
  type Attachment,
  type Author,
  type CaseStatus,
} from "../lib/cases";

export function CaseStatusBadge({ status }: { status: CaseStatus }) {
  const { t } = useCasesI18n();
  return (
    <span className={`badge badge-case-${status}`} data-status={status}>
      {t(`case.status.${status}`)}
    </span>
  );
}

/** Who wrote: the customer, a manager acting for them (named as such), or the utility. */
export function AuthorName({ author }: { author: Author }) {
  const { t } = useCasesI18n();
  const name = author.name ?? author.login ?? "";
  if (author.role === "utility") return <>{name ? t("case.author.utilityNamed", { name }) : t("case.author.utility")}</>;
  if (author.role === "manager") return <>{name ? t("case.author.managerNamed", { name }) : t("case.author.manager")}</>;
  return <>{name ? t("case.author.customerNamed", { name }) : t("case.author.customer")}</>;
}

export function FileSize({ bytes }: { bytes: number }) {
  const { t, number } = useCasesI18n();
  const { value, unit } = fileSize(bytes, number);
  return <>{t(unit === "kb" ? "attachments.kb" : "attachments.mb", { value })}</>;
}

/** Attachments as buttons that save the file (fetched with the session's token). */
export function AttachmentList({ attachments, label }: { attachments: Attachment[]; label: string }) {
  const i18n = useCasesI18n();
  const { t } = i18n;
  const [failure, setFailure] = useState<Failure | null>(null);
  if (!attachments.length) return null;
  return (
    <div className="attachments">
      <p className="attachments-label">{label}</p>
      <ul className="attachment-list">
        {attachments.map((attachment) => (
          <li key={attachment.attachment_id}>
            <button
              type="button"
              className="link-button break-anywhere"
              data-testid="attachment-download"
              onClick={async () => {
                setFailure(null);
                const outcome = await downloadAttachment(attachment);
                if (!outcome.ok) setFailure(outcome.failure);
              }}
            >
              {t("attachments.download", { name: attachment.filename })}
            </button>{" "}
            <span className="muted">
              (<FileSize bytes={attachment.size} />)
            </span>
          </li>
        ))}
      </ul>
      {failure ? (
        <p className="field-error" role="alert">
          {describeFailure(i18n, failure)}
        </p>
      ) : null}
    </div>
  );
}

export interface Upload {
  key: string;
  name: string;
  size: number;
  state: "uploading" | "done" | "refused";
  progress: number;
  attachment?: Attachment;
  /** why it was refused, in words */
  refusal?: string;
}

export interface Uploads {
  uploads: Upload[];
  add(files: File[]): void;
  remove(key: string): void;
  clear(): void;
  /** the ids of the files sent, for the case or message */
  ids: string[];
  busy: boolean;
}

let uploadCounter = 0;

/** The files chosen for one form: each sent at once (so that its progress shows), refused
 * files kept with the reason until removed. `room`: how many more the case may hold. */
export function useUploads(room: number = MAX_ATTACHMENTS): Uploads {
  const i18n = useCasesI18n();
  const i18nRef = useRef(i18n);
  i18nRef.current = i18n;
  const [uploads, setUploads] = useState<Upload[]>([]);
  const controllers = useRef(new Map<string, AbortController>());
  useEffect(() => {
    const running = controllers.current;
    return () => running.forEach((controller) => controller.abort());
  }, []);

  const update = useCallback((key: string, change: Partial<Upload>) => {
    setUploads((list) => list.map((upload) => (upload.key === key ? { ...upload, ...change } : upload)));
  }, []);

  const refusalText = (code: string, failure?: Failure): string => {
    const { t } = i18nRef.current;
    if (code === "attachment-too-large") return t("attachments.tooLarge");
    if (code === "unsupported-attachment-type") return t("attachments.wrongType");
    if (code === "too-many-attachments") return t("attachments.tooMany", { max: MAX_ATTACHMENTS });
    if (code === "empty-attachment") return t("attachments.empty");
    // Busy: the Retry-After is said with it.
    return failure ? describeFailure(i18nRef.current, failure) : code;
  };

  const add = (files: File[]) => {
    let taken = uploads.filter((upload) => upload.state !== "refused").length;
    const added: Upload[] = [];
    const toSend: [Upload, File][] = [];
    for (const file of files) {
      const key = `upload-${++uploadCounter}`;
      const early = fileRefusal(file) ?? (taken >= room ? "too-many-attachments" : null);
      if (early) {
        added.push({ key, name: file.name, size: file.size, state: "refused", progress: 0, refusal: refusalText(early) });
        continue;
      }
      taken += 1;
      const upload: Upload = { key, name: file.name, size: file.size, state: "uploading", progress: 0 };
      added.push(upload);
      toSend.push([upload, file]);
    }
    setUploads((list) => [...list, ...added]);
    for (const [upload, file] of toSend) {
      const controller = new AbortController();
      controllers.current.set(upload.key, controller);
      void uploadAttachment(file, (progress) => update(upload.key, { progress }), controller.signal).then((outcome) => {
        controllers.current.delete(upload.key);
        if (outcome.ok) {
          update(upload.key, { state: "done", progress: 1, attachment: outcome.attachment });
        } else if (!outcome.aborted) {
          const code = problemCode(outcome.failure) ?? "";
          update(upload.key, { state: "refused", refusal: refusalText(code, outcome.failure) });
        }
      });
    }
  };

  const remove = (key: string) => {
    controllers.current.get(key)?.abort();
    controllers.current.delete(key);
    setUploads((list) => list.filter((upload) => upload.key !== key));
  };

  const clear = () => {
    controllers.current.forEach((controller) => controller.abort());
    controllers.current.clear();
    setUploads([]);
  };

  const ids = uploads.flatMap((upload) => (upload.state === "done" && upload.attachment ? [upload.attachment.attachment_id] : []));
  const busy = uploads.some((upload) => upload.state === "uploading");
  return { uploads, add, remove, clear, ids, busy };
}

/** The file input and the files chosen: progress while each is sent, a refusal per file, a
 * button to remove each. */
export function AttachmentPicker({
  id,
  uploads,
  room = MAX_ATTACHMENTS,
  errors,
}: {
  id: string;
  uploads: Uploads;
  room?: number;
  errors?: string[] | undefined;
}) {
  const { t } = useCasesI18n();
  const hintId = `${id}-hint`;
  const errorId = errors?.length ? `${id}-error` : undefined;
  const onChange = (event: ChangeEvent<HTMLInputElement>) => {
    const files = Array.from(event.target.files ?? []);
    // The same file may be chosen again after it was removed.
    event.target.value = "";
    if (files.length) uploads.add(files);
  };
  return (
    <div className={errorId ? "field field-invalid attachment-picker" : "field attachment-picker"}>
      <label htmlFor={id}>
        {t("attachments.choose")}
        <span className="optional"> {t("common.optional")}</span>
      </label>
      <p className="hint" id={hintId}>
        {room <= 0
          ? t("attachments.full")
          : room < MAX_ATTACHMENTS
            ? t("attachments.hintRoom", { max: room })
            : t("attachments.hint", { max: MAX_ATTACHMENTS })}
      </p>
      {errorId ? (
        <div className="field-error" id={errorId}>
          {errors!.map((error) => (
            <p key={error}>{error}</p>
          ))}
        </div>
      ) : null}
      <input
        type="file"
        id={id}
        multiple
        accept={ACCEPT}
        onChange={onChange}
        disabled={room <= 0}
        aria-describedby={[errorId, hintId].filter(Boolean).join(" ")}
        aria-invalid={errorId ? true : undefined}
        data-testid="attachment-input"
      />
      {uploads.uploads.length ? (
        <ul className="upload-list" aria-label={t("attachments.chosen")}>
          {uploads.uploads.map((upload) => (
            <li key={upload.key} className={`upload upload-${upload.state}`} data-testid="upload" data-state={upload.state}>
              <span className="upload-name break-anywhere">{upload.name}</span>{" "}
              <span className="muted">
                (<FileSize bytes={upload.size} />)
              </span>
              {upload.state === "uploading" ? (
                <progress value={upload.progress} max={1} aria-label={t("attachments.progress", { name: upload.name })} />
              ) : null}
              <span className="upload-state" role={upload.state === "refused" ? "alert" : undefined}>
                {upload.state === "uploading"
                  ? t("attachments.sending")
                  : upload.state === "done"
                    ? t("attachments.sent")
                    : t("attachments.refused", { reason: upload.refusal ?? "" })}
              </span>
              <button
                type="button"
                className="link-button"
                onClick={() => uploads.remove(upload.key)}
                aria-label={t("attachments.removeNamed", { name: upload.name })}
              >
                {t("attachments.remove")}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** The parts every labelled control here has: its label, hint and errors tied to it. */
function describedBy(id: string, hint: string | undefined, errors: string[] | undefined): string | undefined {
  return [errors?.length ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(" ") || undefined;
}

function FieldParts({ id, label, hint, errors, optional }: { id: string; label: string; hint?: string | undefined; errors?: string[] | undefined; optional?: boolean | undefined }) {
  const { t } = useCasesI18n();
  return (
    <>
      <label htmlFor={id}>
        {label}
        {optional ? <span className="optional"> {t("common.optional")}</span> : null}
      </label>
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {errors?.length ? (
        <div className="field-error" id={`${id}-error`}>
          {errors.map((error) => (
            <p key={error}>{error}</p>
          ))}
        </div>
      ) : null}
    </>
  );
}

export function TextAreaField({
  id,
  label,
  hint,
  errors,
  optional,
  value,
  onChange,
  rows = 5,
  maxLength,
}: {
  id: string;
  label: string;
  hint?: string | undefined;
  errors?: string[] | undefined;
  optional?: boolean;
  value: string;
  onChange: (value: string) => void;
  rows?: number;
  maxLength?: number;
}) {
  return (
    <div className={errors?.length ? "field field-invalid" : "field"}>
      <FieldParts id={id} label={label} hint={hint} errors={errors} optional={optional} />
      <textarea
        id={id}
        name={id}
        rows={rows}
        value={value}
        maxLength={maxLength}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={errors?.length ? true : undefined}
        aria-describedby={describedBy(id, hint, errors)}
        required={!optional}
      />
    </div>
  );
}

export function SelectField({
  id,
  label,
  hint,
  errors,
  value,
  onChange,
  choices,
  placeholder,
}: {
  id: string;
  label: string;
  hint?: string | undefined;
  errors?: string[] | undefined;
  value: string;
  onChange: (value: string) => void;
  choices: { value: string; label: string }[];
  placeholder: string;
}) {
  return (
    <div className={errors?.length ? "field field-invalid" : "field"}>
      <FieldParts id={id} label={label} hint={hint} errors={errors} />
      <select
        id={id}
        name={id}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={errors?.length ? true : undefined}
        aria-describedby={describedBy(id, hint, errors)}
        required
      >
        <option value="">{placeholder}</option>
        {choices.map((choice) => (
          <option key={choice.value} value={choice.value}>
            {choice.label}
          </option>
        ))}
      </select>
    </div>
  );
}
