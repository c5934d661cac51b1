import { Link } from "react-router";

import { api } from "../api/client";
import { PageHeading } from "../components/PageHeading";
import { PropertiesTable, RequestFacts } from "../components/Requests";
import { Failed, Loading } from "../components/Status";
import { useI18n } from "../i18n/I18nProvider";
import { call, useLoad } from "../lib/load";

export function requestPath(reference: string): string {
  return `/operator/requests/${encodeURIComponent(reference)}`;
}

/** The operator's queue: pending manager requests, oldest first, with each property's match. */
export default function OperatorRequestsPage() {
  const { t } = useI18n();
  const [state, reload] = useLoad(() => call(api.GET("/api/v1/operator/manager-requests")), []);
  return (
    <div>
      <PageHeading>{t("operator.requestsTitle")}</PageHeading>
      <p>{t("operator.requestsIntro")}</p>
      {state.status === "loading" ? <Loading /> : null}
      {state.status === "error" ? <Failed failure={state.failure} onRetry={reload} /> : null}
      {state.status === "ok" ? (
        state.data.items.length ? (
          state.data.items.map((request) => (
            <section key={request.reference} className="card request-card" data-testid="request-card" aria-labelledby={`request-${request.reference}`}>
              <h2 id={`request-${request.reference}`}>{t("operator.request", { reference: request.reference, company: request.company })}</h2>
              <RequestFacts request={request} />
              <PropertiesTable request={request} />
              <p>
                <Link className="button" to={requestPath(request.reference)}>
                  {t("operator.decide", { reference: request.reference })}
                </Link>
              </p>
            </section>
          ))
        ) : (
          <p className="empty">{t("operator.requestsEmpty")}</p>
        )
      ) : null}
    </div>
  );
}
