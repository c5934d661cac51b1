-- The trace context of the handling that queued the email (shared/tracing.py), so that its
-- delivery, later and from another loop, continues the same trace. Null while tracing is off.
ALTER TABLE emails ADD COLUMN traceparent text;
