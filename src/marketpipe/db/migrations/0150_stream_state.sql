-- Stream sink state (owned by stream/): consumed offsets stored in the same transaction as the rows,
-- and a record of every message sent to the dead-letter topic.

-- next_offset = the offset of the next message to consume (Kafka's committed-offset convention).
CREATE TABLE IF NOT EXISTS stream_offsets (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    kafka_partition integer    NOT NULL,
    next_offset    bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kafka_partition)
);

-- One row per poison message (the DLQ topic holds the original bytes; this counts and explains).
-- Keyed by source position, so a replayed batch never counts a poison message twice.
CREATE TABLE IF NOT EXISTS stream_dead_letters (
    consumer_group  text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    message_key     text,
    reason          text        NOT NULL,
    error_class     text        NOT NULL,
    payload_bytes   integer     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kafka_partition, kafka_offset)
);
CREATE INDEX IF NOT EXISTS stream_dead_letters_created ON stream_dead_letters (created_at);
