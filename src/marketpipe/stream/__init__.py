"""Real-time streaming: Kafka bus, topics, message codec, the PostgreSQL+Redis sink, DLQ and metrics.

See ``README_DEV.md`` in this folder for the message schema and the interfaces producers use.
"""
