-- Each solved proof-of-work challenge makes one CAPTCHA: spent challenges are kept until they
-- expire. A CAPTCHA's sound is made when asked for, from its answer kept sealed until then.
CREATE TABLE spent_challenges (
    challenge  text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
ALTER TABLE captchas ADD COLUMN answer_sealed text;
ALTER TABLE captchas ADD COLUMN audio_renders integer NOT NULL DEFAULT 0;
