-- Handled inbox rows and published outbox rows are purged after a window (shared/retention.py):
-- these indexes find the old ones without reading the rest.
CREATE INDEX inbox_handled_at ON inbox (handled_at);
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
