"""The sink: Kafka → PostgreSQL (rows + offsets, one transaction) → Redis → Kafka offset commit.

One consistency point: a batch's rows, its dead-letter records and the consumer's next offsets
commit in ONE PostgreSQL transaction (``stream_offsets``). On (re)assignment every partition is
positioned at the offset stored there, so a crash at any point replays exactly the messages whose
rows did not commit — nothing is lost and nothing is written twice. Everything else (Redis, the
Kafka offset commit) follows that commit and can be redone from it.

The parts, each one concern (a batch flows top to bottom; "add / flush / write" as in a Quix
Streams sink):

* :mod:`.loop` — :class:`Sink`: the consumer loop (poll → add → flush), assignment from the stored
  offsets, the Kafka offset commit, lag, stop and close;
* :mod:`.batch` — :class:`~.batch.Decoder`: decode and validate, the event-time window, which
  messages become dead letters (stage ``decode``), the COPY payload;
* :mod:`.postgres` — :class:`~.postgres.PostgresWriter`: the one transaction (rows, candles, dead
  letters, offsets), the conflict fallback and bisection (stage ``write``), reconnecting;
* :mod:`.redis_side` — :class:`~.redis_side.RedisSide`: latest values, history, signal; pending
  updates and catch-up while Redis is down, rehydration from PostgreSQL;
* :mod:`.stages` — the PostgreSQL and Redis threads, each in batch order;
* :mod:`.health` — ``/healthz``; :mod:`.membership` — the static member id;
* :class:`marketpipe.stream.metrics.SinkMetrics` — the one metrics object (Prometheus + totals).
"""

from marketpipe.stream.sink.batch import BatchResult
from marketpipe.stream.sink.errors import SinkError
from marketpipe.stream.sink.loop import Sink

__all__ = ["BatchResult", "Sink", "SinkError"]
