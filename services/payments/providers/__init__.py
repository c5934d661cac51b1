"""Payment providers behind one small interface (base.py); docs/adding-a-payment-provider.md."""
