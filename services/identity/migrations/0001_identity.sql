-- identity's projection of billing's customers and invoices (built from billing's events).
CREATE TABLE customers (
    customer_id text PRIMARY KEY,
    name        text NOT NULL,
    email       text,
    language    text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invoices (
    invoice_number text PRIMARY KEY,
    customer_id    text NOT NULL,
    gross          numeric(14, 2) NOT NULL,
    issued_on      date NOT NULL
);
CREATE INDEX invoices_customer ON invoices (customer_id);

CREATE TABLE service_points (
    service_point_id text PRIMARY KEY,
    customer_id      text NOT NULL,
    contract_number  text NOT NULL,
    address          jsonb NOT NULL
);
CREATE INDEX service_points_customer ON service_points (customer_id);

-- The e-BOK regulations; a registration accepts one version.
CREATE TABLE terms (
    version      text PRIMARY KEY,
    title        text NOT NULL,
    body         text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO terms (version, title, body) VALUES (
    '2026-01',
    'Regulamin e-BOK / e-BOK regulations',
    E'1. e-BOK is the internet customer service office of the water and sewage utility.\n'
    '2. An account is available to a customer holding a water supply and/or sewage disposal '
    'contract, who confirms it with the number and gross amount of one of their invoices.\n'
    '3. The customer keeps the login and password secret and changes the one-time password at '
    'the first login.\n'
    '4. The utility processes personal data to provide e-BOK services, as described in its '
    'privacy notice.\n'
    '5. The customer may close the account at any time; the contract is not affected.'
);

CREATE TABLE captchas (
    id          uuid PRIMARY KEY,
    answer_hash bytea NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Customer and manager accounts.
--   awaiting_credentials_email: created at activation, one-time password issued
--   awaiting_activation_email:  "Registration - confirmation" was handed to the SMTP server
--   active:                     "Account activation" was handed to the SMTP server; login works
CREATE TABLE accounts (
    id                   uuid PRIMARY KEY,
    customer_id          text UNIQUE,
    login                text NOT NULL UNIQUE,
    email                text NOT NULL,
    phone                text,
    language             text NOT NULL,
    role                 text NOT NULL CHECK (role IN ('customer', 'manager', 'operator')),
    status               text NOT NULL CHECK (status IN ('awaiting_credentials_email',
                                              'awaiting_activation_email', 'active', 'locked')),
    password_hash        text NOT NULL,
    must_change_password boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    activated_at         timestamptz,
    password_changed_at  timestamptz
);

CREATE TABLE registrations (
    id               uuid PRIMARY KEY,
    customer_id      text NOT NULL,
    invoice_number   text NOT NULL,
    email            text NOT NULL,
    phone            text,
    language         text NOT NULL,
    terms_version    text NOT NULL REFERENCES terms,
    token_hash       bytea NOT NULL UNIQUE,
    token_expires_at timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    client_ip        text,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'used', 'superseded')),
    account_id       uuid REFERENCES accounts
);
CREATE INDEX registrations_customer ON registrations (customer_id) WHERE status = 'pending';

CREATE TABLE terms_acceptances (
    account_id    uuid NOT NULL REFERENCES accounts,
    terms_version text NOT NULL REFERENCES terms,
    accepted_at   timestamptz NOT NULL,
    client_ip     text,
    PRIMARY KEY (account_id, terms_version)
);

-- Opaque refresh tokens, stored hashed; each use rotates within a family. Reuse of a used token
-- revokes the whole family (it was stolen, or replayed).
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    account_id  uuid NOT NULL REFERENCES accounts,
    token_hash  bytea NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Fixed-window counters for rate limits, shared by every identity instance.
CREATE TABLE rate_limits (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
