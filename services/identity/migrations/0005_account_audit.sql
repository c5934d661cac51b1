-- What operators did to accounts, and why: kept for good (no secrets in it).
CREATE TABLE account_audit (
    id          bigserial PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts,
    customer_id text,
    action      text NOT NULL CHECK (action IN ('reclaimed')),
    operator    text NOT NULL,
    reason      text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}',
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_audit_customer ON account_audit (customer_id);
