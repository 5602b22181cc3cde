"""Market time series that last: tick partitions and retention, recorded stream gaps, daily bars.

- :mod:`.partitions` — day partitions of the tick tables: create ahead, move strays out of the
  default partition, roll ticks up into ``trade_candles``, drop days past the retention;
- :mod:`.gaps` — producer connection gaps (``stream_gaps``): recording, and
  :func:`~marketpipe.timeseries.gaps.gaps_between` for the query API;
- :mod:`.trading_days` — NYSE sessions (``exchange_calendars``) for the daily-bar datasets.

See docs/schema.md "Time series" and the README section "History and retention".
"""
