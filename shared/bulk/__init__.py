"""The first load of a utility from its ERP export (docs/bulk-load.md)."""
