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
