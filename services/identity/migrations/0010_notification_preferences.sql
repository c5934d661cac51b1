-- The optional emails an account has chosen (issue 12). No row: every one of them is on.
CREATE TABLE notification_preferences (
    account_id       uuid PRIMARY KEY REFERENCES accounts,
    invoice_issued   boolean NOT NULL DEFAULT true,
    due_reminder     boolean NOT NULL DEFAULT true,
    payment_received boolean NOT NULL DEFAULT true,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The due-date reminders (by invoice number) and booking receipts (by booking id) identity has
-- asked notifications for: billing's fact published again under a new message id asks for no
-- second email (as payment_receipts does for online payments).
CREATE TABLE account_notices (
    kind         text NOT NULL CHECK (kind IN ('invoice-reminder', 'booking-receipt')),
    reference    text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, reference)
);
