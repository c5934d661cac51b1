"""The payments service: online payments of invoices through a payment provider."""
