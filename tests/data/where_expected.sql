-- How where_expected.tsv was produced (PostgreSQL 15.20, once, by hand): each
-- predicate below is run by PostgreSQL on the csv_values table and the ids of
-- the matching rows are recorded; test_where evaluates the same predicate
-- text with tidemark's --where on the same rows and must select the same ids.
--
--   createdb -T template0 --lc-collate=C --lc-ctype=C wherecheck
--   psql -X -q -v ON_ERROR_STOP=1 -d wherecheck -f csv_values.sql
--   psql -X -q -v ON_ERROR_STOP=1 -d wherecheck -f where_expected.sql > where_expected.tsv
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
CREATE FUNCTION pg_temp.ids(pred text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE r text;
BEGIN
  EXECUTE 'SELECT coalesce(string_agg(id::text, '','' ORDER BY id), '''') FROM csv_values WHERE '
          || pred INTO r;
  RETURN r;
END $f$;
COPY (SELECT p, pg_temp.ids(p) FROM unnest(ARRAY[
  $p$id > 9$p$,
  $p$id >= '40'$p$,
  $p$id IN (1, 5, 40, 99)$p$,
  $p$id NOT IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39)$p$,
  $p$id < 3.5$p$,
  $p$id = 7.0$p$,
  $p$"a,""q""" > 'm'$p$,
  $p$"a,""q""" <= 'E'$p$,
  $p$"a,""q""" = ''$p$,
  $p$"a,""q""" IS NULL$p$,
  $p$"a,""q""" IS NOT NULL AND "b c" IS NOT NULL$p$,
  $p$"a,""q""" = 'it''s'$p$,
  $p$"a,""q""" = '\.'$p$,
  $p$"a,""q""" = 'back\slash'$p$,
  $p$"a,""q""" = '; DROP TABLE x; --'$p$,
  $p$"a,""q""" IN ('"', '""', 'a,b', 'unicode é ü 日本 😀')$p$,
  $p$"a,""q""" <> 'plain'$p$,
  $p$"b c" < 'b' AND "b c" > '"'$p$,
  $p$"b c" != 'x'$p$,
  $p$n > 1$p$,
  $p$n = 'NaN'$p$,
  $p$n < -1$p$,
  $p$n >= 1000$p$,
  $p$n = 0$p$,
  $p$n > 'Infinity'$p$,
  $p$n < 0.0000000000000000001$p$,
  $p$n > 123456789012345678901234567890$p$,
  $p$n IN (1000, 0, '-1.5', 1e-20)$p$,
  $p$f > 0.1$p$,
  $p$f = 'NaN'$p$,
  $p$f < 0$p$,
  $p$f = 0$p$,
  $p$f <= '-Infinity'$p$,
  $p$f > 1e99$p$,
  $p$f = 0.00000015$p$,
  $p$f = 123456789012345678$p$,
  $p$"bö" = true$p$,
  $p$"bö" IS NULL$p$,
  $p$"bö" != false$p$,
  $p$"bö" = 'yes' AND id > 20$p$,
  $p$j IS NULL$p$,
  $p$j->>'a' IS NOT NULL$p$,
  $p$j->>'a' = '2'$p$,
  $p$j->>'a' > '1'$p$,
  $p$j->>'b' = '1'$p$,
  $p$j->'z'->>'n' = '-500'$p$,
  $p$j->'b'->>1 = '2.50'$p$,
  $p$j->'b'->>2 IS NULL$p$,
  $p$j->>'b' = '[1, 2.50, null]'$p$,
  $p$j->>'missing' IS NULL$p$,
  $p$j->>0 IS NULL$p$,
  $p$j->>1 = 'é'$p$,
  $p$j->1 IS NOT NULL$p$,
  $p$j->>-1 IS NOT NULL$p$,
  $p$j->>-4 = '1'$p$,
  $p$j->'a'->>0 = '2'$p$,
  $p$j->'b'->-1 IS NOT NULL$p$,
  $p$j->>'a' = 'x,"y"
'$p$,
  $p$id > 5 AND n > 0 AND "a,""q""" IS NOT NULL AND f IS NOT NULL$p$,
  $p$ID = 3 and "b c" = ''''$p$
]) WITH ORDINALITY AS t(p, i) ORDER BY i) TO STDOUT;
