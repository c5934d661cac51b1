"""metering: meters, which service point each sits on, and their readings."""
