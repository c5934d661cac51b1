-- Headers for outbox messages that need them (dead letters carry their reason there).
ALTER TABLE outbox ADD COLUMN headers jsonb;
