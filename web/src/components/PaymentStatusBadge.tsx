import type { PaymentStatus } from "../api/types";
import { useI18n } from "../i18n/I18nProvider";

/** An online payment's status as a badge (colour and words). */
export function PaymentStatusBadge({ status }: { status: PaymentStatus }) {
  const { t } = useI18n();
  return <span className={`badge badge-payment-${status}`}>{t(`onlinePayment.status.${status}`)}</span>;
}
