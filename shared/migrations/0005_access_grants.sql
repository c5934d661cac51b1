-- Managers' grants over customers' properties, as identity last announced them
-- (`identity.grant.changed`, shared/grants.py): every service with account views answers a
-- manager from its own copy, so a change or a revocation holds on the very next request. One row
-- per manager and customer, the highest revision seen; a revoked grant keeps its row (so that a
-- late, older event cannot bring it back) and answers nothing.
CREATE TABLE access_grants (
    manager_account_id uuid NOT NULL,
    customer_id        text NOT NULL,
    scope              text NOT NULL CHECK (scope IN ('full', 'partial')),
    service_point_ids  text[] NOT NULL DEFAULT '{}',
    revoked            boolean NOT NULL,
    revision           integer NOT NULL,
    changed_at         timestamptz NOT NULL,
    PRIMARY KEY (manager_account_id, customer_id)
);
