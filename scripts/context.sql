-- tidemark: say who changed what, and why, right in the transaction.
--
-- tidemark_context(ctx) attaches a JSON object to the transaction it is
-- called in: `tidemark log` shows it with each of that transaction's
-- changes (and `tidemark log --transactions` on the transaction's line).
-- Call it at the start of every transaction that changes captured tables,
-- from your application's request or job middleware:
--
--     BEGIN;
--     SELECT tidemark_context('{"user": "alice", "request": "7f3a", "reason": "ticket 4711"}');
--     UPDATE email_preferences SET marketing = false WHERE user_id = 42;
--     COMMIT;
--
-- It emits a transactional logical decoding message (prefix 'tidemark'),
-- which travels with the transaction through the replication slot: it is
-- kept only if the transaction commits, and it writes nothing to any
-- table. The database role is added as "db_user" (keys you give win; a
-- ctx that is not an object goes under "context").
-- Called outside a transaction block it is a transaction of its own, and
-- the context goes with nothing.
--
-- Install in the captured database (any role may call it afterwards):
--   psql -v ON_ERROR_STOP=1 -d mydb -f scripts/context.sql
-- Remove:
--   DROP FUNCTION tidemark_context(jsonb);

CREATE OR REPLACE FUNCTION tidemark_context(ctx jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_logical_emit_message(
        true, 'tidemark',
        (CASE WHEN jsonb_typeof(ctx) = 'object'
              THEN jsonb_build_object('db_user', session_user::text) || ctx
              ELSE jsonb_build_object('db_user', session_user::text, 'context', ctx)
         END)::text);
END
$$;
