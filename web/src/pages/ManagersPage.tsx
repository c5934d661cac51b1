import { useState, type FormEvent } from "react";

import { api } from "../api/client";
import type { Failure } from "../api/problems";
import type { ManagerOfMine, Scope } from "../api/types";
import { FieldErrors, FormAlert, Notice, TextField } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { Failed, Loading } from "../components/Status";
import { AddressText } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure } from "../i18n/problems";
import { listFieldErrors } from "../lib/fieldErrors";
import { call, useLoad } from "../lib/load";
import { Choice } from "./ManagerRequestPage";

/** The owner's "who manages my properties": the managers, revoke, and an invitation. */
export default function ManagersPage() {
  const i18n = useI18n();
  const { t, dateTime } = i18n;
  const [managers, reloadManagers] = useLoad(() => call(api.GET("/api/v1/me/managers")), []);
  const [contracts, reloadContracts] = useLoad(() => call(api.GET("/api/v1/contracts")), []);
  const [message, setMessage] = useState<string | null>(null);
  const [revokeFailure, setRevokeFailure] = useState<Failure | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const [email, setEmail] = useState("");
  const [company, setCompany] = useState("");
  const [scope, setScope] = useState<Scope>("partial");
  const [points, setPoints] = useState<string[]>([]);
  const [sending, setSending] = useState(false);
  const [failure, setFailure] = useState<Failure | null>(null);

  const servicePoints = contracts.status === "ok" ? contracts.data.items.flatMap((contract) => contract.service_points.map((point) => ({ ...point, contract: contract.contract_number }))) : [];

  const revoke = async (manager: ManagerOfMine) => {
    setBusy(manager.manager_account_id);
    setRevokeFailure(null);
    const outcome = await call(api.DELETE("/api/v1/me/managers/{account_id}", { params: { path: { account_id: manager.manager_account_id } } }));
    setBusy(null);
    if (outcome.ok) {
      setMessage(t("managers.revokedMessage", { manager: manager.company ?? manager.login }));
      reloadManagers({ quiet: true });
    } else setRevokeFailure(outcome.failure);
  };

  const invite = async (event: FormEvent) => {
    event.preventDefault();
    setSending(true);
    setFailure(null);
    const outcome = await call(
      api.POST("/api/v1/me/managers", {
        body: {
          email: email.trim(),
          company: company.trim() || null,
          scope,
          service_point_ids: scope === "partial" ? points : [],
          language: i18n.language,
        },
      }),
    );
    setSending(false);
    if (outcome.ok) {
      setMessage(t("managers.invitedMessage", { email: email.trim() }));
      setEmail("");
      setCompany("");
      setPoints([]);
      reloadManagers({ quiet: true });
    } else setFailure(outcome.failure);
  };

  const errors = listFieldErrors(i18n, failure);
  const shown = new Set(["email", "company", "service_point_ids", "(body)"]);
  const summary = failure ? [describeFailure(i18n, failure), ...[...errors].filter(([field]) => !shown.has(field)).flatMap(([, messages]) => messages)] : [];
  const pointErrors = [...(errors.get("service_point_ids") ?? []), ...(errors.get("(body)") ?? [])];

  return (
    <div className="medium">
      <PageHeading>{t("managers.title")}</PageHeading>
      <p>{t("managers.intro")}</p>
      {message ? <Notice tone="success">{message}</Notice> : null}
      <section aria-labelledby="managers-list">
        <h2 id="managers-list">{t("managers.listHeading")}</h2>
        {revokeFailure ? <Failed failure={revokeFailure} /> : null}
        {managers.status === "loading" ? <Loading /> : null}
        {managers.status === "error" ? <Failed failure={managers.failure} onRetry={reloadManagers} /> : null}
        {managers.status === "ok" ? (
          managers.data.items.length ? (
            managers.data.items.map((manager) => (
              <section className="card" key={manager.manager_account_id} data-testid="manager-card" aria-labelledby={`m-${manager.manager_account_id}`}>
                <h3 id={`m-${manager.manager_account_id}`}>{manager.company ?? manager.login}</h3>
                <dl className="facts facts-columns">
                  <div>
                    <dt>{t("register.email")}</dt>
                    <dd>{manager.email}</dd>
                  </div>
                  <div>
                    <dt>{t("managerRequest.scope")}</dt>
                    <dd>{t(`scope.${manager.scope}`)}</dd>
                  </div>
                  <div>
                    <dt>{t("operator.servicePoints")}</dt>
                    <dd>
                      {manager.scope === "full"
                        ? t("grants.allPoints")
                        : manager.service_point_ids.map((id) => {
                            const point = servicePoints.find((known) => known.service_point_id === id);
                            return (
                              <p className="cell-line" key={id}>
                                {id}
                                {point ? (
                                  <>
                                    {": "}
                                    <AddressText address={point.address} />
                                  </>
                                ) : null}
                              </p>
                            );
                          })}
                    </dd>
                  </div>
                  <div>
                    <dt>{t("managers.since")}</dt>
                    <dd>{dateTime(manager.changed_at)}</dd>
                  </div>
                </dl>
                <p>
                  <button type="button" className="button button-danger" disabled={busy !== null} onClick={() => void revoke(manager)}>
                    {t("managers.revoke", { manager: manager.company ?? manager.login })}
                  </button>
                </p>
              </section>
            ))
          ) : (
            <p className="empty">{t("managers.none")}</p>
          )
        ) : null}
      </section>

      <section aria-labelledby="invite-heading">
        <h2 id="invite-heading">{t("managers.inviteHeading")}</h2>
        <p>{t("managers.inviteIntro")}</p>
        <form className="form" onSubmit={invite} noValidate aria-busy={sending} data-testid="invite-form">
          <FormAlert messages={summary} />
          <fieldset>
            <legend>{t("managers.whoHeading")}</legend>
            <TextField id="email" type="email" label={t("register.email")} value={email} onChange={(event) => setEmail(event.target.value)} errors={errors.get("email")} autoComplete="off" required />
            <TextField id="company" label={t("managerRequest.company")} optional value={company} onChange={(event) => setCompany(event.target.value)} errors={errors.get("company")} autoComplete="off" />
          </fieldset>
          <fieldset className="choices">
            <legend>{t("managerRequest.scope")}</legend>
            <Choice name="invite-scope" value="full" checked={scope === "full"} onChange={() => setScope("full")} label={t("scope.fullLong")} />
            <Choice name="invite-scope" value="partial" checked={scope === "partial"} onChange={() => setScope("partial")} label={t("scope.partialLong")} />
          </fieldset>
          {scope === "partial" ? (
            <fieldset className="choices">
              <legend>{t("managers.points")}</legend>
              <FieldErrors id={pointErrors.length ? "points-error" : undefined} errors={pointErrors} />
              {contracts.status === "loading" ? <Loading /> : null}
              {contracts.status === "error" ? <Failed failure={contracts.failure} onRetry={reloadContracts} /> : null}
              {servicePoints.map((point) => (
                <div className="field checkbox" key={point.service_point_id}>
                  <input
                    type="checkbox"
                    id={`point-${point.service_point_id}`}
                    checked={points.includes(point.service_point_id)}
                    aria-describedby={pointErrors.length ? "points-error" : undefined}
                    onChange={(event) =>
                      setPoints((previous) => (event.target.checked ? [...previous, point.service_point_id] : previous.filter((id) => id !== point.service_point_id)))
                    }
                  />
                  <label htmlFor={`point-${point.service_point_id}`}>
                    <AddressText address={point.address} /> — {t("managers.pointDetail", { point: point.service_point_id, contract: point.contract })}
                  </label>
                </div>
              ))}
            </fieldset>
          ) : null}
          <button type="submit" className="button" disabled={sending}>
            {sending ? t("common.sending") : t("managers.invite")}
          </button>
        </form>
      </section>
    </div>
  );
}
