-- E-invoices waiting to go (issue 12): one row per invoice first issued while its customer's
-- consent was on (e_invoice_consents.state = 'on'), written by the feed's invoice handler in the
-- invoice's own transaction. The address and language are those of that moment: a consent
-- withdrawn or moved later counts from the next invoice. The delivery loop
-- (services/billing/e_invoice_delivery.py) renders the PDF, writes billing.e-invoice.issued to
-- the outbox and marks the row sent in one transaction; a PDF that cannot be rendered leaves the
-- row failed with the reason (an operator re-queues it by setting status back to pending).
CREATE TABLE e_invoice_deliveries (
    invoice_number text PRIMARY KEY,
    customer_id    text NOT NULL,
    address        text NOT NULL,
    language       text NOT NULL,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz
);
-- The loop reads only what waits, oldest first.
CREATE INDEX e_invoice_deliveries_pending ON e_invoice_deliveries (created_at, invoice_number)
    WHERE status = 'pending';

-- The published billing.e-invoice.issued rows of the outbox (each carries a PDF): the delivery
-- loop deletes them as soon as the relay has published them, instead of keeping them for
-- EBOK_OUTBOX_RETENTION_DAYS. The predicate names the type literally, so the index holds only
-- those rows and finding them reads nothing else of the outbox.
CREATE INDEX outbox_e_invoice_issued ON outbox (id)
    WHERE routing_key = 'billing.e-invoice.issued' AND published_at IS NOT NULL;

-- Due-date reminders: one row per invoice reminded (billing.invoice.due-soon written to the
-- outbox in the same transaction), so a reminder goes once, across restarts and instances
-- (the primary key: a second instance's insert of the same invoice does nothing).
CREATE TABLE invoice_reminders (
    invoice_number text PRIMARY KEY,
    reminded_at    timestamptz NOT NULL DEFAULT now()
);
-- The scheduler's window [today, today + EBOK_REMINDER_DAYS_BEFORE_DUE] is a range of this
-- index: a pass reads the invoices due in the window, not all of them. (A plain index: updates
-- of `paid` by the settlement stay HOT.)
CREATE INDEX invoices_due ON invoices (due_on, invoice_number);

-- Each finished pass of the reminder scheduler (one row, updated): operations and tests see
-- that a pass ran and what it reminded.
CREATE TABLE reminder_scans (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_scan_at  timestamptz NOT NULL,
    last_window   daterange NOT NULL,
    last_reminded integer NOT NULL,
    scans         bigint NOT NULL DEFAULT 1
);
