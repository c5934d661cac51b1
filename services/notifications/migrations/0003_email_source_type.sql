-- Which event asked for the email, so that delivery events can tell its producer which of its
-- facts the email carried (identity follows the account's emails by event type, not template).
ALTER TABLE emails ADD COLUMN source_event_type text;
-- Emails queued before: their event type follows from the template that event asked for.
UPDATE emails SET source_event_type = CASE template
        WHEN 'registration' THEN 'identity.registration.requested'
        WHEN 'account-exists' THEN 'identity.registration.repeated'
        WHEN 'registration-confirmation' THEN 'identity.credentials.issued'
        WHEN 'account-activation' THEN 'identity.account.activated'
    END
WHERE source_event_type IS NULL;
