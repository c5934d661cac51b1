-- Online payments (issue 11, decision 60). A payment the provider has confirmed
-- (payments.payment.completed) is kept once per payment id, and until the ERP books it its money
-- stands in `payments` as rows awaiting booking, one per invoice it pays (and one naming no
-- invoice for what is left over), so that the balance, the settlement and a partial grant's view
-- read it as they read any payment. The ERP's booking of the same money names the payment id as
-- its `reference` and replaces those rows.
CREATE TABLE online_payments (
    payment_id             uuid PRIMARY KEY,
    customer_id            text NOT NULL,
    amount                 numeric(14, 2) NOT NULL CHECK (amount > 0),
    invoices               jsonb NOT NULL,
    method                 text NOT NULL,
    provider               text NOT NULL,
    provider_transaction_id text NOT NULL,
    paid_by_account_id     uuid NOT NULL,
    completed_at           timestamptz NOT NULL,
    received_at            timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE payments ADD COLUMN reference uuid;
ALTER TABLE payments ADD COLUMN awaiting_booking boolean NOT NULL DEFAULT false;
-- A booking replaces the rows of its reference; a late completed payment looks for a booking.
CREATE INDEX payments_reference ON payments (reference) WHERE reference IS NOT NULL;
-- Whether an invoice has money awaiting booking, read beside each invoice shown.
CREATE INDEX payments_awaiting_booking ON payments (invoice_number) WHERE awaiting_booking;
