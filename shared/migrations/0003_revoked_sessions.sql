-- Sessions identity has ended (logout, password change, a stolen refresh token, an operator):
-- every service that verifies access tokens keeps the ones whose access tokens may still be
-- valid, and refuses those tokens (shared/sessions.py). `seq` follows commit order: writers take
-- an advisory lock first, so a reader that remembers the last seq misses none.
CREATE TABLE revoked_sessions (
    seq         bigserial UNIQUE,
    session_id  uuid PRIMARY KEY,
    valid_until timestamptz NOT NULL
);
CREATE INDEX revoked_sessions_valid_until ON revoked_sessions (valid_until);
