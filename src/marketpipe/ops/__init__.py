"""Operating marketpipe: collection metrics, dataset freshness against schedules, the provider check.

- :mod:`marketpipe.ops.calls` — the call-outcome ledger the provider session writes (one upsert per call);
- :mod:`marketpipe.ops.metrics` — a Prometheus collector that derives every collection metric from the
  PostgreSQL ledgers at scrape time (``marketpipe metrics serve``);
- :mod:`marketpipe.ops.freshness` — fresh / late / stale / never per dataset (``marketpipe status``,
  ``GET /api/v1/freshness``);
- :mod:`marketpipe.ops.check` — one cheapest call per provider and key (``marketpipe check``).

This ``__init__`` imports nothing, so the engine can use :mod:`.calls` without loading the rest.
"""
