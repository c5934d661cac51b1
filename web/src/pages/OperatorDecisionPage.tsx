import { useMemo, useState, type FormEvent, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { api } from "../api/client";
import type { Failure } from "../api/problems";
import type { Decision, ManagerRequest, Scope } from "../api/types";
import { FieldErrors, FormAlert, Notice } from "../components/Form";
import { PageHeading } from "../components/PageHeading";
import { PropertiesTable, RequestFacts } from "../components/Requests";
import { Failed, Loading } from "../components/Status";
import { AddressText } from "../components/Views";
import { useI18n } from "../i18n/I18nProvider";
import { describeFailure } from "../i18n/problems";
import { listFieldErrors } from "../lib/fieldErrors";
import { call, useLoad } from "../lib/load";
import { Choice } from "./ManagerRequestPage";

interface Candidate {
  customerId: string;
  name: string | null;
  points: { id: string; label: ReactNode; matches: boolean }[];
  scope: Scope;
}

interface GrantChoice {
  grant: boolean;
  scope: Scope;
  points: string[];
}

/** The customers the request's properties matched, each with the service points found. */
function candidatesOf(request: ManagerRequest): Candidate[] {
  const byCustomer = new Map<string, Candidate>();
  for (const item of request.properties) {
    if (!item.customer_id) continue;
    const candidate = byCustomer.get(item.customer_id) ?? {
      customerId: item.customer_id,
      name: item.customer_name,
      points: [],
      scope: "full" as Scope,
    };
    if (item.scope_asked === "partial") candidate.scope = "partial";
    for (const point of item.service_points) {
      if (!candidate.points.some((known) => known.id === point.service_point_id)) {
        candidate.points.push({
          id: point.service_point_id,
          label: <AddressText address={point.address} />,
          matches: point.address_matches,
        });
      } else if (point.address_matches) {
        const known = candidate.points.find((entry) => entry.id === point.service_point_id);
        if (known) known.matches = true;
      }
    }
    byCustomer.set(item.customer_id, candidate);
  }
  return [...byCustomer.values()];
}

export function managerPath(accountId: string): string {
  return `/operator/managers/${encodeURIComponent(accountId)}`;
}

function DecisionForms({ request }: { request: ManagerRequest }) {
  const i18n = useI18n();
  const { t } = i18n;
  const candidates = useMemo(() => candidatesOf(request), [request]);
  const [choices, setChoices] = useState<Record<string, GrantChoice>>(() =>
    Object.fromEntries(
      candidates.map((candidate) => [
        candidate.customerId,
        {
          grant: candidate.points.some((point) => point.matches),
          scope: candidate.scope,
          points: candidate.points.filter((point) => point.matches).map((point) => point.id),
        },
      ]),
    ),
  );
  const [reason, setReason] = useState("");
  const [sending, setSending] = useState<"approve" | "reject" | null>(null);
  const [failure, setFailure] = useState<{ form: "approve" | "reject"; failure: Failure } | null>(null);
  const [decision, setDecision] = useState<Decision | null>(null);

  const change = (customerId: string, next: Partial<GrantChoice>) =>
    setChoices((previous) => {
      const current = previous[customerId] ?? { grant: false, scope: "full" as Scope, points: [] };
      return { ...previous, [customerId]: { ...current, ...next } };
    });

  const approve = async (event: FormEvent) => {
    event.preventDefault();
    setSending("approve");
    setFailure(null);
    const grants = candidates
      .filter((candidate) => choices[candidate.customerId]?.grant)
      .map((candidate) => {
        const choice = choices[candidate.customerId];
        const scope = choice?.scope ?? "full";
        return { customer_id: candidate.customerId, scope, service_point_ids: scope === "partial" ? (choice?.points ?? []) : [] };
      });
    const outcome = await call(
      api.POST("/api/v1/operator/manager-requests/{reference}/approval", {
        params: { path: { reference: request.reference } },
        body: { grants },
      }),
    );
    setSending(null);
    if (outcome.ok) setDecision(outcome.data);
    else setFailure({ form: "approve", failure: outcome.failure });
  };

  const reject = async (event: FormEvent) => {
    event.preventDefault();
    setSending("reject");
    setFailure(null);
    const outcome = await call(
      api.POST("/api/v1/operator/manager-requests/{reference}/rejection", {
        params: { path: { reference: request.reference } },
        body: { reason: reason.trim() },
      }),
    );
    setSending(null);
    if (outcome.ok) setDecision(outcome.data);
    else setFailure({ form: "reject", failure: outcome.failure });
  };

  if (decision) {
    return (
      <div data-testid="decision-result">
        {decision.status === "approved" ? (
          <Notice tone="success">
            <p>{t("operator.approved", { reference: decision.reference, login: decision.manager_login ?? "" })}</p>
            <p>{t("operator.approvedNext")}</p>
          </Notice>
        ) : (
          <Notice tone="success">
            <p>{t("operator.rejected", { reference: decision.reference })}</p>
          </Notice>
        )}
        <p className="actions">
          {decision.manager_account_id ? (
            <Link className="button" to={managerPath(decision.manager_account_id)}>
              {t("operator.managerGrants")}
            </Link>
          ) : null}
          <Link className="button button-secondary" to="/operator/requests">
            {t("operator.backToQueue")}
          </Link>
        </p>
      </div>
    );
  }

  const approveErrors = failure?.form === "approve" ? listFieldErrors(i18n, failure.failure) : new Map<string, string[]>();
  const rejectErrors = failure?.form === "reject" ? listFieldErrors(i18n, failure.failure) : new Map<string, string[]>();
  const approveSummary = failure?.form === "approve" ? [describeFailure(i18n, failure.failure), ...[...approveErrors.values()].flat()] : [];
  const reasonErrors = rejectErrors.get("reason");
  const rejectSummary = failure?.form === "reject" ? [describeFailure(i18n, failure.failure)] : [];

  return (
    <div className="decision">
      <section aria-labelledby="approve-heading">
        <h2 id="approve-heading">{t("operator.approveHeading")}</h2>
        {candidates.length ? (
          <form className="form" onSubmit={approve} noValidate aria-busy={sending === "approve"} data-testid="approve-form">
            <FormAlert messages={approveSummary} />
            {candidates.map((candidate) => {
              const choice = choices[candidate.customerId] ?? { grant: false, scope: "full" as Scope, points: [] };
              const base = `grant-${candidate.customerId}`;
              const name = candidate.name ? `${candidate.name} (${candidate.customerId})` : candidate.customerId;
              return (
                <fieldset key={candidate.customerId} data-testid="grant-fieldset">
                  <legend>{t("operator.customer", { customer: name })}</legend>
                  <div className="field checkbox">
                    <input type="checkbox" id={`${base}-on`} checked={choice.grant} onChange={(event) => change(candidate.customerId, { grant: event.target.checked })} />
                    <label htmlFor={`${base}-on`}>{t("operator.grantThis", { customer: name })}</label>
                  </div>
                  <fieldset className="choices">
                    <legend>{t("managerRequest.scope")}</legend>
                    <Choice name={`${base}-scope`} value="full" checked={choice.scope === "full"} onChange={() => change(candidate.customerId, { scope: "full" })} label={t("scope.fullLong")} />
                    <Choice name={`${base}-scope`} value="partial" checked={choice.scope === "partial"} onChange={() => change(candidate.customerId, { scope: "partial" })} label={t("scope.partialLong")} />
                  </fieldset>
                  {choice.scope === "partial" ? (
                    <fieldset className="choices">
                      <legend>{t("operator.servicePoints")}</legend>
                      {candidate.points.map((point) => (
                        <div className="field checkbox" key={point.id}>
                          <input
                            type="checkbox"
                            id={`${base}-${point.id}`}
                            checked={choice.points.includes(point.id)}
                            onChange={(event) =>
                              change(candidate.customerId, {
                                points: event.target.checked ? [...choice.points, point.id] : choice.points.filter((id) => id !== point.id),
                              })
                            }
                          />
                          <label htmlFor={`${base}-${point.id}`}>
                            {point.id}: {point.label}
                          </label>
                        </div>
                      ))}
                    </fieldset>
                  ) : null}
                </fieldset>
              );
            })}
            <button type="submit" className="button" disabled={sending !== null}>
              {sending === "approve" ? t("common.sending") : t("operator.approve")}
            </button>
          </form>
        ) : (
          <p className="empty">{t("operator.nothingMatched")}</p>
        )}
      </section>

      <section aria-labelledby="reject-heading">
        <h2 id="reject-heading">{t("operator.rejectHeading")}</h2>
        <form className="form" onSubmit={reject} noValidate aria-busy={sending === "reject"} data-testid="reject-form">
          <FormAlert messages={rejectSummary} />
          <div className={reasonErrors?.length ? "field field-invalid" : "field"}>
            <label htmlFor="reason">{t("operator.reason")}</label>
            <p className="hint" id="reason-hint">
              {t("operator.reasonHint")}
            </p>
            <FieldErrors id={reasonErrors?.length ? "reason-error" : undefined} errors={reasonErrors} />
            <textarea
              id="reason"
              name="reason"
              rows={4}
              value={reason}
              onChange={(event) => setReason(event.target.value)}
              aria-invalid={reasonErrors?.length ? true : undefined}
              aria-describedby={reasonErrors?.length ? "reason-error reason-hint" : "reason-hint"}
              required
            />
          </div>
          <button type="submit" className="button button-danger" disabled={sending !== null}>
            {sending === "reject" ? t("common.sending") : t("operator.reject")}
          </button>
        </form>
      </section>
    </div>
  );
}

/** One pending request: its properties and matches, and the approval and rejection forms. */
export default function OperatorDecisionPage() {
  const { t } = useI18n();
  const reference = useParams().reference ?? "";
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/operator/manager-requests")), [reference]);
  const request = state.status === "ok" ? state.data.items.find((item) => item.reference === reference) : undefined;
  return (
    <div>
      <p className="breadcrumb">
        <Link to="/operator/requests">{t("operator.backToQueue")}</Link>
      </p>
      <PageHeading>{t("operator.decisionTitle", { reference })}</PageHeading>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" && !request ? <p className="empty">{t("operator.notPending")}</p> : null}
      {request ? (
        <>
          <section className="card" aria-labelledby="request-heading">
            <h2 id="request-heading">{t("operator.request", { reference: request.reference, company: request.company })}</h2>
            <RequestFacts request={request} />
            <PropertiesTable request={request} />
          </section>
          <DecisionForms request={request} />
        </>
      ) : null}
    </div>
  );
}
