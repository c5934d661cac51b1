import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";

import { api } from "../api/client";
import type { Failure } from "../api/problems";
import type { Grant, Scope } from "../api/types";
import { FormAlert, Notice, TextField } from "../components/Form";
import { GrantFields, pointList } from "../components/GrantFields";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure } from "../i18n/problems";
import { listFieldErrors } from "../lib/fieldErrors";
import { call, useLoad } from "../lib/load";

function summaryOf(i18n: ReturnType<typeof useI18n>, failure: Failure | null): string[] {
  if (!failure) return [];
  return [describeFailure(i18n, failure), ...[...listFieldErrors(i18n, failure).values()].flat()];
}

/** One grant: what it covers, a form that changes it and a button that revokes it. */
function GrantCard({ accountId, grant, onChanged }: { accountId: string; grant: Grant; onChanged: (message: string) => void }) {
  const i18n = useI18n();
  const { t, dateTime } = i18n;
  const [scope, setScope] = useState<Scope>(grant.scope);
  const [points, setPoints] = useState(grant.service_point_ids.join(", "));
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const path = { account_id: accountId, customer_id: grant.customer_id };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    setFailure(null);
    const outcome = await call(
      api.PUT("/api/v1/operator/managers/{account_id}/grants/{customer_id}", {
        params: { path },
        body: { scope, service_point_ids: scope === "partial" ? pointList(points) : [] },
      }),
    );
    setSending(false);
    if (outcome.ok) onChanged(t("grants.changed", { customer: grant.customer_id }));
    else setFailure(outcome.failure);
  };
  const revoke = async () => {
    setSending(true);
    setFailure(null);
    const outcome = await call(api.DELETE("/api/v1/operator/managers/{account_id}/grants/{customer_id}", { params: { path } }));
    setSending(false);
    if (outcome.ok) onChanged(t("grants.revokedNow", { customer: grant.customer_id }));
    else setFailure(outcome.failure);
  };

  const headingId = `grant-${grant.customer_id}`;
  return (
    <section className="card" data-testid="grant-card" aria-labelledby={headingId}>
      <h2 id={headingId}>{t("grants.customer", { customer: grant.customer_id })}</h2>
      <dl className="facts facts-columns">
        <div>
          <dt>{t("managerRequest.scope")}</dt>
          <dd>{grant.revoked ? `${t("grants.revoked")} (${t(`scope.${grant.scope}`)})` : t(`scope.${grant.scope}`)}</dd>
        </div>
        <div>
          <dt>{t("operator.servicePoints")}</dt>
          <dd>{grant.scope === "full" ? t("grants.allPoints") : grant.service_point_ids.join(", ") || t("common.none")}</dd>
        </div>
        <div>
          <dt>{t("grants.changedAt")}</dt>
          <dd>{t("grants.changedBy", { when: dateTime(grant.changed_at), who: t(`grants.by.${grant.changed_by}`), revision: grant.revision })}</dd>
        </div>
      </dl>
      <form className="form" onSubmit={save} noValidate aria-busy={sending}>
        <FormAlert messages={summaryOf(i18n, failure)} />
        <GrantFields base={`g-${grant.customer_id}`} scope={scope} setScope={setScope} points={points} setPoints={setPoints} />
        <p className="actions">
          <button type="submit" className="button" disabled={sending}>
            {grant.revoked ? t("grants.restore") : t("grants.save")}
          </button>
          {grant.revoked ? null : (
            <button type="button" className="button button-danger" disabled={sending} onClick={() => void revoke()}>
              {t("grants.revoke")}
            </button>
          )}
        </p>
      </form>
    </section>
  );
}

/** A new grant over another customer's properties. */
function NewGrant({ accountId, onChanged }: { accountId: string; onChanged: (message: string) => void }) {
  const i18n = useI18n();
  const { t } = i18n;
  const [customer, setCustomer] = useState("");
  const [scope, setScope] = useState<Scope>("partial");
  const [points, setPoints] = useState("");
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    setFailure(null);
    const outcome = await call(
      api.PUT("/api/v1/operator/managers/{account_id}/grants/{customer_id}", {
        params: { path: { account_id: accountId, customer_id: customer.trim() } },
        body: { scope, service_point_ids: scope === "partial" ? pointList(points) : [] },
      }),
    );
    setSending(false);
    if (outcome.ok) {
      setCustomer("");
      setPoints("");
      onChanged(t("grants.changed", { customer: outcome.data.customer_id }));
    } else setFailure(outcome.failure);
  };
  return (
    <section className="card" aria-labelledby="new-grant">
      <h2 id="new-grant">{t("grants.newHeading")}</h2>
      <form className="form" onSubmit={save} noValidate aria-busy={sending}>
        <FormAlert messages={summaryOf(i18n, failure)} />
        <TextField id="new-customer" label={t("grants.customerId")} value={customer} onChange={(event) => setCustomer(event.target.value)} autoComplete="off" spellCheck={false} required />
        <GrantFields base="new" scope={scope} setScope={setScope} points={points} setPoints={setPoints} />
        <p>
          <button type="submit" className="button" disabled={sending || !customer.trim()}>
            {t("grants.give")}
          </button>
        </p>
      </form>
    </section>
  );
}

/** A manager's grants (revoked ones too): change, revoke, give another. */
export default function OperatorManagerPage() {
  const { t } = useI18n();
  const accountId = useParams().accountId ?? "";
  const [state, reload] = useLoad(
    () => call(api.GET("/api/v1/operator/managers/{account_id}/grants", { params: { path: { account_id: accountId } } })),
    [accountId],
  );
  const [message, setMessage] = useState<string | null>(null);
  const changed = (text: string) => {
    setMessage(text);
    reload({ quiet: true });
  };
  return (
    <div className="medium">
      <p className="breadcrumb">
        <Link to="/operator/managers">{t("operator.managersTitle")}</Link>
      </p>
      <PageHeading>{t("grants.title")}</PageHeading>
      <p className="muted">{t("grants.account", { id: accountId })}</p>
      {message ? <Notice tone="success">{message}</Notice> : null}
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        <>
          {state.data.items.length ? (
            state.data.items.map((grant) => (
              <GrantCard key={`${grant.customer_id}-${grant.revision}`} accountId={accountId} grant={grant} onChanged={changed} />
            ))
          ) : (
            <p className="empty">{t("grants.none")}</p>
          )}
          <NewGrant accountId={accountId} onChanged={changed} />
        </>
      ) : null}
    </div>
  );
}
