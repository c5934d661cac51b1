-- Where a first load from the ERP's export stands (shared/bulk/load.py): one row per file of the
-- export and per finishing step (billing's settlement), written in the same transaction as each
-- chunk it counts, so that a load stopped anywhere goes on from its last committed chunk.
CREATE TABLE bulk_load_progress (
    phase          text PRIMARY KEY,
    -- the file's size and a digest of its first and last 64 KiB: another export starts over
    fingerprint    text NOT NULL DEFAULT '',
    byte_offset    bigint NOT NULL DEFAULT 0,
    lines          bigint NOT NULL DEFAULT 0,
    rejected       bigint NOT NULL DEFAULT 0,
    counts         jsonb NOT NULL DEFAULT '{}',
    -- a finishing step's position (the last customer id settled)
    position       text,
    -- how long the rejects file was after this phase's last chunk (a resumed load cuts it back)
    rejects_bytes  bigint NOT NULL DEFAULT 0,
    done           boolean NOT NULL DEFAULT false,
    started_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
