"""Streaming settings (env prefix ``MARKETPIPE_STREAM_``), kept apart from the global Settings.

Only knobs of the streaming layer live here; where services are (Kafka bootstrap, PostgreSQL, Redis)
stays in :mod:`marketpipe.config`.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StreamSettings(BaseSettings):
    """Topic layout and sink tuning."""

    model_config = SettingsConfigDict(
        env_prefix="MARKETPIPE_STREAM_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    replication_factor: int = Field(default=1, ge=1, description="Replication factor of created topics.")
    #: Partition count per topic, overriding DESIGN.md §4 defaults (JSON in env: '{"bithumb-ticker": 2}').
    partitions: dict[str, int] = Field(default_factory=dict)
    group_id: str = Field(default="marketpipe-sink", description="Consumer group prefix of the sinks.")
    #: Static group membership id (Kafka ``group.instance.id``). A restarted sink with the same id takes
    #: its partitions back at once instead of waiting for the dead member's session to time out.
    #: Default: ``<group>@<hostname>#<slot>`` with the lowest slot no live sink on this host holds
    #: (a lock file): a restart gets its id back, two concurrent sinks never share one. Set it per
    #: replica to something stable and unique, e.g. the StatefulSet pod name; two live processes
    #: with one configured id fence each other (the fenced one exits non-zero).
    instance_id: str | None = None
    batch_size: int = Field(default=5000, ge=1, description="Messages consumed per batch at most.")
    batch_timeout_s: float = Field(default=0.01, gt=0, description="Longest wait for a batch to fill.")
    history_len: int = Field(default=2000, ge=1, description="Recent trades kept per symbol in Redis.")
    metrics_port: int = Field(default=0, ge=0, description="Prometheus port of the sink; 0 = none.")
    log_every_s: float = Field(default=30.0, gt=0, description="How often the sink logs its metrics.")
    #: Python's thread switch interval while a sink runs. The sink's PostgreSQL and Redis stages
    #: mostly wait on sockets; each time they wake they wait for the GIL held by the decoding
    #: thread, up to this long. 1 ms instead of Python's 5 ms: +15 % throughput (bench/stream_sink.py).
    switch_interval_ms: float = Field(default=1.0, gt=0, le=100)
    #: Event times accepted by the sink, relative to its clock: a message stamped more than
    #: ``max_future_s`` ahead (a far-future trade would pin "latest" and the candles for ever) or, if
    #: ``max_age_s`` > 0, older than that (e.g. the topics' 14-day retention) goes to the DLQ.
    max_future_s: float = Field(default=86_400.0, gt=0)
    max_age_s: float = Field(default=0.0, ge=0, description="0 = no lower bound (replays, backfills).")

    #: Longest the sink spends releasing Kafka, PostgreSQL and Redis after SIGTERM (broker gone...).
    shutdown_timeout_s: float = Field(default=10.0, gt=0, le=300)
