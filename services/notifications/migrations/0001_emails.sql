-- The email queue and its delivery log. One row per email asked for by an event; the event id is
-- unique, so a redelivered event cannot queue a second email.
CREATE TABLE emails (
    id              uuid PRIMARY KEY,
    source_event_id uuid NOT NULL UNIQUE,
    template        text NOT NULL,
    language        text NOT NULL,
    recipient       text NOT NULL,
    subject         text NOT NULL,
    text_body       text,
    html_body       text,
    sensitive       boolean NOT NULL DEFAULT false,
    reference_id    text,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX emails_due ON emails (next_attempt_at) WHERE status = 'pending';
