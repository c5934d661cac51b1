-- Which event asked for the email, so that delivery events can tell its producer which of its
-- facts the email carried (identity follows the account's emails by event type, not template).
ALTER TABLE emails ADD COLUMN source_event_type text;
