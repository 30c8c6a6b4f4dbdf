-- Schema and workload for scripts/bench-capture.sh: preference-like tables
-- with jsonb values, REPLICA IDENTITY FULL, and a procedure that commits a
-- mix of transactions of varied sizes until a number of row changes is
-- reached. Deterministic for a given seed (setseed in the caller).

CREATE TABLE users (
    id           bigint PRIMARY KEY,
    external_id  uuid NOT NULL,
    email        text NOT NULL,
    display_name text NOT NULL,
    plan         text NOT NULL,
    locale       text NOT NULL,
    last_login   inet,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE email_prefs (
    user_id    bigint NOT NULL,
    kind       text NOT NULL,
    enabled    boolean NOT NULL,
    frequency  text NOT NULL,
    unsubscribe_token text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE ui_prefs (
    user_id    bigint PRIMARY KEY,
    prefs      jsonb NOT NULL,
    version    integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_config (
    user_id       bigint PRIMARY KEY,
    model         text NOT NULL,
    temperature   numeric(3, 2) NOT NULL,
    max_tokens    integer NOT NULL,
    system_prompt text,
    settings      jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE users REPLICA IDENTITY FULL;
ALTER TABLE email_prefs REPLICA IDENTITY FULL;
ALTER TABLE ui_prefs REPLICA IDENTITY FULL;
ALTER TABLE ai_config REPLICA IDENTITY FULL;

-- Not published: the workload's own bookkeeping.
CREATE TABLE bench_state (
    id        integer PRIMARY KEY,
    lo        bigint NOT NULL,  -- oldest live user id
    hi        bigint NOT NULL,  -- next user id
    inserts   bigint NOT NULL DEFAULT 0,
    updates   bigint NOT NULL DEFAULT 0,
    deletes   bigint NOT NULL DEFAULT 0,
    txns      bigint NOT NULL DEFAULT 0,
    messages  bigint NOT NULL DEFAULT 0
);
INSERT INTO bench_state (id, lo, hi) VALUES (1, 1, 1);

CREATE FUNCTION bench_pick(VARIADIC opts text[]) RETURNS text
LANGUAGE sql VOLATILE AS $$ SELECT opts[1 + floor(random() * cardinality(opts))::int] $$;

-- current_setting('bench.noise') random hex characters (0 by default): turns
-- how compressible the workload is (an opaque token, a client blob).
CREATE FUNCTION bench_noise() RETURNS text
LANGUAGE sql VOLATILE AS $$
SELECT coalesce(string_agg(md5(random()::text), ''), '')
FROM generate_series(1, ceil(coalesce(nullif(current_setting('bench.noise', true), ''), '0')::int / 32.0)::int)
$$;

CREATE FUNCTION bench_ui_prefs() RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
SELECT jsonb_build_object(
    'theme', bench_pick('light', 'dark', 'system', 'solarized'),
    'lang', bench_pick('en-US', 'en-GB', 'de-DE', 'fr-FR', 'ja-JP', 'pt-BR'),
    'density', bench_pick('compact', 'comfortable', 'cozy'),
    'font_scale', round((0.8 + random() * 0.6)::numeric, 2),
    'sidebar', jsonb_build_object('collapsed', random() < 0.3,
                                  'width', 180 + floor(random() * 160)::int,
                                  'pinned', jsonb_build_array('inbox', 'projects', bench_pick('reports', 'calendar', 'team'))),
    'notifications', jsonb_build_object('push', random() < 0.7, 'sound', random() < 0.4,
                                        'digest', bench_pick('daily', 'weekly', 'never')),
    'recent_searches', jsonb_build_array(substr(md5(random()::text), 1, 8), substr(md5(random()::text), 1, 6),
                                         bench_pick('invoice', 'q3 roadmap', 'hiring plan', 'okrs')),
    'session', jsonb_build_object('device', substr(md5(random()::text), 1, 16),
                                  'client', 'web/' || floor(random() * 40)::int || '.' || floor(random() * 100)::int,
                                  'state', bench_noise(),
                                  'scroll', jsonb_build_array(floor(random() * 5000)::int, floor(random() * 900)::int)),
    'dashboard', jsonb_build_object('layout', bench_pick('grid', 'list'),
                                    'widgets', jsonb_build_array('tasks', 'calendar', bench_pick('inbox', 'metrics', 'news'))))
$$;

CREATE FUNCTION bench_ai_settings() RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
SELECT jsonb_build_object(
    'tools', jsonb_build_array('search', bench_pick('code', 'calendar', 'files')),
    'safety', bench_pick('standard', 'strict'),
    'memory', random() < 0.5,
    'style', jsonb_build_object('tone', bench_pick('friendly', 'neutral', 'formal'),
                                'verbosity', bench_pick('short', 'medium', 'detailed')),
    'stop', jsonb_build_array('###'),
    'retention_days', (array[7, 30, 90])[1 + floor(random() * 3)::int],
    'key_fingerprint', substr(md5(random()::text), 1, 16),
    'memory_digest', bench_noise(),
    'top_p', round(random()::numeric, 3))
$$;

-- Signs up n users starting at id first: a user row and its three preference
-- tables (4 email kinds), 7 row inserts per user.
CREATE FUNCTION bench_signup(first bigint, n integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    total bigint := 0;
    c bigint;
BEGIN
    INSERT INTO users (id, external_id, email, display_name, plan, locale, last_login)
    SELECT i, gen_random_uuid(), 'user' || i || '@example.com',
           bench_pick('Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Edsger') || ' ' || substr(md5(i::text), 1, 6),
           bench_pick('free', 'free', 'pro', 'team'), bench_pick('en-US', 'de-DE', 'fr-FR', 'ja-JP'),
           ('10.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int || '.'
            || floor(random() * 256)::int)::inet
    FROM generate_series(first, first + n - 1) i;
    GET DIAGNOSTICS c = ROW_COUNT; total := total + c;
    INSERT INTO email_prefs (user_id, kind, enabled, frequency, unsubscribe_token)
    SELECT i, k, random() < 0.6, bench_pick('instant', 'daily', 'weekly'), md5(random()::text)
    FROM generate_series(first, first + n - 1) i,
         unnest(array['newsletter', 'product_updates', 'security', 'mentions']) k;
    GET DIAGNOSTICS c = ROW_COUNT; total := total + c;
    INSERT INTO ui_prefs (user_id, prefs)
    SELECT i, bench_ui_prefs() FROM generate_series(first, first + n - 1) i;
    GET DIAGNOSTICS c = ROW_COUNT; total := total + c;
    INSERT INTO ai_config (user_id, model, temperature, max_tokens, system_prompt, settings)
    SELECT i, bench_pick('gpt-4o', 'claude-3-5-sonnet', 'llama-3-70b', 'mistral-large'),
           round((random() * 1.2)::numeric, 2), (array[512, 1024, 2048, 4096])[1 + floor(random() * 4)::int],
           'You are the assistant of user ' || i || '. ' ||
           bench_pick('Answer briefly.', 'Explain your reasoning.', 'Use a formal tone.', 'Prefer bullet points.'),
           bench_ai_settings()
    FROM generate_series(first, first + n - 1) i;
    GET DIAGNOSTICS c = ROW_COUNT; total := total + c;
    RETURN total;
END $$;

-- Deletes users [first, first + n) and all their rows.
CREATE FUNCTION bench_purge(first bigint, n integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    total bigint := 0;
    c bigint;
BEGIN
    DELETE FROM email_prefs WHERE user_id >= first AND user_id < first + n;
    GET DIAGNOSTICS c = ROW_COUNT; total := total + c;
    DELETE FROM ui_prefs WHERE user_id >= first AND user_id < first + n;
    GET DIAGNOSTICS c = ROW_COUNT; total := total + c;
    DELETE FROM ai_config WHERE user_id >= first AND user_id < first + n;
    GET DIAGNOSTICS c = ROW_COUNT; total := total + c;
    DELETE FROM users WHERE id >= first AND id < first + n;
    GET DIAGNOSTICS c = ROW_COUNT; total := total + c;
    RETURN total;
END $$;

-- Updates about k rows of one table for users starting at id first.
CREATE FUNCTION bench_update(first bigint, k integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    r float8 := random();
    c bigint;
BEGIN
    IF r < 0.40 THEN
        -- a settings page save: a few keys of the jsonb document change
        UPDATE ui_prefs SET prefs = prefs || jsonb_build_object(
                   'theme', bench_pick('light', 'dark', 'system'),
                   'font_scale', round((0.8 + random() * 0.6)::numeric, 2),
                   'recent_searches', jsonb_build_array(substr(md5(random()::text), 1, 8),
                                                        substr(md5(random()::text), 1, 6)),
                   'session', jsonb_build_object('device', substr(md5(random()::text), 1, 16),
                                                 'state', bench_noise(),
                                                 'scroll', jsonb_build_array(floor(random() * 5000)::int,
                                                                             floor(random() * 900)::int))),
               version = version + 1, updated_at = now()
        WHERE user_id >= first AND user_id < first + k;
    ELSIF r < 0.65 THEN
        UPDATE email_prefs SET enabled = NOT enabled, frequency = bench_pick('instant', 'daily', 'weekly'),
               updated_at = now()
        WHERE user_id >= first AND user_id < first + greatest(1, k / 4)
          AND (k >= 4 OR kind = bench_pick('newsletter', 'product_updates', 'security', 'mentions'));
    ELSIF r < 0.85 THEN
        UPDATE ai_config SET temperature = round((random() * 1.2)::numeric, 2),
               settings = jsonb_set(settings, '{style,verbosity}', to_jsonb(bench_pick('short', 'medium', 'detailed'))),
               updated_at = now()
        WHERE user_id >= first AND user_id < first + k;
    ELSE
        UPDATE users SET plan = bench_pick('free', 'pro', 'team', 'enterprise'), updated_at = now(),
               last_login = ('10.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int || '.'
                             || floor(random() * 256)::int)::inet
        WHERE id >= first AND id < first + k;
    END IF;
    GET DIAGNOSTICS c = ROW_COUNT;
    RETURN c;
END $$;

-- Commits transactions until at least target row changes are done. Sizes:
-- mostly 1-4 row changes (a user saving a settings page), some of 10-200,
-- a few of 1,000-10,000 (imports, purges, migrations), one migration of
-- every ui_prefs row half way. Operation mix by rows: ~35% inserts, ~15%
-- deletes, ~50% updates. One transaction in five carries a logical message
-- saying who did it and why, as applications are meant to.
CREATE PROCEDURE bench_workload(target bigint)
LANGUAGE plpgsql AS $$
DECLARE
    st bench_state;
    done bigint := 0;
    r float8;
    k integer;
    n integer;
    c bigint;
    migrated boolean := false;
BEGIN
    SELECT * INTO st FROM bench_state WHERE id = 1;
    WHILE done < target LOOP
        r := random();
        IF r < 0.0016 THEN
            k := 1000 + floor(random() * 9000)::int;
        ELSIF r < 0.057 THEN
            k := 10 + floor(random() * 190)::int;
        ELSE
            k := 1 + floor(random() * 4)::int;
        END IF;
        r := random();
        IF NOT migrated AND done >= target / 2 THEN
            UPDATE ui_prefs SET prefs = prefs || '{"schema": 2}', version = version + 1;
            GET DIAGNOSTICS c = ROW_COUNT;
            st.updates := st.updates + c;
            migrated := true;
        ELSIF r < 0.35 OR (r < 0.50 AND st.hi - st.lo < greatest(1, k / 7) + 100) THEN
            n := greatest(1, k / 7);
            c := bench_signup(st.hi, n);
            st.hi := st.hi + n;
            st.inserts := st.inserts + c;
        ELSIF r < 0.50 THEN
            n := greatest(1, k / 7);
            c := bench_purge(st.lo, n);
            st.lo := st.lo + n;
            st.deletes := st.deletes + c;
        ELSE
            c := bench_update(st.lo + floor(random() * greatest(1, st.hi - st.lo - k))::bigint, k);
            st.updates := st.updates + c;
        END IF;
        done := done + c;
        IF random() < 0.2 THEN
            PERFORM pg_logical_emit_message(true, 'tidemark',
                json_build_object('actor', 'user ' || (st.lo + floor(random() * (st.hi - st.lo)))::bigint,
                                  'via', bench_pick('settings-ui', 'admin-ui', 'api', 'migration'),
                                  'request', substr(md5(random()::text), 1, 12))::text);
            st.messages := st.messages + 1;
        END IF;
        st.txns := st.txns + 1;
        COMMIT;
    END LOOP;
    UPDATE bench_state SET lo = st.lo, hi = st.hi, inserts = st.inserts, updates = st.updates,
           deletes = st.deletes, txns = st.txns, messages = st.messages
    WHERE id = 1;
    COMMIT;
END $$;
