-- Property managers and utility operators (issue 10).

-- A manager account is made when an operator approves a request, or when a customer invites a
-- manager, before its holder has followed the activation link: it holds its grants from then
-- on, but nobody can sign in to it until the third email of the registration sequence is sent.
ALTER TABLE accounts DROP CONSTRAINT accounts_status_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_status_check
    CHECK (status IN ('awaiting_activation_link', 'awaiting_credentials_email',
                      'awaiting_activation_email', 'active', 'locked'));
ALTER TABLE accounts ADD COLUMN company text;
CREATE INDEX accounts_manager_email ON accounts (lower(email)) WHERE role = 'manager';

-- A manager's activation link is a registration of the account made for it (no customer).
ALTER TABLE registrations ALTER COLUMN customer_id DROP NOT NULL;
ALTER TABLE registrations ADD COLUMN kind text NOT NULL DEFAULT 'customer'
    CHECK (kind IN ('customer', 'manager'));

CREATE SEQUENCE manager_request_numbers;

-- A company's request for a manager account, as sent through the public form.
CREATE TABLE manager_requests (
    id                  uuid PRIMARY KEY,
    reference           text NOT NULL UNIQUE,
    company             text NOT NULL,
    nip                 text NOT NULL CHECK (nip ~ '^[0-9]{10}$'),
    contact_person      text NOT NULL,
    email               text NOT NULL,
    phone               text NOT NULL,
    language            text NOT NULL,
    terms_version       text NOT NULL REFERENCES terms,
    client_ip           text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by          uuid REFERENCES accounts,
    decided_by_login    text,
    decided_at          timestamptz,
    reason              text,
    manager_account_id  uuid REFERENCES accounts,
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX manager_requests_pending ON manager_requests (created_at) WHERE status = 'pending';

-- The properties a request names, each with its proof: a contract number, or the number and
-- gross amount of a recent invoice.
CREATE TABLE manager_request_properties (
    request_id      uuid NOT NULL REFERENCES manager_requests,
    position        integer NOT NULL,
    address         jsonb NOT NULL,
    contract_number text,
    invoice_number  text,
    invoice_gross   numeric(14, 2),
    scope_asked     text NOT NULL CHECK (scope_asked IN ('full', 'partial')),
    PRIMARY KEY (request_id, position),
    CHECK ((contract_number IS NOT NULL)
           OR (invoice_number IS NOT NULL AND invoice_gross IS NOT NULL))
);

-- A manager's grant over one customer's properties, as it now stands: full (every service
-- point, later ones too) or partial (the listed ones). `revision` grows with every change.
CREATE TABLE grants (
    manager_account_id uuid NOT NULL REFERENCES accounts,
    customer_id        text NOT NULL,
    scope              text NOT NULL CHECK (scope IN ('full', 'partial')),
    service_point_ids  text[] NOT NULL DEFAULT '{}',
    revoked            boolean NOT NULL DEFAULT false,
    revision           integer NOT NULL CHECK (revision >= 1),
    changed_by         text NOT NULL CHECK (changed_by IN ('operator', 'customer', 'erp')),
    changed_by_account uuid REFERENCES accounts,
    created_at         timestamptz NOT NULL DEFAULT now(),
    changed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (manager_account_id, customer_id)
);
CREATE INDEX grants_customer ON grants (customer_id) WHERE NOT revoked;

-- Every revision of every grant: who changed it, when, and to what. Kept for good.
CREATE TABLE grant_history (
    manager_account_id uuid NOT NULL,
    customer_id        text NOT NULL,
    revision           integer NOT NULL,
    scope              text NOT NULL,
    service_point_ids  text[] NOT NULL,
    revoked            boolean NOT NULL,
    changed_by         text NOT NULL,
    changed_by_account uuid,
    changed_at         timestamptz NOT NULL,
    manager_request_id uuid REFERENCES manager_requests,
    PRIMARY KEY (manager_account_id, customer_id, revision)
);
