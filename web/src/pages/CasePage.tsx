import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useLocation, useParams } from "react-router";

import { api } from "../api/client";
import type { Failure } from "../api/problems";
import { AttachmentList, AttachmentPicker, AuthorName, CaseStatusBadge, TextAreaField, useUploads } from "../components/Cases";
import { FormAlert, Notice } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { invoicePath } from "../components/Views";
import { useCasesI18n } from "../i18n/correspondence";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { MAX_ATTACHMENTS, isFinished, type Case } from "../lib/cases";
import { call, useLoad } from "../lib/load";

/** How often an open case is looked at again while its page is shown (the back office's
 * answer shows without a reload). */
const REFRESH_SECONDS = 20;

/** One case: what was sent, its statuses, the thread, and a new message while it is open. */
export default function CasePage() {
  const { t } = useCasesI18n();
  const { number = "" } = useParams();
  const location = useLocation();
  const sent = Boolean((location.state as { sent?: boolean } | null)?.sent);
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/cases/{number}", { params: { path: { number } } })), [number]);
  const open = state.status === "ok" && !isFinished(state.data.status);
  useEffect(() => {
    if (!open) return undefined;
    const timer = setInterval(() => reload({ quiet: true }), REFRESH_SECONDS * 1000);
    return () => clearInterval(timer);
  }, [open, reload]);
  return (
    <div className="medium">
      <PageHeading>{t("case.heading", { number })}</PageHeading>
      <p>
        <Link to="/cases">{t("case.back")}</Link>
      </p>
      {sent ? <Notice tone="success">{t("case.sent", { number })}</Notice> : null}
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? <CaseView item={state.data} onChanged={() => reload({ quiet: true })} /> : null}
    </div>
  );
}

function CaseView({ item, onChanged }: { item: Case; onChanged: () => void }) {
  const { t, dateTime, date } = useCasesI18n();
  const inMessages = new Set(item.messages.flatMap((message) => message.attachments.map((a) => a.attachment_id)));
  const ofCase = item.attachments.filter((attachment) => !inMessages.has(attachment.attachment_id));
  const held = new Set([...item.attachments.map((a) => a.attachment_id), ...inMessages]).size;
  const finished = isFinished(item.status);
  const rejected = item.timeline.filter((change) => change.status === "rejected").at(-1);
  return (
    <>
      <section className="card case-summary" aria-labelledby="case-details">
        <h2 id="case-details">{t(`case.kind.${item.kind}`)}</h2>
        <p className="case-status">
          {t("case.statusNow")}{" "}
          <span data-testid="case-status" data-status={item.status}>
            <CaseStatusBadge status={item.status} />
          </span>
        </p>
        {rejected?.reason ? <p className="notice notice-warning">{t("case.rejectedReason", { reason: rejected.reason })}</p> : null}
        <dl className="facts">
          <div>
            <dt>{t("case.number")}</dt>
            <dd>{item.number}</dd>
          </div>
          <div>
            <dt>{t("case.submittedAt")}</dt>
            <dd>
              {dateTime(item.submitted_at)} — <AuthorName author={item.submitted_by} />
            </dd>
          </div>
          <div>
            <dt>{t("case.titleColumn")}</dt>
            <dd className="break-anywhere">{item.title}</dd>
          </div>
          {item.location ? (
            <div>
              <dt>{t("writeToUs.location")}</dt>
              <dd className="break-anywhere">{item.location}</dd>
            </div>
          ) : null}
          {item.since ? (
            <div>
              <dt>{t("writeToUs.since")}</dt>
              <dd>{date(item.since)}</dd>
            </div>
          ) : null}
          {item.subject ? (
            <div>
              <dt>{t("writeToUs.subject")}</dt>
              <dd className="break-anywhere">{item.subject}</dd>
            </div>
          ) : null}
          {item.invoice_number ? (
            <div>
              <dt>{t("writeToUs.invoice")}</dt>
              <dd>
                <Link to={invoicePath(item.invoice_number)}>{item.invoice_number}</Link>
              </dd>
            </div>
          ) : null}
        </dl>
        {item.changes.length ? (
          <div className="table-wrap" role="region" aria-label={t("writeToUs.changes")} tabIndex={0}>
            <table>
              <caption>{t("writeToUs.changes")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("case.field")}</th>
                  <th scope="col">{t("writeToUs.current")}</th>
                  <th scope="col">{t("writeToUs.requested")}</th>
                </tr>
              </thead>
              <tbody>
                {item.changes.map((change) => (
                  <tr key={change.field}>
                    <th scope="row">{t(`case.field.${change.field}`)}</th>
                    <td className="break-anywhere">{change.current ?? t("common.none")}</td>
                    <td className="break-anywhere">{change.requested}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        {item.description ? (
          <>
            <h3>{t(item.kind === "billing-complaint" ? "writeToUs.reason" : item.kind === "data-change" ? "writeToUs.comment" : "writeToUs.description")}</h3>
            <p className="message-text">{item.description}</p>
          </>
        ) : null}
        <AttachmentList attachments={ofCase} label={t("case.attachments")} />
      </section>

      <section aria-labelledby="case-timeline-heading">
        <h2 id="case-timeline-heading">{t("case.timeline")}</h2>
        <ol className="timeline" data-testid="case-timeline">
          {item.timeline.map((change, index) => (
            <li key={`${change.status}-${change.at}-${index}`} data-status={change.status}>
              <CaseStatusBadge status={change.status} /> <time dateTime={change.at}>{dateTime(change.at)}</time>
              {" — "}
              <AuthorName author={change.by} />
              {change.reason ? <p className="muted">{t("case.reason", { reason: change.reason })}</p> : null}
            </li>
          ))}
        </ol>
      </section>

      <section aria-labelledby="case-messages-heading">
        <h2 id="case-messages-heading">{t("case.messages")}</h2>
        {item.messages.length ? (
          <ol className="thread" data-testid="case-messages">
            {item.messages.map((message) => (
              <li key={message.message_id} className={`message message-${message.author.role}`} data-role={message.author.role}>
                <article aria-label={t("case.messageFrom", { time: dateTime(message.posted_at) })}>
                  <p className="message-meta">
                    <strong>
                      <AuthorName author={message.author} />
                    </strong>{" "}
                    <time dateTime={message.posted_at}>{dateTime(message.posted_at)}</time>
                  </p>
                  <p className="message-text">{message.text}</p>
                  <AttachmentList attachments={message.attachments} label={t("case.attachments")} />
                </article>
              </li>
            ))}
          </ol>
        ) : (
          <p className="empty">{t("case.noMessages")}</p>
        )}
        {finished ? (
          <p className="notice" role="note" data-testid="case-finished">
            {t(item.status === "rejected" ? "case.rejectedNoMessages" : "case.closedNoMessages")}
          </p>
        ) : (
          <MessageForm number={item.number} room={Math.max(0, MAX_ATTACHMENTS - held)} onSent={onChanged} />
        )}
      </section>
    </>
  );
}

function MessageForm({ number, room, onSent }: { number: string; room: number; onSent: () => void }) {
  const i18n = useCasesI18n();
  const { t } = i18n;
  const uploads = useUploads(room);
  const [text, setText] = useState("");
  const [checked, setChecked] = useState<Map<string, string[]>>(new Map());
  const [failure, setFailure] = useState<Failure | null>(null);
  const [sending, setSending] = useState(false);
  const [done, setDone] = useState(false);
  const sendingRef = useRef(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (sendingRef.current) return;
    setFailure(null);
    setDone(false);
    const errors = new Map<string, string[]>();
    if (!text.trim()) errors.set("text", [t("case.messageMissing")]);
    if (uploads.busy) errors.set("attachment_ids", [t("attachments.wait")]);
    setChecked(errors);
    if (errors.size) return;
    sendingRef.current = true;
    setSending(true);
    const outcome = await call(
      api.POST("/api/v1/cases/{number}/messages", {
        params: { path: { number } },
        body: { text: text.trim(), attachment_ids: uploads.ids },
      }),
    );
    sendingRef.current = false;
    setSending(false);
    if (!outcome.ok) {
      setFailure(outcome.failure);
      return;
    }
    setText("");
    uploads.clear();
    setDone(true);
    onSent();
  };

  const apiErrors = describeFieldErrors(i18n, failure);
  const errors = (field: string) => checked.get(field) ?? apiErrors.get(field);
  const summary: string[] = checked.size ? [t("problem.validation-failed")] : [];
  if (failure) {
    summary.push(describeFailure(i18n, failure));
    for (const [field, messages] of apiErrors) if (field !== "text" && field !== "attachment_ids") summary.push(...messages);
  }

  return (
    <form className="form message-form" onSubmit={submit} noValidate aria-busy={sending} data-testid="message-form">
      <h3>{t("case.newMessage")}</h3>
      <FormAlert messages={summary} />
      {done ? <Notice tone="success">{t("case.messageSent")}</Notice> : null}
      <TextAreaField id="message-text" label={t("case.messageText")} value={text} onChange={setText} errors={errors("text")} maxLength={5000} rows={4} />
      <AttachmentPicker id="message-attachments" uploads={uploads} room={room} errors={errors("attachment_ids")} />
      <button type="submit" className="button" disabled={sending}>
        {sending ? t("common.sending") : t("case.sendMessage")}
      </button>
    </form>
  );
}
