-- A contract's service points are replaced by contract number on every contract message: an
-- index, so that the cost per message does not grow with the number of customers.
CREATE INDEX service_points_contract ON service_points (contract_number);
