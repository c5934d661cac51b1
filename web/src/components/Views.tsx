/** Pieces shown on more than one page: invoice rows, meter cards, contracts, addresses. */
import { Link } from "react-router";

import type { Address, Contract, Invoice, InvoiceStatus, Meter } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";
import { hasDue, payPath } from "../lib/payments";

export function invoicePath(number: string): string {
  return `/invoices/${encodeURIComponent(number)}`;
}

export function meterPath(number: string): string {
  return `/meters/${encodeURIComponent(number)}`;
}

export function AddressText({ address }: { address: Address }) {
  const { t } = useI18n();
  const params = {
    street: address.street,
    building: address.building,
    apartment: address.apartment ?? "",
    postalCode: address.postal_code,
    city: address.city,
  };
  return <>{address.apartment ? t("address.apartment", params) : t("address.plain", params)}</>;
}

export function StatusBadge({ status }: { status: InvoiceStatus }) {
  const { t } = useI18n();
  return <span className={`badge badge-${status}`}>{t(`invoice.status.${status}`)}</span>;
}

export function InvoiceTable({
  invoices,
  caption,
  regionRef,
}: {
  invoices: Invoice[];
  caption: string;
  /** For the invoices list: its region takes the focus after another page was chosen. */
  regionRef?: (node: HTMLElement | null) => void;
}) {
  const { t, date, money } = useI18n();
  return (
    <div className="table-wrap" role="region" aria-label={caption} tabIndex={0} ref={regionRef}>
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("invoice.number")}</th>
            <th scope="col">{t("invoice.period")}</th>
            <th scope="col">{t("invoice.dueOn")}</th>
            <th scope="col" className="num">
              {t("invoice.gross")}
            </th>
            <th scope="col" className="num">
              {t("invoice.amountDue")}
            </th>
            <th scope="col">{t("invoice.status")}</th>
            <th scope="col">{t("pay.column")}</th>
          </tr>
        </thead>
        <tbody>
          {invoices.map((invoice) => (
            <tr key={invoice.invoice_number} data-testid="invoice-row">
              <th scope="row">
                <Link to={invoicePath(invoice.invoice_number)}>{invoice.invoice_number}</Link>
              </th>
              <td>{t("invoice.periodRange", { from: date(invoice.period_from), to: date(invoice.period_to) })}</td>
              <td>{date(invoice.due_on)}</td>
              <td className="num">{money(invoice.gross)}</td>
              <td className="num">{money(invoice.amount_due)}</td>
              <td>
                <StatusBadge status={invoice.status} />
              </td>
              <td>
                {hasDue(invoice) ? (
                  <Link to={payPath([invoice.invoice_number])} aria-label={t("pay.invoice", { number: invoice.invoice_number })}>
                    {t("pay.action")}
                  </Link>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MeterCard({ meter, level = 3 }: { meter: Meter; level?: 2 | 3 }) {
  const { t, date, dateTime, cubicMetres } = useI18n();
  const Heading = level === 2 ? "h2" : "h3";
  const headingId = `meter-${meter.meter_number.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return (
    <article className="card meter-card" data-testid="meter-card" aria-labelledby={headingId}>
      <Heading id={headingId}>{t("meters.meter", { number: meter.meter_number })}</Heading>
      <dl className="facts">
        <div>
          <dt>{t("meters.latest")}</dt>
          <dd>
            {meter.latest_reading
              ? t("meters.latestValue", {
                  value: cubicMetres(meter.latest_reading.value),
                  date: dateTime(meter.latest_reading.read_at),
                })
              : t("meters.noReading")}
          </dd>
        </div>
        <div>
          <dt>{t("meters.address")}</dt>
          <dd>
            <AddressText address={meter.address} />
          </dd>
        </div>
        <div>
          <dt>{t("meters.contract")}</dt>
          <dd>{meter.contract_number}</dd>
        </div>
        <div>
          <dt>{t("meters.installedOn")}</dt>
          <dd>{date(meter.installed_on)}</dd>
        </div>
        {meter.removed_on ? (
          <div>
            <dt>{t("meters.removedOn")}</dt>
            <dd>{date(meter.removed_on)}</dd>
          </div>
        ) : null}
      </dl>
      <p>
        <Link to={meterPath(meter.meter_number)}>{t("meters.open", { number: meter.meter_number })}</Link>
      </p>
    </article>
  );
}

export function ContractCard({ contract, level = 2 }: { contract: Contract; level?: 2 | 3 }) {
  const { t, date } = useI18n();
  const Heading = level === 2 ? "h2" : "h3";
  const headingId = `contract-${contract.contract_number.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return (
    <article className="card" aria-labelledby={headingId}>
      <Heading id={headingId}>{t("contracts.contract", { number: contract.contract_number })}</Heading>
      <dl className="facts">
        <div>
          <dt>{t("contracts.signedOn")}</dt>
          <dd>{date(contract.signed_on)}</dd>
        </div>
        <div>
          <dt>{t("contracts.status")}</dt>
          <dd>{t(`contracts.status.${contract.status}`)}</dd>
        </div>
      </dl>
      <div className="table-wrap" role="region" aria-label={t("contracts.servicePoints")} tabIndex={0}>
        <table>
          <caption>{t("contracts.servicePoints")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("contracts.servicePoint")}</th>
              <th scope="col">{t("contracts.address")}</th>
              <th scope="col">{t("contracts.meter")}</th>
            </tr>
          </thead>
          <tbody>
            {contract.service_points.map((point) => (
              <tr key={point.service_point_id}>
                <th scope="row">{point.service_point_id}</th>
                <td>
                  <AddressText address={point.address} />
                </td>
                <td>
                  <Link to={meterPath(point.meter_number)}>{point.meter_number}</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </article>
  );
}
