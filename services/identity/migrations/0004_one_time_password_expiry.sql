-- A one-time password expires (EBOK_ONE_TIME_PASSWORD_TTL_SECONDS). Those issued before this
-- migration get 72 hours from the account's activation.
ALTER TABLE accounts ADD COLUMN one_time_password_expires_at timestamptz;
UPDATE accounts SET one_time_password_expires_at = coalesce(activated_at, created_at) + interval '72 hours'
 WHERE must_change_password;
