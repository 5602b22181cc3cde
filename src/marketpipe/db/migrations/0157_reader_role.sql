-- The read-only role of the live API (`marketpipe serve`): SELECT on every table of the schema, now
-- and later, and nothing else, so a bug in the API can never write.
--
-- Roles are cluster-wide, so the role is created only if missing. It may log in but has no
-- password: with password authentication nobody can use it until an administrator gives it one
-- (`ALTER ROLE marketpipe_reader PASSWORD '...'`, or creates a separate login and
-- `GRANT marketpipe_reader TO that_login`) and sets MARKETPIPE_API_DATABASE_URL; the embedded server
-- authenticates local connections by trust, so `marketpipe serve` derives the reader URL there.
-- A migrating role without CREATEROLE (some managed services) skips creating it with a NOTICE; the
-- grants below then wait for an administrator to create it and re-run them (docs: README, "Live API").
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'marketpipe_reader') THEN
        BEGIN
            CREATE ROLE marketpipe_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'marketpipe_reader not created (no CREATEROLE); create it and re-run the grants';
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'marketpipe_reader') THEN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO marketpipe_reader', current_database());
        GRANT USAGE ON SCHEMA public TO marketpipe_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO marketpipe_reader;
        -- Tables, views and partitions the migrating role creates later are readable too.
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO marketpipe_reader;
        -- Statements of the API cannot run away with the server either.
        ALTER ROLE marketpipe_reader SET default_transaction_read_only = on;
        ALTER ROLE marketpipe_reader SET statement_timeout = '15s';
    END IF;
END
$$;
