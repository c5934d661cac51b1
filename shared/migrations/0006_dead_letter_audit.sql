-- Every replay or discard of a dead-lettered message by an operator (`python -m deploy.dlq`), in
-- the database of the service whose queue it was: who, when, which message of which queue, what
-- it was and why it had been dead-lettered. Rows are only added; nothing updates or deletes them.
CREATE TABLE dead_letter_audit (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT now(),
    operator         text NOT NULL CHECK (operator <> ''),
    action           text NOT NULL CHECK (action IN ('replayed', 'discarded')),
    queue            text NOT NULL,
    message_id       text,
    routing_key      text,
    reason           text,
    dead_lettered_at timestamptz
);
CREATE INDEX dead_letter_audit_at ON dead_letter_audit (at);
