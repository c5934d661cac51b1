import { useEffect, useRef, useState, type FormEvent } from "react";

import { api } from "../api/client";
import { problemCode, type Failure } from "../api/problems";
import type { EInvoice, EInvoiceChange, EInvoiceRegulations } from "../api/types";
import { FormAlert, Notice, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { AcceptFieldset } from "../components/Terms";
import { Failed, Loading } from "../components/Status";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure, describeFieldErrors } from "../i18n/problems";
import { useAccount } from "../lib/account";
import { call, useLoad, type LoadState } from "../lib/load";

/** Field errors each form shows at its fields; the rest go to its summary. */
const ACTIVATE_FIELDS = new Set(["address", "regulations_version"]);
const CHANGE_FIELDS = new Set(["address"]);
/** Billing's code for an e-invoice regulations version that is no longer the one in force. */
const OUTDATED = new Set(["regulations-outdated"]);

function summaryOf(i18n: ReturnType<typeof useI18n>, failure: Failure | null, errors: Map<string, string[]>, shown: Set<string>): string[] {
  if (!failure) return [];
  return [describeFailure(i18n, failure), ...[...errors].filter(([field]) => !shown.has(field)).flatMap(([, messages]) => messages)];
}

/** The e-invoice regulations in the page's language and the box that accepts them. */
function RegulationsFieldset({
  regulations,
  reload,
  accepted,
  setAccepted,
  errors,
}: {
  regulations: LoadState<EInvoiceRegulations>;
  reload: () => void;
  accepted: boolean;
  setAccepted: (accepted: boolean) => void;
  errors: string[];
}) {
  const { t } = useI18n();
  return (
    <AcceptFieldset
      id="accept_regulations"
      document={regulations}
      reload={reload}
      accepted={accepted}
      setAccepted={setAccepted}
      errors={errors}
      legend={t("eInvoice.regulationsHeading")}
      loadingLabel={t("eInvoice.regulationsLoading")}
      regionLabel={t("eInvoice.regulationsRegion")}
      versionLine={(d) => t("eInvoice.regulationsVersion", { version: d.version })}
      acceptLabel={(version) => t("eInvoice.accept", { version })}
      testId="e-invoice-regulations"
    />
  );
}

/** Turning e-invoice on (or sending the link again while it waits): the address and the
 * regulations accepted. */
function ActivateForm({ initialAddress, again, onDone }: { initialAddress: string; again: boolean; onDone: (state: EInvoice) => void }) {
  const i18n = useI18n();
  const { t, language } = i18n;
  // The regulations in the page's language: switching the language fetches them again.
  const [regulations, reloadRegulations] = useLoad(
    () => call(api.GET("/api/v1/e-invoice/regulations", { params: { query: { language } } })),
    [language],
  );
  const [address, setAddress] = useState(initialAddress);
  const [accepted, setAccepted] = useState(false);
  const [missing, setMissing] = useState(false);
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  // The account's email arrives after the form is shown: fill it in unless something was typed.
  const typed = useRef(false);
  useEffect(() => {
    if (!typed.current) setAddress(initialAddress);
  }, [initialAddress]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setFailure(null);
    if (!accepted) {
      setMissing(true);
      document.getElementById("accept_regulations")?.focus();
      return;
    }
    setMissing(false);
    if (regulations.status !== "ok") return;
    setSending(true);
    const outcome = await call(
      api.POST("/api/v1/e-invoice", { body: { address: address.trim(), regulations_version: regulations.data.version } }),
    );
    setSending(false);
    if (outcome.ok) {
      onDone(outcome.data);
      return;
    }
    setFailure(outcome.failure);
    if (OUTDATED.has(problemCode(outcome.failure) ?? "")) {
      setAccepted(false);
      reloadRegulations();
    }
  };

  const errors = describeFieldErrors(i18n, failure);
  const regulationErrors = [...(missing ? [t("eInvoice.acceptMissing")] : []), ...(errors.get("regulations_version") ?? [])];
  const summary = summaryOf(i18n, failure, errors, ACTIVATE_FIELDS);
  return (
    <form className="form" onSubmit={submit} noValidate aria-busy={sending} data-testid="e-invoice-activate">
      <FormAlert messages={summary} />
      <fieldset>
        <legend>{t("eInvoice.addressLegend")}</legend>
        <TextField
          id="address"
          type="email"
          label={t("eInvoice.address")}
          hint={t("eInvoice.addressHint")}
          value={address}
          onChange={(event) => {
            typed.current = true;
            setAddress(event.target.value);
          }}
          errors={errors.get("address")}
          autoComplete="email"
          spellCheck={false}
          required
        />
      </fieldset>
      <RegulationsFieldset
        regulations={regulations}
        reload={reloadRegulations}
        accepted={accepted}
        setAccepted={(value) => {
          setAccepted(value);
          if (value) setMissing(false);
        }}
        errors={regulationErrors}
      />
      <p>
        <button type="submit" className="button" disabled={sending || regulations.status !== "ok"}>
          {sending ? t("common.sending") : again ? t("eInvoice.resend") : t("eInvoice.activate")}
        </button>
      </p>
    </form>
  );
}

/** A new address for e-invoices that are on: in force once the link sent to it is used. */
function ChangeAddressForm({ onDone }: { onDone: (state: EInvoice) => void }) {
  const i18n = useI18n();
  const { t } = i18n;
  const [address, setAddress] = useState("");
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    setFailure(null);
    const outcome = await call(api.PUT("/api/v1/e-invoice/address", { body: { address: address.trim() } }));
    setSending(false);
    if (outcome.ok) {
      setAddress("");
      onDone(outcome.data);
    } else setFailure(outcome.failure);
  };
  const errors = describeFieldErrors(i18n, failure);
  return (
    <form className="form" onSubmit={submit} noValidate aria-busy={sending} data-testid="e-invoice-change">
      <FormAlert messages={summaryOf(i18n, failure, errors, CHANGE_FIELDS)} />
      <TextField
        id="new_address"
        type="email"
        label={t("eInvoice.newAddress")}
        value={address}
        onChange={(event) => setAddress(event.target.value)}
        errors={errors.get("address")}
        autoComplete="email"
        spellCheck={false}
        required
      />
      <p>
        <button type="submit" className="button" disabled={sending}>
          {sending ? t("common.sending") : t("eInvoice.change")}
        </button>
      </p>
    </form>
  );
}

/** Withdrawing, after a second step that says what it means. */
function Withdraw({ onDone }: { onDone: (state: EInvoice) => void }) {
  const i18n = useI18n();
  const { t } = i18n;
  const [asking, setAsking] = useState(false);
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const question = useRef<HTMLParagraphElement>(null);
  const start = useRef<HTMLButtonElement>(null);
  const wasAsking = useRef(false);
  useEffect(() => {
    // The question takes the focus when it appears, the first button again when it goes.
    if (asking) question.current?.focus();
    else if (wasAsking.current) start.current?.focus();
    wasAsking.current = asking;
  }, [asking]);

  const withdraw = async () => {
    setSending(true);
    setFailure(null);
    const outcome = await call(api.DELETE("/api/v1/e-invoice"));
    setSending(false);
    if (outcome.ok) onDone(outcome.data);
    else setFailure(outcome.failure);
  };

  return (
    <div data-testid="e-invoice-withdraw">
      {failure ? <FormAlert messages={[describeFailure(i18n, failure)]} /> : null}
      {asking ? (
        <div className="confirm-box">
          <p ref={question} tabIndex={-1} className="confirm-question">
            {t("eInvoice.withdrawQuestion")}
          </p>
          <p className="actions">
            <button type="button" className="button button-danger" disabled={sending} onClick={() => void withdraw()}>
              {sending ? t("common.sending") : t("eInvoice.withdrawYes")}
            </button>
            <button type="button" className="button button-secondary" disabled={sending} onClick={() => setAsking(false)}>
              {t("eInvoice.withdrawNo")}
            </button>
          </p>
        </div>
      ) : (
        <p>
          <button ref={start} type="button" className="button button-secondary" onClick={() => setAsking(true)}>
            {t("eInvoice.withdraw")}
          </button>
        </p>
      )}
    </div>
  );
}

function History({ history }: { history: EInvoiceChange[] }) {
  const { t, dateTime } = useI18n();
  const who = (change: EInvoiceChange) => {
    const role = t(`eInvoice.by.${change.by}`);
    return change.by_login ? `${change.by_login} (${role})` : role;
  };
  if (!history.length) return <p className="empty">{t("eInvoice.historyEmpty")}</p>;
  return (
    <div className="table-wrap" role="region" aria-label={t("eInvoice.historyCaption")} tabIndex={0}>
      <table className="wide-table" data-testid="e-invoice-history">
        <caption className="visually-hidden">{t("eInvoice.historyCaption")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("eInvoice.col.action")}</th>
            <th scope="col">{t("eInvoice.col.at")}</th>
            <th scope="col">{t("eInvoice.col.address")}</th>
            <th scope="col">{t("eInvoice.col.by")}</th>
            <th scope="col">{t("eInvoice.col.regulations")}</th>
            <th scope="col">{t("eInvoice.col.client")}</th>
          </tr>
        </thead>
        <tbody>
          {history.map((change, index) => (
            <tr key={`${change.at}-${index}`} data-action={change.action}>
              <th scope="row">{t(`eInvoice.action.${change.action}`)}</th>
              <td>{dateTime(change.at)}</td>
              <td className="break-anywhere">{change.address ?? "—"}</td>
              <td>{who(change)}</td>
              <td className="nowrap">{change.regulations_version ?? "—"}</td>
              <td className="nowrap">{change.client_address ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The state: off / waiting for the link / on, the address and since when, a pending link. */
function StateCard({ state }: { state: EInvoice }) {
  const { t, dateTime } = useI18n();
  return (
    <section className={`card e-invoice-state state-${state.state}`} aria-labelledby="e-invoice-state" data-testid="e-invoice-state" data-state={state.state}>
      <h2 id="e-invoice-state">{t("eInvoice.stateHeading")}</h2>
      <dl className="facts">
        <div>
          <dt>{t("eInvoice.stateLabel")}</dt>
          <dd>
            <span className={`badge badge-e-invoice-${state.state}`}>{t(`eInvoice.status.${state.state}`)}</span>
          </dd>
        </div>
        {state.state === "on" && state.address ? (
          <div>
            <dt>{t("eInvoice.address")}</dt>
            <dd data-testid="e-invoice-address">{state.address}</dd>
          </div>
        ) : null}
        {state.state === "on" && state.since ? (
          <div>
            <dt>{t("eInvoice.since")}</dt>
            <dd>{dateTime(state.since)}</dd>
          </div>
        ) : null}
      </dl>
      <p>{t(`eInvoice.explain.${state.state}`)}</p>
      {state.pending ? (
        <div className="notice notice-warning" data-testid="e-invoice-pending">
          <p>
            <strong>{t("eInvoice.pendingHeading")}</strong>
          </p>
          <p>
            {t(`eInvoice.pending.${state.pending.purpose}`, {
              address: state.pending.address,
              until: dateTime(state.pending.expires_at),
            })}
          </p>
          <p>{t("eInvoice.pendingRequested", { at: dateTime(state.pending.requested_at) })}</p>
        </div>
      ) : null}
    </section>
  );
}

/** Why a manager with a partial grant sees e-invoice but no forms. */
function PartialNote() {
  const { t } = useI18n();
  return (
    <div className="notice notice-warning" role="note" data-testid="not-in-scope">
      <p>
        <strong>{t("notInScope.title")}</strong>
      </p>
      <p>{t("notInScope.eInvoice")}</p>
      <p>{t("notInScope.why")}</p>
      <p>{t("notInScope.who")}</p>
    </div>
  );
}

/** E-invoice (issue 12): the customer's consent to invoices by email. */
export default function EInvoicePage() {
  const { t } = useI18n();
  const account = useAccount();
  const [loaded, reload] = useLoad(() => call(api.GET("/api/v1/e-invoice")), []);
  // What a change answered (the state after it) stands until the page loads again.
  const [changed, setChanged] = useState<EInvoice | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const current = changed ?? (loaded.status === "ok" ? loaded.data : null);
  // A customer's own address is the likely one; a manager types the customer's.
  const ownEmail = account.status === "ok" && account.role === "customer" ? account.me.email : "";
  const changedTo = (next: EInvoice, text: string) => {
    setChanged(next);
    setMessage(text);
  };

  return (
    <div className="medium">
      <PageHeading>{t("eInvoice.title")}</PageHeading>
      <p>{t("eInvoice.intro")}</p>
      {message ? <Notice tone="success">{message}</Notice> : null}
      {loaded.status === "loading" && !current ? <Loading /> : null}
      {loaded.status === "error" && !current ? <Failed failure={loaded.failure} onRetry={reload} /> : null}
      {current ? (
        <>
          <StateCard state={current} />
          {!current.may_change ? <PartialNote /> : null}
          {current.may_change && current.state !== "on" ? (
            <section aria-labelledby="e-invoice-activate-heading">
              <h2 id="e-invoice-activate-heading">{current.state === "pending" ? t("eInvoice.resendHeading") : t("eInvoice.activateHeading")}</h2>
              <p>{current.state === "pending" ? t("eInvoice.resendIntro") : t("eInvoice.activateIntro")}</p>
              <ActivateForm
                initialAddress={current.pending?.address ?? ownEmail}
                again={current.state === "pending"}
                onDone={(next) => changedTo(next, t("eInvoice.sent", { address: next.pending?.address ?? "" }))}
              />
            </section>
          ) : null}
          {current.may_change && current.state === "on" ? (
            <>
              <section aria-labelledby="e-invoice-change-heading">
                <h2 id="e-invoice-change-heading">{t("eInvoice.changeHeading")}</h2>
                <p>{t("eInvoice.changeIntro")}</p>
                <ChangeAddressForm onDone={(next) => changedTo(next, t("eInvoice.sentChange", { address: next.pending?.address ?? "" }))} />
              </section>
              <section aria-labelledby="e-invoice-withdraw-heading">
                <h2 id="e-invoice-withdraw-heading">{t("eInvoice.withdrawHeading")}</h2>
                <p>{t("eInvoice.withdrawIntro")}</p>
                <Withdraw onDone={(next) => changedTo(next, t("eInvoice.withdrawn"))} />
              </section>
            </>
          ) : null}
          <section aria-labelledby="e-invoice-history-heading">
            <h2 id="e-invoice-history-heading">{t("eInvoice.historyHeading")}</h2>
            <History history={current.history} />
          </section>
        </>
      ) : null}
    </div>
  );
}
