-- Which meter sits on which service point of which customer, and since when (from billing's
-- contract events). A meter taken off its service point keeps its row with removed_on set.
CREATE TABLE meters (
    meter_number     text PRIMARY KEY,
    service_point_id text NOT NULL,
    customer_id      text NOT NULL,
    contract_number  text NOT NULL,
    address          jsonb NOT NULL,
    contract_signed_on date NOT NULL,
    installed_on     date NOT NULL,
    removed_on       date
);
CREATE INDEX meters_customer ON meters (customer_id);
CREATE INDEX meters_service_point ON meters (service_point_id) WHERE removed_on IS NULL;

-- Readings from the reading system (remote, inspector, estimate) and from customers. One reading
-- per meter and moment: a repeated one changes nothing.
CREATE TABLE readings (
    meter_number text NOT NULL,
    read_at      timestamptz NOT NULL,
    value        numeric(12, 3) NOT NULL CHECK (value >= 0),
    source       text NOT NULL CHECK (source IN ('remote', 'inspector', 'estimate', 'customer')),
    submitted_by text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_number, read_at)
);
