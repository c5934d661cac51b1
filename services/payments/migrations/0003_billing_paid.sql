-- billing.invoice.settled: what billing knows an invoice has been paid (any channel: the ERP's
-- bookings, credit notes, online payments), the latest fact by the time billing wrote it.
CREATE TABLE invoice_paid (
    invoice_number text PRIMARY KEY,
    paid           numeric(14, 2) NOT NULL,
    as_of          timestamptz NOT NULL
);

-- When billing first named this payment among the money this invoice has been paid: from then on
-- billing's paid amount counts this share, and payments no longer subtracts it again
-- (decision 62). Never unset: billing keeps counting the money once it has it.
ALTER TABLE payment_invoices ADD COLUMN counted_by_billing_at timestamptz;
