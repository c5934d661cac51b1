-- The online payments whose "Payment received" email identity has asked for (issue 11): one
-- row per payment, so the same payment published again asks for no second email.
CREATE TABLE payment_receipts (
    payment_id   uuid PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now()
);
