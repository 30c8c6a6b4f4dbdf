/* The table the --where tests bind to (header-only): a column of each type
 * class replay compares, and a row of sane values for it. Shared by
 * tests/unit/query/test_where.c and the where fuzz target. */
#ifndef TM_TEST_WHERE_TABLE_H
#define TM_TEST_WHERE_TABLE_H

#include "replay/query/value.h"

enum {
    C_ID,
    C_EMAIL,
    C_WEIRD,
    C_SCORE,
    C_RATIO,
    C_ACTIVE,
    C_CREATED,
    C_BIRTHDAY,
    C_PREFS,
    C_RAW,
    C_CODE,
    C_UID,
    C_NICK,
    NCOLS
};

static const tm_coldesc tmt_where_cols[NCOLS] = {
    {"id", 23, "integer"},
    {"email", 25, "text"},
    {"Weird \"Name\"", 1043, "character varying(20)"},
    {"score", 1700, "numeric(10,2)"},
    {"ratio", 701, "double precision"},
    {"active", 16, "boolean"},
    {"created", 1184, "timestamp with time zone"},
    {"birthday", 1082, "date"},
    {"prefs", 3802, "jsonb"},
    {"raw", 114, "json"},
    {"code", 1042, "character(3)"},
    {"uid", 2950, "uuid"},
    {"Nick", 25, "text"},
};

/* Row values, in column order. */
static const char *const tmt_where_row[NCOLS] = {
    "10",
    "alice@example.com",
    "v",
    "1.50",
    "Infinity",
    "t",
    "2026-11-22 14:03:12+00",
    "1990-05-17",
    "{\"n\": 5, \"ui\": {\"lang\": \"fr\"}, \"esc\": \"a\\\"b\\\\c \\u00e9\", \"nul\": null, "
    "\"list\": [\"x\", \"y\", {\"z\": 1}], \"theme\": \"dark\", \"brace\": \"}{\", "
    "\"obj\": {\"k\": 1}}",
    "{\"a\":1, \"a\" : 2,\n \"s\":\"x\"}",
    "ab ",
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "Bob",
};

#endif
