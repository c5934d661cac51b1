-- What payments knows of the customers' invoices and contracts (projections of billing's
-- events), and the payments themselves with everything the provider told us about them.

-- billing.invoice.issued: what can be paid. What is due = gross minus what payments itself has
-- collected for it (billing publishes no paid amounts; decision in docs/decisions.md).
CREATE TABLE invoices (
    invoice_number  text PRIMARY KEY,
    customer_id     text NOT NULL,
    contract_number text NOT NULL,
    issued_on       date NOT NULL,
    due_on          date NOT NULL,
    gross           numeric(14, 2) NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoices_customer ON invoices (customer_id, due_on);
CREATE INDEX invoices_contract ON invoices (contract_number);

-- billing.contract.upserted: which contract a service point is on (a partial grant's part).
CREATE TABLE service_points (
    service_point_id text PRIMARY KEY,
    contract_number  text NOT NULL,
    customer_id      text NOT NULL
);

-- billing.customer.upserted: the payer's email and language, which the provider asks for.
CREATE TABLE customers (
    customer_id text PRIMARY KEY,
    email       text,
    language    text
);

-- A payment order: created before the provider is asked, pending once it has registered the
-- transaction, then paid, failed, cancelled or expired (final).
CREATE TABLE payments (
    payment_id       uuid PRIMARY KEY,
    customer_id      text NOT NULL,
    account_id       uuid NOT NULL,
    idempotency_key  text NOT NULL,
    request_hash     text NOT NULL,
    amount           numeric(14, 2) NOT NULL CHECK (amount >= 1.00),
    currency         text NOT NULL DEFAULT 'PLN',
    method           text NOT NULL CHECK (method IN ('card', 'pay-by-link', 'blik')),
    bank             text,
    return_url       text NOT NULL,
    provider         text NOT NULL,
    status           text NOT NULL
                     CHECK (status IN ('created', 'pending', 'paid', 'failed', 'cancelled',
                                       'expired')),
    redirect_url     text,
    failure_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    pending_since    timestamptz,
    settled_at       timestamptz,
    checked_at       timestamptz,  -- when reconciliation last asked the provider
    UNIQUE (account_id, idempotency_key)
);
CREATE INDEX payments_customer ON payments (customer_id, created_at DESC, payment_id DESC);
CREATE INDEX payments_pending ON payments (pending_since) WHERE status = 'pending';

-- How much of a payment goes to each invoice it names.
CREATE TABLE payment_invoices (
    payment_id     uuid NOT NULL REFERENCES payments,
    invoice_number text NOT NULL,
    amount         numeric(14, 2) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (payment_id, invoice_number)
);
CREATE INDEX payment_invoices_invoice ON payment_invoices (invoice_number);

-- The provider's side of a payment: its registration token and, once verified, its order.
CREATE TABLE provider_transactions (
    payment_id     uuid PRIMARY KEY REFERENCES payments,
    provider       text NOT NULL,
    token          text,
    order_id       text,
    method_id      integer,
    statement      text,
    amount         numeric(14, 2),
    currency       text,
    registered_at  timestamptz,
    verified_at    timestamptz
);

-- Every notification a provider sent us, as received, with what we made of it.
CREATE TABLE provider_notifications (
    notification_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider        text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    payment_id      uuid,
    body            text NOT NULL,
    verdict         text NOT NULL,
    detail          text
);
CREATE INDEX provider_notifications_payment ON provider_notifications (payment_id)
    WHERE payment_id IS NOT NULL;

-- Refunds (none are made yet: the table holds their state when they are).
CREATE TABLE refunds (
    refund_id          uuid PRIMARY KEY,
    payment_id         uuid NOT NULL REFERENCES payments,
    amount             numeric(14, 2) NOT NULL CHECK (amount > 0),
    status             text NOT NULL CHECK (status IN ('requested', 'pending', 'done',
                                                       'failed')),
    provider_refund_id text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment ON refunds (payment_id);
