-- Cases (issue 13): what customers and their managers write to the utility, numbered gap-free
-- per year, with their status timeline and message thread; and what correspondence knows of
-- billing's contracts and invoices (which service points and invoices are the customer's, and
-- which contract each is on: a partial grant's part).

-- billing.contract.upserted: the customer's service points and their contract.
CREATE TABLE service_points (
    service_point_id text PRIMARY KEY,
    customer_id      text NOT NULL,
    contract_number  text NOT NULL,
    address          jsonb NOT NULL
);
CREATE INDEX service_points_contract ON service_points (contract_number);
CREATE INDEX service_points_customer ON service_points (customer_id);

-- billing.invoice.issued: the invoices a billing complaint may name.
CREATE TABLE invoices (
    invoice_number  text PRIMARY KEY,
    customer_id     text NOT NULL,
    contract_number text NOT NULL
);

-- The last number given in each year. A new case takes the next one with UPDATE ... RETURNING
-- in its own transaction: creators wait for each other on the year's row, and a case that rolls
-- back gives its number back, so the numbers have no gaps.
CREATE TABLE case_numbers (
    year integer PRIMARY KEY,
    last integer NOT NULL CHECK (last >= 0)
);

CREATE TABLE cases (
    case_id                     uuid PRIMARY KEY,
    number                      text NOT NULL UNIQUE,
    year                        integer NOT NULL,
    seq                         integer NOT NULL CHECK (seq >= 1),
    customer_id                 text NOT NULL,
    kind                        text NOT NULL CHECK (kind IN ('failure', 'water-quality',
                                         'data-change', 'billing-complaint', 'question')),
    status                      text NOT NULL CHECK (status IN ('submitted', 'registered',
                                         'in-progress', 'answered', 'closed', 'rejected')),
    title                       text NOT NULL,
    subject                     text,
    description                 text NOT NULL,
    service_point_id            text,
    location                    text,
    since                       date,
    invoice_number              text,
    -- The contract of the service point or invoice named, when the case was written: which
    -- partial grants see the case.
    contract_number             text,
    changes                     jsonb NOT NULL DEFAULT '[]',
    submitted_by_role           text NOT NULL CHECK (submitted_by_role IN ('customer', 'manager')),
    submitted_by_account_id     uuid NOT NULL,
    submitted_by_login          text NOT NULL,
    submitted_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    -- The back office's latest update taken (its updated_at): an older one arriving late is
    -- not applied over it.
    backoffice_updated_at       timestamptz,
    UNIQUE (year, seq)
);
-- The keyset list (newest first) and the open cases of the dashboard.
CREATE INDEX cases_customer ON cases (customer_id, submitted_at DESC, number DESC);

CREATE TABLE case_status_history (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id       uuid NOT NULL REFERENCES cases,
    status        text NOT NULL,
    at            timestamptz NOT NULL,
    by_role       text NOT NULL CHECK (by_role IN ('customer', 'manager', 'utility')),
    by_account_id uuid,
    by_login      text,
    by_name       text,
    reason        text
);
-- Read in the order taken (id): the back office's clock (`at` of its updates) may differ.
CREATE INDEX case_status_history_case ON case_status_history (case_id, id);

CREATE TABLE case_messages (
    message_id        uuid PRIMARY KEY,
    -- The thread's order: as taken (the back office's clock may differ from ours).
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    case_id           uuid NOT NULL REFERENCES cases,
    author_role       text NOT NULL CHECK (author_role IN ('customer', 'manager', 'utility')),
    author_account_id uuid,
    author_login      text,
    author_name       text,
    text              text NOT NULL,
    posted_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_messages_case ON case_messages (case_id, seq);

-- Idempotency-Key of POST /cases: one case per account and key. Taken first in the creating
-- transaction: a second request with the same key waits for the first and then answers its case.
CREATE TABLE case_requests (
    account_id      uuid NOT NULL,
    idempotency_key text NOT NULL,
    request_hash    text NOT NULL,
    case_id         uuid NOT NULL REFERENCES cases DEFERRABLE INITIALLY DEFERRED,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, idempotency_key)
);
