-- Payments booked by the ERP and accounting notes; what each invoice has been paid is derived
-- from them (see services/billing/domain.py) and kept on the invoice for reading and filtering.
CREATE TABLE payments (
    booking_id     text PRIMARY KEY,
    customer_id    text NOT NULL,
    booked_on      date NOT NULL,
    amount         numeric(14, 2) NOT NULL CHECK (amount > 0),
    invoice_number text,
    channel        text NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_customer ON payments (customer_id, booked_on DESC);

CREATE TABLE notes (
    note_number    text PRIMARY KEY,
    customer_id    text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('interest', 'debit', 'credit')),
    issued_on      date NOT NULL,
    amount         numeric(14, 2) NOT NULL CHECK (amount > 0),
    description    text NOT NULL,
    invoice_number text,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_customer ON notes (customer_id, issued_on DESC);

ALTER TABLE invoices ADD COLUMN paid numeric(14, 2) NOT NULL DEFAULT 0;
CREATE INDEX invoices_customer_due ON invoices (customer_id, due_on);
