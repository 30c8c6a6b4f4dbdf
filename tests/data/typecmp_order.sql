-- How tests/data/typecmp_order.tsv was produced (PostgreSQL 15.20, once, by hand):
--   psql -X -q -v ON_ERROR_STOP=1 -f tests/data/typecmp_order.sql > tests/data/typecmp_order.tsv
-- Each line: type, a literal as typed, PostgreSQL's text output of it, and its
-- dense rank when ordered by the typed value (equal values share a rank).
-- test_typecmp checks tm_typecmp against these ranks for every pair of
-- inputs and outputs.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SET IntervalStyle = 'postgres';
CREATE TEMP TABLE cases (typ text, input text);
INSERT INTO cases SELECT 'int8', unnest(ARRAY[
  '0', '-0', '1', '-1', '9', '10', '007', '+5', '  42', '99', '100', '-100',
  '9223372036854775807', '-9223372036854775808', '9223372036854775806']);
INSERT INTO cases SELECT 'int4', unnest(ARRAY['0', '2147483647', '-2147483648', '12', '-12', '3']);
INSERT INTO cases SELECT 'numeric', unnest(ARRAY[
  '0', '0.0', '-0.0', '1', '1.0', '1.00001', '0.99999', '-5', '-5.5', '-0.001', '0.001',
  '123456789012345678901234567890.123', '123456789012345678901234567890.1229',
  '-123456789012345678901234567890.123', '1e10', '1E-10', '10', '9.9999', '100.5', '1e3',
  '999.9999999999999999999', '1000', 'NaN', 'Infinity', '-Infinity', '0.000000000000000000001',
  '00012.50', '12.5']);
INSERT INTO cases SELECT 'float8', unnest(ARRAY[
  '0', '-0', '1.5', '-1.5', '1e100', '1e-100', 'NaN', 'Infinity', '-Infinity', '0.1',
  '0.30000000000000004', '0.3', '123456789012345678', '1e16', '2.5e-5', '-1e-300',
  '1.7976931348623157e308', '4.9e-324', '-inf', '100', '99.99999999999999']);
INSERT INTO cases SELECT 'float4', unnest(ARRAY['0.1', '0.3', '1e30', 'NaN', '-3.4e38', '1.17549435e-38', '7', '-0']);
INSERT INTO cases SELECT 'bool', unnest(ARRAY['t', 'f', 'true', 'FALSE', 'yes', 'no', 'on', 'off', '1', '0', 'y', 'n']);
INSERT INTO cases SELECT 'date', unnest(ARRAY[
  '2026-11-22', '2026-1-2', '0044-03-15 BC', '0001-01-01', '0001-12-31 BC', '10000-01-01',
  'infinity', '-infinity', '1999-12-31', '2000-01-01', '4714-11-24 BC', '5874897-12-31',
  '2024-02-29', '2026-11-22 13:00']);
INSERT INTO cases SELECT 'timestamp', unnest(ARRAY[
  '2026-11-22 14:03:12', '2026-11-22 14:03:12.5', '2026-11-22 14:03:12.05',
  '2026-11-22 14:03:12.123456', '2026-11-22T14:03', '2026-11-22', '2026-11-21 23:59:59.999999',
  '0044-03-15 12:00 BC', '0044-03-15 13:00 BC', '0045-03-15 13:00 BC', 'infinity', '-infinity',
  '10000-01-01 00:00', '2026-11-22 24:00:00', '2026-11-23', '2026-11-22 14:03:12+05']);
INSERT INTO cases SELECT 'timestamptz', unnest(ARRAY[
  '2026-11-22 14:03:12+00', '2026-11-22 14:03:12+02', '2026-11-22 16:03:12+02',
  '2026-11-22 14:03:12-05:30', '2026-11-22 14:03:12.5Z', '2026-11-22T12:03:12Z',
  '0044-03-15 00:00:00+00 BC', '0044-03-14 23:00:00-02 BC', '2026-11-22 00:30+01',
  'infinity', '-infinity', '1999-12-31 23:00-01', '2026-11-22 14:03:12.000001+00',
  '2026-11-21 23:30:00', '294276-12-31 23:59:59.999999', '2026-11-22 14:03:12+0530']);
INSERT INTO cases SELECT 'time', unnest(ARRAY[
  '00:00', '24:00', '12:00:00.5', '12:00:00.25', '9:00', '10:00', '23:59:59.999999', '12:00']);
INSERT INTO cases SELECT 'interval', unnest(ARRAY[
  '1 day', '24 hours', '1 mon', '30 days', '1 year', '11 mons', '-1 days +02:00:00', '00:00:01',
  '1 sec', '2 weeks', '14 days', '1 day ago', '-00:00:01', '90 minutes', '01:30:00',
  '178956970 years 7 mons', '-178956970 years -8 mons', '1 year 2 mons 3 days 04:05:06.5',
  '00:00:00', '3 mons -2 days', '100:00:00', '4 days 04:00:00']);
INSERT INTO cases SELECT 'uuid', unnest(ARRAY[
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
  '{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}', 'a0eebc999c0b4ef8bb6d6bb9bd380a11',
  '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '10000000-0000-0000-0000-000000000000',
  '0fffffff-ffff-ffff-ffff-ffffffffffff']);
INSERT INTO cases SELECT 'bpchar', unnest(ARRAY['ab', 'ab ', E'ab\t', 'a', '', 'abc', E'ab\x01', 'AB', 'b']);
INSERT INTO cases SELECT 'text', unnest(ARRAY[
  'a', 'B', 'b', '', 'é', 'e', 'ab', 'a b', 'Z', '~', '10', '9', E'a\x01', 'a ', 'ä', '日本']);
COPY (
  SELECT typ, input, output, dense_rank() OVER (PARTITION BY typ ORDER BY k) FROM (
    SELECT typ, input, input::int8::text AS output, row(input::int8) AS k FROM cases WHERE typ = 'int8'
    UNION ALL SELECT typ, input, input::int4::text, row(input::int4) FROM cases WHERE typ = 'int4'
    UNION ALL SELECT typ, input, input::numeric::text, row(input::numeric) FROM cases WHERE typ = 'numeric'
    UNION ALL SELECT typ, input, input::float8::text, row(input::float8) FROM cases WHERE typ = 'float8'
    UNION ALL SELECT typ, input, input::float4::text, row(input::float4) FROM cases WHERE typ = 'float4'
    UNION ALL SELECT typ, input, input::bool::text, row(input::bool) FROM cases WHERE typ = 'bool'
    UNION ALL SELECT typ, input, input::date::text, row(input::date) FROM cases WHERE typ = 'date'
    UNION ALL SELECT typ, input, input::timestamp::text, row(input::timestamp) FROM cases WHERE typ = 'timestamp'
    UNION ALL SELECT typ, input, input::timestamptz::text, row(input::timestamptz) FROM cases WHERE typ = 'timestamptz'
    UNION ALL SELECT typ, input, input::time::text, row(input::time) FROM cases WHERE typ = 'time'
    UNION ALL SELECT typ, input, input::interval::text, row(input::interval) FROM cases WHERE typ = 'interval'
    UNION ALL SELECT typ, input, input::uuid::text, row(input::uuid) FROM cases WHERE typ = 'uuid'
    UNION ALL SELECT typ, input, format('%s', input::char(5)), row(input::char(5) COLLATE "C") FROM cases WHERE typ = 'bpchar'
    UNION ALL SELECT typ, input, input, row(input COLLATE "C") FROM cases WHERE typ = 'text'
  ) s ORDER BY typ, 4, input COLLATE "C"
) TO STDOUT;
