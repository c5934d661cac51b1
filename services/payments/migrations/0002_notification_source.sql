-- The address a provider notification came from (as the gateway saw the client).
ALTER TABLE provider_notifications ADD COLUMN source_ip text;
