-- Transactional outbox: events written in the same transaction as the state change they report;
-- a relay publishes them with publisher confirms and marks them published.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    message_id      uuid NOT NULL UNIQUE,
    exchange        text NOT NULL,
    routing_key     text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at, id) WHERE published_at IS NULL;

-- Idempotent consumers: the id of every handled message, recorded with its effect.
CREATE TABLE inbox (
    message_id  uuid PRIMARY KEY,
    queue       text NOT NULL,
    type        text NOT NULL,
    handled_at  timestamptz NOT NULL DEFAULT now()
);
