-- Attachments (issue 13): files kept in this database, beside the cases they belong to, so that
-- they are backed up and replicated with them and every instance of the service reads them
-- (no shared filesystem). A file is stored as chunks of 256 KiB, written and read one at a time:
-- no file is ever whole in the service's memory.

-- An upload, made by an account for a customer; named by a case (or one of its messages)
-- within a day, or deleted with its chunks by the purge loop.
CREATE TABLE attachments (
    attachment_id          uuid PRIMARY KEY,
    customer_id            text NOT NULL,
    uploaded_by_account_id uuid NOT NULL,
    filename               text NOT NULL,
    content_type           text NOT NULL
                           CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size                   bigint NOT NULL CHECK (size BETWEEN 1 AND 10485760),
    sha256                 text NOT NULL,
    uploaded_at            timestamptz NOT NULL DEFAULT now(),
    -- The case (cases.case_id) and message (case_messages.message_id) it belongs to, once named.
    case_id                uuid,
    message_id             uuid,
    attached_at            timestamptz,
    CHECK ((case_id IS NULL) = (attached_at IS NULL)),
    CHECK (message_id IS NULL OR case_id IS NOT NULL)
);
CREATE INDEX attachments_case ON attachments (case_id, uploaded_at) WHERE case_id IS NOT NULL;
CREATE INDEX attachments_unattached ON attachments (uploaded_at) WHERE case_id IS NULL;

-- The content. The reference is checked at commit: an upload writes its chunks as they arrive
-- and its attachments row (size and digest known) last, in one transaction.
CREATE TABLE attachment_chunks (
    attachment_id uuid NOT NULL
                  REFERENCES attachments ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq           integer NOT NULL CHECK (seq >= 0),
    data          bytea NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);
-- PDFs, JPEGs and PNGs are compressed already: kept out of line without another try at it.
ALTER TABLE attachment_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
