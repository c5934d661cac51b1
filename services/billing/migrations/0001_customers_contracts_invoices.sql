-- Billing's own copy of the utility ERP's records, as fed over the integration exchange.
CREATE TABLE customers (
    customer_id  text PRIMARY KEY,
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('person', 'company')),
    tax_id       text,
    email        text,
    phone        text,
    address      jsonb NOT NULL,
    language     text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contracts (
    contract_number text PRIMARY KEY,
    customer_id     text NOT NULL,
    signed_on       date NOT NULL,
    status          text NOT NULL CHECK (status IN ('active', 'terminated')),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contracts_customer ON contracts (customer_id);

CREATE TABLE service_points (
    service_point_id text PRIMARY KEY,
    contract_number  text NOT NULL REFERENCES contracts ON DELETE CASCADE,
    address          jsonb NOT NULL,
    meter_number     text NOT NULL
);
CREATE INDEX service_points_contract ON service_points (contract_number);

CREATE TABLE invoices (
    invoice_number  text PRIMARY KEY,
    customer_id     text NOT NULL,
    contract_number text NOT NULL,
    issued_on       date NOT NULL,
    due_on          date NOT NULL,
    period_from     date NOT NULL,
    period_to       date NOT NULL,
    net             numeric(14, 2) NOT NULL,
    vat             numeric(14, 2) NOT NULL,
    gross           numeric(14, 2) NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoices_customer ON invoices (customer_id, issued_on DESC);

CREATE TABLE invoice_lines (
    invoice_number text NOT NULL REFERENCES invoices ON DELETE CASCADE,
    position       integer NOT NULL,
    description    text NOT NULL,
    quantity       numeric(14, 3) NOT NULL,
    unit           text NOT NULL,
    unit_price     numeric(14, 4) NOT NULL,
    net            numeric(14, 2) NOT NULL,
    vat_rate       numeric(5, 2) NOT NULL,
    PRIMARY KEY (invoice_number, position)
);
