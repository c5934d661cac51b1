-- A contract's meters are found by contract number (or service point) on every contract
-- message: an index, so that the cost per message does not grow with the number of meters.
CREATE INDEX meters_contract ON meters (contract_number);
