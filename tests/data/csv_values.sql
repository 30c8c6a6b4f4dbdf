-- Tricky values for the output formats, and how the expected files next to
-- this one were produced with PostgreSQL 15.20 (once, by hand; the unit test
-- test_out reads the rows from the COPY block below and compares its output
-- with these files byte for byte):
--
--   createdb csvcheck && psql -X -v ON_ERROR_STOP=1 -d csvcheck -f csv_values.sql
--   psql -X -d csvcheck -c 'COPY (SELECT * FROM csv_values ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)' > csv_expected.csv
--   psql -X -d csvcheck -c 'COPY (SELECT "a,""q""" AS "\." FROM csv_values ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)' > csv_expected_single.csv
--   psql -X -At -d csvcheck -c 'SELECT row_to_json(t) FROM (SELECT * FROM csv_values ORDER BY id) t' > json_expected.jsonl
--
-- The rows were first inserted from E'' literals and dumped with COPY TO STDOUT,
-- so the block below is PostgreSQL's own COPY text output (test_out checks ours against it).
SET standard_conforming_strings = on;
SET client_encoding = 'UTF8';
CREATE TABLE csv_values (id integer PRIMARY KEY, "a,""q""" text, "b c" text, n numeric,
  f double precision, "bö" boolean, j jsonb, "new
line" text);
COPY csv_values FROM stdin;
1		end\\	0	NaN	t	{}	
2	\N	"""	-1.5	-Infinity	f	{"a": "x,\\"y\\"\\n", "b": [1, 2.50, null]}	,
3	plain	'	NaN	Infinity	\N	[1, "é", null, true]	\\
4	a,b	\r	Infinity	-0	t	"str"	ctrl  
5	say "hi"	\n	-Infinity	1e+100	f	null	--
6	"	\\.\n	123456789012345678901234567890.5	0.1	\N	\N	x\n\\.\n
7	""	x\n\\.\n	0.00000000000000000001	\N	t	{"k": "\\u0001 \\\\ /", "z": {"n": -500}}	
8	,	"a,b"	\N	1.5e-07	f	{"a": 2, "b": 1}	,
9	line1\nline2	   	1000	1.2345678901234568e+17	\N	"a\\"b"	\\
10	cr\rhere	a;b	0.000	NaN	t	{}	ctrl  
11	crlf\r\n	=1+1	0	-Infinity	f	{"a": "x,\\"y\\"\\n", "b": [1, 2.50, null]}	--
12	\\.	#	-1.5	Infinity	\N	[1, "é", null, true]	x\n\\.\n
13	\\\\.	; DROP TABLE x; --	NaN	-0	t	"str"	
14	.\\	--	Infinity	1e+100	f	null	,
15	\\	it's	-Infinity	0.1	\N	\N	\\
16	back\\slash	E'x'	123456789012345678901234567890.5	\N	t	{"k": "\\u0001 \\\\ /", "z": {"n": -500}}	ctrl  
17	 leading	null	0.00000000000000000001	1.5e-07	f	{"a": 2, "b": 1}	--
18	trailing 	\\N	\N	1.2345678901234568e+17	\N	"a\\"b"	x\n\\.\n
19	  	NULL	1000	NaN	t	{}	
20	tab\there	bell\b form\f vt\v	0.000	-Infinity	f	{"a": "x,\\"y\\"\\n", "b": [1, 2.50, null]}	,
21	unicode é ü 日本 😀	ctrl  	0	Infinity	\N	[1, "é", null, true]	\\
22	ctrl  	unicode é ü 日本 😀	-1.5	-0	t	"str"	ctrl  
23	bell\b form\f vt\v	tab\there	NaN	1e+100	f	null	--
24	NULL	  	Infinity	0.1	\N	\N	x\n\\.\n
25	\\N	trailing 	-Infinity	\N	t	{"k": "\\u0001 \\\\ /", "z": {"n": -500}}	
26	null	 leading	123456789012345678901234567890.5	1.5e-07	f	{"a": 2, "b": 1}	,
27	E'x'	back\\slash	0.00000000000000000001	1.2345678901234568e+17	\N	"a\\"b"	\\
28	it's	\\	\N	NaN	t	{}	ctrl  
29	--	.\\	1000	-Infinity	f	{"a": "x,\\"y\\"\\n", "b": [1, 2.50, null]}	--
30	; DROP TABLE x; --	\\\\.	0.000	Infinity	\N	[1, "é", null, true]	x\n\\.\n
31	#	\\.	0	-0	t	"str"	
32	=1+1	crlf\r\n	-1.5	1e+100	f	null	,
33	a;b	cr\rhere	NaN	0.1	\N	\N	\\
34	   	line1\nline2	Infinity	\N	t	{"k": "\\u0001 \\\\ /", "z": {"n": -500}}	ctrl  
35	"a,b"	,	-Infinity	1.5e-07	f	{"a": 2, "b": 1}	--
36	x\n\\.\n	""	123456789012345678901234567890.5	1.2345678901234568e+17	\N	"a\\"b"	x\n\\.\n
37	\\.\n	"	0.00000000000000000001	NaN	t	{}	
38	\n	say "hi"	\N	-Infinity	f	{"a": "x,\\"y\\"\\n", "b": [1, 2.50, null]}	,
39	\r	a,b	1000	Infinity	\N	[1, "é", null, true]	\\
40	'	plain	0.000	-0	t	"str"	ctrl  
41	"""	\N	0	1e+100	f	null	--
42	end\\		-1.5	0.1	\N	\N	x\n\\.\n
\.
