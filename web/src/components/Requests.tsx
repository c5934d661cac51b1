/** A manager request as an operator reads it: the company and each property's match. */
import type { ManagerRequest, PropertyMatch } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";
import { AddressText } from "./Views";

export function MatchBadge({ match }: { match: PropertyMatch["match"] }) {
  const { t } = useI18n();
  return <span className={`badge badge-match-${match}`}>{t(`match.${match}`)}</span>;
}

export function RequestFacts({ request }: { request: ManagerRequest }) {
  const { t, dateTime } = useI18n();
  return (
    <dl className="facts facts-columns">
      <div>
        <dt>{t("managerRequest.company")}</dt>
        <dd>{request.company}</dd>
      </div>
      <div>
        <dt>{t("managerRequest.nip")}</dt>
        <dd>{request.nip}</dd>
      </div>
      <div>
        <dt>{t("managerRequest.contactPerson")}</dt>
        <dd>{request.contact_person}</dd>
      </div>
      <div>
        <dt>{t("register.email")}</dt>
        <dd>{request.email}</dd>
      </div>
      <div>
        <dt>{t("register.phone")}</dt>
        <dd>{request.phone}</dd>
      </div>
      <div>
        <dt>{t("operator.receivedAt")}</dt>
        <dd>{dateTime(request.created_at)}</dd>
      </div>
    </dl>
  );
}

/** The requested properties as a table: address, proof, scope asked, match, what it matched. */
export function PropertiesTable({ request }: { request: ManagerRequest }) {
  const { t, money } = useI18n();
  const caption = t("operator.propertiesCaption", { reference: request.reference });
  return (
    <div className="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table className="wide-table" data-testid="request-properties">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("operator.address")}</th>
            <th scope="col">{t("operator.proof")}</th>
            <th scope="col">{t("managerRequest.scope")}</th>
            <th scope="col">{t("operator.match")}</th>
            <th scope="col">{t("operator.found")}</th>
          </tr>
        </thead>
        <tbody>
          {request.properties.map((item) => (
            <tr key={item.position} data-testid="property-row">
              <th scope="row">
                <AddressText address={item.address} />
              </th>
              <td>
                {item.contract_number
                  ? t("operator.proofContract", { number: item.contract_number })
                  : t("operator.proofInvoice", { number: item.invoice_number ?? "", amount: money(item.invoice_amount ?? "0") })}
              </td>
              <td>{t(`scope.${item.scope_asked}`)}</td>
              <td>
                <MatchBadge match={item.match} />
              </td>
              <td>
                {item.customer_id ? (
                  <>
                    <p className="cell-line">{item.customer_name ? `${item.customer_name} (${item.customer_id})` : item.customer_id}</p>
                    {item.service_points.map((point) => (
                      <p className="cell-line" key={point.service_point_id}>
                        {point.service_point_id}: <AddressText address={point.address} />
                        {point.address_matches ? ` — ${t("operator.addressMatches")}` : ""}
                      </p>
                    ))}
                  </>
                ) : (
                  t("common.none")
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
