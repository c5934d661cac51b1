-- A manager's partial grant sees the meters of the granted service points only (decision 58),
-- those taken off them included: each point is one lookup of this index.
CREATE INDEX meters_customer_service_point ON meters (customer_id, service_point_id);
