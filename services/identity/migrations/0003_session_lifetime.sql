-- A session (a refresh token family) has an absolute lifetime from its sign-in: each token of
-- the family carries the moment the family began.
ALTER TABLE refresh_tokens ADD COLUMN session_started_at timestamptz;
UPDATE refresh_tokens t SET session_started_at = f.started
  FROM (SELECT family_id, min(created_at) AS started FROM refresh_tokens GROUP BY family_id) f
 WHERE t.family_id = f.family_id;
ALTER TABLE refresh_tokens ALTER COLUMN session_started_at SET NOT NULL;
