-- 0155 market time series that last (docs/schema.md "Time series: partitions, retention, gaps").
--
-- 1. The four tick tables become declarative partitions by UTC day of their event time
--    (sp500_websocket_trades, finnhub_trades, etf_realtime_prices: timestamp_ms; bithumb_ticker:
--    timestamp_field), same names and columns, so every reader keeps working. The partition key is
--    part of each table's primary key already, so the replay-safe conflict keys are unchanged.
--    Each table gets a DEFAULT partition: an insert never fails for a missing day. The maintenance
--    dataset `tick_partitions` creates days ahead, moves stray default rows into their day, rolls
--    ticks up into trade_candles and drops days older than the retention (table tick_retention).
-- 2. stream_gaps: connection gaps recorded by the producers (shard, symbols, from, to).
-- 3. tick_maintenance_log: what the maintenance dataset did.
--
-- The conversion copies rows into the new partitioned table inside this migration's transaction
-- and compares row count and an order-independent checksum of every stored column before dropping
-- the old table: a mismatch raises and rolls the whole migration back (no row can be lost).

CREATE TABLE tick_retention (
    table_name       text PRIMARY KEY,
    partition_column text NOT NULL,
    -- trade_candles.stream the ticks roll up into before a day is dropped (NULL: no candles)
    candle_stream    text,
    retention_days   integer NOT NULL DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 3650),
    ahead_days       integer NOT NULL DEFAULT 7 CHECK (ahead_days BETWEEN 1 AND 60),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tick_retention (table_name, partition_column, candle_stream) VALUES
    ('sp500_websocket_trades', 'timestamp_ms', 'trades'),
    ('finnhub_trades', 'timestamp_ms', 'topgainers'),
    ('etf_realtime_prices', 'timestamp_ms', 'etf'),
    ('bithumb_ticker', 'timestamp_field', NULL);

CREATE TABLE tick_maintenance_log (
    table_name     text NOT NULL,
    partition_name text NOT NULL,
    action         text NOT NULL CHECK (action IN ('created', 'moved', 'rolled_up', 'dropped', 'purged')),
    rows           bigint NOT NULL DEFAULT 0,
    run_id         bigint,
    ran_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, partition_name, action)
);

CREATE TABLE stream_gaps (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream      text NOT NULL,            -- trade_candles.stream naming: trades | topgainers | etf | crypto
    shard       text NOT NULL,            -- producer shard ("2/4") and connection
    symbols     text[] NOT NULL,
    gap_from    timestamptz NOT NULL,     -- last moment the connection was known good
    gap_to      timestamptz,              -- reconnected and resubscribed (NULL: still open)
    reason      text NOT NULL,
    -- whether the hole can be filled from a free REST endpoint (Finnhub's free tier has none)
    backfill    text NOT NULL DEFAULT 'unavailable' CHECK (backfill IN ('unavailable', 'pending', 'filled')),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT stream_gaps_ordered CHECK (gap_to IS NULL OR gap_to >= gap_from)
);
CREATE INDEX idx_stream_gaps_stream_from ON stream_gaps (stream, gap_from);
CREATE INDEX idx_stream_gaps_symbols ON stream_gaps USING gin (symbols);

-- Name of the partition of `parent` holding UTC day `day`.
CREATE FUNCTION mp_day_partition_name(parent text, day date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT parent || '_p' || to_char(day, 'YYYYMMDD') $$;

-- Epoch milliseconds of the start of UTC day `day`.
CREATE FUNCTION mp_day_ms(day date) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT (day - DATE '1970-01-01')::bigint * 86400000 $$;

-- The stored (non-generated) columns of a table, quoted and comma-separated, in column order.
CREATE FUNCTION mp_stored_columns(rel regclass) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
      FROM pg_attribute
     WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
$$;

-- Create the day partition of `parent` for `day` unless it exists; rows of that day sitting in the
-- default partition are moved into it in the same transaction. Returns the rows moved, or -1 when
-- the partition already existed.
CREATE FUNCTION mp_ensure_day_partition(parent text, key_column text, day date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    part text := mp_day_partition_name(parent, day);
    lo bigint := mp_day_ms(day);
    hi bigint := mp_day_ms(day + 1);
    cols text := mp_stored_columns(parent::regclass);
    moved bigint := 0;
BEGIN
    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
        RETURN -1;
    END IF;
    -- Creating a partition locks the parent: wait at most 5 s for a busy sink, retry next run
    -- (the days ahead leave a week of slack).
    PERFORM set_config('lock_timeout', '5s', true);
    IF to_regclass(quote_ident(parent || '_default')) IS NOT NULL THEN
        DROP TABLE IF EXISTS mp_moving_rows;
        EXECUTE format('CREATE TEMP TABLE mp_moving_rows ON COMMIT DROP AS SELECT %s FROM %I WITH NO DATA',
                       cols, parent || '_default');
        EXECUTE format(
            'WITH gone AS (DELETE FROM %I WHERE %I >= %s AND %I < %s RETURNING %s) '
            'INSERT INTO mp_moving_rows SELECT * FROM gone',
            parent || '_default', key_column, lo, key_column, hi, cols);
        GET DIAGNOSTICS moved = ROW_COUNT;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%s) TO (%s)', part, parent, lo, hi);
    IF moved > 0 THEN
        EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM mp_moving_rows', parent, cols, cols);
    END IF;
    IF to_regclass('mp_moving_rows') IS NOT NULL THEN
        DROP TABLE mp_moving_rows;
    END IF;
    RETURN moved;
END $$;

-- Roll the ticks of `parent` with `key_column` in [lo_ms, hi_ms) up into trade_candles (1 m, 5 m,
-- 1 h) for `stream`. Candles the sink already keeps are left as they are (it builds them from the
-- same rows in the same transaction); missing ones are added. Returns the candles added.
-- bithumb_ticker has no candles (its snapshots carry no trade volume): stream NULL → 0.
CREATE FUNCTION mp_rollup_ticks(parent text, key_column text, stream text, lo_ms bigint, hi_ms bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    added bigint;
BEGIN
    IF stream IS NULL OR key_column <> 'timestamp_ms' THEN
        RETURN 0;
    END IF;
    EXECUTE format($q$
        INSERT INTO trade_candles AS c (stream, symbol, interval_s, bucket_start, open, high, low, close,
                                        volume, trades, open_key, close_key)
        SELECT %L, symbol, interval_s, to_timestamp(bucket_ms / 1000.0),
               (array_agg(price ORDER BY k))[1], max(price), min(price), (array_agg(price ORDER BY k DESC))[1],
               sum(volume), count(*), min(k), max(k)
          FROM (SELECT t.symbol, t.price, coalesce(t.volume_exact, 0) AS volume, t.timestamp_ms * 32768 + t.seq AS k,
                       i.interval_s, t.timestamp_ms - t.timestamp_ms %% (i.interval_s * 1000) AS bucket_ms
                  FROM %I t CROSS JOIN (VALUES (60), (300), (3600)) AS i(interval_s)
                 WHERE t.timestamp_ms >= %s AND t.timestamp_ms < %s) b
         GROUP BY symbol, interval_s, bucket_ms
        ON CONFLICT (stream, symbol, interval_s, bucket_start) DO NOTHING$q$,
        stream, parent, lo_ms, hi_ms);
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END $$;

-- Drop one day partition (after its roll-up). Waits at most `wait` for the lock on the parent, so a
-- busy sink is never blocked for long (the next maintenance run tries again). Returns its rows.
CREATE FUNCTION mp_drop_day_partition(parent text, part text, wait interval DEFAULT '5 seconds')
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF to_regclass(quote_ident(part)) IS NULL THEN
        RETURN 0;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = part::regclass AND inhparent = parent::regclass) THEN
        RAISE EXCEPTION 'mp_drop_day_partition: % is not a partition of %', part, parent;
    END IF;
    PERFORM set_config('lock_timeout', (extract(epoch FROM wait) * 1000)::bigint::text, true);
    EXECUTE format('SELECT count(*) FROM %I', part) INTO n;
    EXECUTE format('DROP TABLE %I', part);
    RETURN n;
END $$;

-- Rows of the default partition older than `before_ms`: rolled up (missing candles only), then
-- deleted — late arrivals for days already dropped, or ancient bogus timestamps. Returns rows deleted.
CREATE FUNCTION mp_purge_default(parent text, key_column text, stream text, before_ms bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF to_regclass(quote_ident(parent || '_default')) IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM mp_rollup_ticks(parent || '_default', key_column, stream, -9223372036854775807, before_ms);
    EXECUTE format('DELETE FROM %I WHERE %I < %s', parent || '_default', key_column, before_ms);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Row count and an order-independent checksum of the stored columns of `rel`.
CREATE FUNCTION mp_table_checksum(rel regclass, OUT row_count bigint, OUT checksum numeric)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'SELECT count(*), coalesce(sum(hashtextextended(ROW(%s)::text, 0)::numeric), 0) FROM %s',
        mp_stored_columns(rel), rel)
      INTO row_count, checksum;
END $$;

-- Convert the non-partitioned table `parent` into one partitioned by UTC day of `key_column`
-- (epoch ms), keeping its name, columns (generated and identity ones included), defaults, checks,
-- indexes with their names, identity sequence position and options, and the views that read it.
-- Days with rows within ten years back and `ahead_days` forward get their own partition; any other
-- row (a far-future or ancient timestamp) lands in the default partition. Raises — and so rolls
-- back — when the copy does not match the original row for row.
CREATE FUNCTION mp_partition_by_day(parent text, key_column text, ahead_days integer DEFAULT 7)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    legacy text := parent || '_unpartitioned';
    before record;
    after record;
    idx record;
    seq record;
    v record;
    views text[][] := '{}';
    day date;
    today date := (now() AT TIME ZONE 'UTC')::date;
    cols text;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = parent::regclass) = 'p' THEN
        RETURN 0;  -- already partitioned
    END IF;
    EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', parent);
    SELECT * INTO before FROM mp_table_checksum(parent::regclass);

    -- Views reading the table directly are re-pointed at the new table afterwards (same text).
    FOR v IN
        SELECT DISTINCT c.oid::regclass::text AS name, pg_get_viewdef(c.oid) AS def, c.relkind
          FROM pg_depend d
          JOIN pg_rewrite r ON r.oid = d.objid
          JOIN pg_class c ON c.oid = r.ev_class
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = parent::regclass AND c.oid <> parent::regclass
    LOOP
        IF v.relkind <> 'v' THEN
            RAISE EXCEPTION 'mp_partition_by_day: % depends on % and is not a plain view', v.name, parent;
        END IF;
        views := views || ARRAY[[v.name, v.def]];
    END LOOP;

    -- The table's indexes and index-backed constraints, to recreate under their original names.
    DROP TABLE IF EXISTS mp_indexes;
    CREATE TEMP TABLE mp_indexes ON COMMIT DROP AS
        SELECT ic.relname::text AS name, i.indexrelid AS oid, con.conname IS NOT NULL AS is_constraint,
               pg_get_constraintdef(con.oid) AS condef, pg_get_indexdef(i.indexrelid) AS indexdef
          FROM pg_index i
          JOIN pg_class ic ON ic.oid = i.indexrelid
          LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
         WHERE i.indrelid = parent::regclass;

    EXECUTE format('ALTER TABLE %I RENAME TO %I', parent, legacy);
    -- Free the index names (constraint indexes rename their constraint too).
    FOR idx IN SELECT * FROM mp_indexes LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', idx.name, 'mp_unpartitioned_' || idx.oid);
    END LOOP;

    EXECUTE format(
        'CREATE TABLE %I (LIKE %I INCLUDING ALL EXCLUDING INDEXES) PARTITION BY RANGE (%I)',
        parent, legacy, key_column);
    FOR idx IN SELECT * FROM mp_indexes ORDER BY is_constraint DESC, name LOOP
        IF idx.is_constraint THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', parent, idx.name, idx.condef);
        ELSE
            EXECUTE regexp_replace(idx.indexdef, '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ ',
                                   'CREATE \1INDEX ' || quote_ident(idx.name) || ' ON ' || quote_ident(parent) || ' ');
        END IF;
    END LOOP;
    -- Identity columns: continue the old sequence, with its options (e.g. CACHE 1000).
    FOR seq IN
        SELECT a.attname, s.seqcache, s.seqincrement,
               pg_get_serial_sequence(quote_ident(legacy), a.attname) AS old_seq,
               pg_get_serial_sequence(quote_ident(parent), a.attname) AS new_seq
          FROM pg_attribute a
          JOIN pg_depend d ON d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i'
          JOIN pg_sequence s ON s.seqrelid = d.objid
         WHERE a.attrelid = legacy::regclass AND a.attidentity <> ''
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET CACHE %s', parent, seq.attname, seq.seqcache);
        EXECUTE format(
            'SELECT setval(%L, greatest((SELECT coalesce(max(%I), 0) FROM %I), '
            '(SELECT last_value FROM %s)), true)',
            seq.new_seq, seq.attname, legacy, seq.old_seq);
    END LOOP;

    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', parent || '_default', parent);
    FOR day IN
        EXECUTE format(
            'SELECT DISTINCT (DATE ''1970-01-01'' + (%I / 86400000)::integer) FROM %I '
            'WHERE %I >= %s AND %I < %s',
            key_column, legacy, key_column, mp_day_ms(today - 3650), key_column, mp_day_ms(today + ahead_days + 1))
    LOOP
        PERFORM mp_ensure_day_partition(parent, key_column, day);
    END LOOP;
    FOR i IN -1 .. ahead_days LOOP
        PERFORM mp_ensure_day_partition(parent, key_column, today + i);
    END LOOP;

    cols := mp_stored_columns(legacy::regclass);
    EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I', parent, cols, cols, legacy);
    SELECT * INTO after FROM mp_table_checksum(parent::regclass);
    IF after.row_count <> before.row_count OR after.checksum <> before.checksum THEN
        RAISE EXCEPTION 'mp_partition_by_day(%): copy differs (% rows, checksum %) vs (% rows, checksum %)',
            parent, after.row_count, after.checksum, before.row_count, before.checksum;
    END IF;

    FOR i IN 1 .. coalesce(array_length(views, 1), 0) LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', views[i][1], views[i][2]);
    END LOOP;
    EXECUTE format('DROP TABLE %I', legacy);
    RETURN after.row_count;
END $$;

SELECT mp_partition_by_day(table_name, partition_column, ahead_days) FROM tick_retention ORDER BY table_name;
