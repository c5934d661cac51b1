-- The correlation id of the event that asked for the email, carried on to its delivery events.
ALTER TABLE emails ADD COLUMN correlation_id text;
