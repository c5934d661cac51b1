"""billing: customers, contracts, service points and invoices fed by the utility's ERP."""
