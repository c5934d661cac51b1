-- E-invoice consent (issue 12): one row per customer that has ever asked for it or had it set by
-- the ERP. `state` on: invoices issued from now go by email to `address`; pending: asked for,
-- waiting for the confirmation link (invoices still go on paper); off: withdrawn or never on.
-- An address change waiting for its link leaves the consent on at the old address.
CREATE TABLE e_invoice_consents (
    customer_id         text PRIMARY KEY,
    state               text NOT NULL CHECK (state IN ('off', 'pending', 'on')),
    address             text,
    since               timestamptz,
    regulations_version text,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'on') = (address IS NOT NULL))
);

-- The language of each customer's own e-BOK account (identity.account.activated), for the emails
-- billing asks for: the account's language, else the ERP's (customers.language), else Polish.
CREATE TABLE account_languages (
    customer_id text PRIMARY KEY,
    account_id  uuid NOT NULL,
    language    text NOT NULL
);

-- Every step of each customer's consent, for GET /e-invoice's history: what, when, who (the
-- principal's role and login, or the ERP), under which regulations, from which client address.
CREATE TABLE e_invoice_history (
    id                  bigserial PRIMARY KEY,
    customer_id         text NOT NULL,
    action              text NOT NULL CHECK (action IN ('activation-requested', 'activated',
                            'address-change-requested', 'address-changed', 'withdrawn')),
    at                  timestamptz NOT NULL DEFAULT now(),
    address             text,
    by_role             text NOT NULL CHECK (by_role IN ('customer', 'manager', 'erp')),
    by_login            text,
    by_account_id       uuid,
    regulations_version text,
    client_address      text
);
CREATE INDEX e_invoice_history_customer ON e_invoice_history (customer_id, id DESC);

-- Confirmation links: the token's SHA-256 only; single use. A row stays once used, replaced or
-- cancelled, so that such a link is told apart from one that never existed (410, not 400).
-- At most one link of a customer works at a time (the partial unique index).
CREATE TABLE e_invoice_confirmations (
    token_hash          bytea PRIMARY KEY,
    customer_id         text NOT NULL,
    purpose             text NOT NULL CHECK (purpose IN ('activate', 'change-address')),
    address             text NOT NULL,
    status              text NOT NULL
                            CHECK (status IN ('pending', 'used', 'superseded', 'cancelled')),
    requested_at        timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    used_at             timestamptz,
    by_role             text NOT NULL CHECK (by_role IN ('customer', 'manager')),
    by_login            text NOT NULL,
    by_account_id       uuid,
    regulations_version text
);
CREATE UNIQUE INDEX e_invoice_confirmations_pending ON e_invoice_confirmations (customer_id)
    WHERE status = 'pending';

-- Hits per key (the customer's e-invoice requests) and fixed window, as identity and payments
-- count their limits.
CREATE TABLE rate_limits (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
