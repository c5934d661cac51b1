-- The files an email carries (an e-invoice's PDF), queued in the transaction that queues the
-- email and deleted in the one that marks it sent or failed for good: attachments are not kept
-- after sending.
CREATE TABLE email_attachments (
    email_id     uuid NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    filename     text NOT NULL,
    content_type text NOT NULL,
    content      bytea NOT NULL,
    PRIMARY KEY (email_id, position)
);
