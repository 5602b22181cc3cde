"""One module per simulated provider; each exposes ``PROVIDER`` (or ``PROVIDERS``), auto-discovered."""
