-- Optional: tell tidemark capture about DDL the moment it commits.
--
-- pgoutput announces a table's new schema only at that table's next row
-- change, and a table rewrite (ALTER COLUMN ... TYPE ... USING, ADD COLUMN
-- with a volatile default, ...) changes rows without sending any. With this
-- event trigger, every ALTER TABLE emits a transactional logical message
-- (prefix 'tidemark.ddl') in the DDL's own transaction; capture journals it
-- (it shows in `tidemark log --all-messages`) and, as soon as that
-- transaction commits, checks the captured tables for rewrites and takes
-- their fresh base snapshot right away. An ALTER PUBLICATION likewise makes
-- capture read the publication at once: a table removed from it is then
-- recorded as captured up to that very transaction.
--
-- Install as a superuser in the captured database:
--   psql -v ON_ERROR_STOP=1 -d mydb -f scripts/ddl-messages.sql
-- Remove:
--   DROP EVENT TRIGGER tidemark_ddl; DROP FUNCTION tidemark_ddl_message();

CREATE OR REPLACE FUNCTION tidemark_ddl_message() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    cmd record;
BEGIN
    FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        PERFORM pg_logical_emit_message(
            true, 'tidemark.ddl',
            json_build_object('tag', cmd.command_tag,
                              'object', cmd.object_identity,
                              'user', current_user,
                              'time', clock_timestamp())::text);
    END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS tidemark_ddl;
CREATE EVENT TRIGGER tidemark_ddl ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER PUBLICATION')
    EXECUTE FUNCTION tidemark_ddl_message();
