/* Type-aware comparison of PostgreSQL text-form values.
 *
 * Replay keeps every value in PostgreSQL's text output form (DateStyle=ISO,
 * TimeZone=UTC). To order rows as `ORDER BY key` does and to evaluate
 * --where, two such values of one column are compared the way PostgreSQL
 * compares the typed values: integers and numerics numerically at any
 * length, timestamps chronologically, text bytewise as in the "C"
 * collation. Comparisons allocate nothing.
 *
 * The comparators also accept the literal forms people type (a quoted
 * '2026-11-22 14:00' for a timestamp, 'yes' for a boolean, an upper-case
 * uuid, 1e3 for a number), so a --where literal compares directly with
 * column values. A value a class cannot read (malformed) sorts after every
 * well-formed one, and malformed values among themselves bytewise: the
 * order stays total and consistent whatever the input. */
#ifndef TM_TYPECMP_H
#define TM_TYPECMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum tm_tclass {
    TM_TC_TEXT = 0,    /* text, varchar, name, bytea, and any type not below: bytes */
    TM_TC_BPCHAR,      /* character(n): bytes with trailing spaces ignored */
    TM_TC_INT,         /* int2, int4, int8, oid, xid, cid, xid8: integers of any length */
    TM_TC_NUMERIC,     /* numeric: decimals of any length; -Infinity < finite < Infinity < NaN */
    TM_TC_FLOAT4,      /* real: read as float (strtof), same order as numeric, -0 = 0, NaN = NaN */
    TM_TC_FLOAT8,      /* double precision: read as double (strtod), likewise */
    TM_TC_BOOL,        /* false < true */
    TM_TC_DATE,        /* date, incl. BC and +-infinity */
    TM_TC_TIME,        /* time without time zone */
    TM_TC_TIMESTAMP,   /* timestamp without time zone */
    TM_TC_TIMESTAMPTZ, /* timestamp with time zone (any UTC offset in the text) */
    TM_TC_INTERVAL,    /* interval (IntervalStyle=postgres), months as 30 days as in PostgreSQL */
    TM_TC_UUID,        /* uuid: the 16 bytes, hex case-insensitive */
    TM_TC_JSON,        /* json: bytes (json has no ordering in PostgreSQL) */
    TM_TC_JSONB,       /* jsonb: bytes (only equality of identical text is meaningful) */
} tm_tclass;

/* The class of a column from its type oid; for oids that are not built-in
 * types (domains, user types) from the format_type() name, which may be
 * NULL. Unknown types compare as text. */
tm_tclass tm_type_class(uint32_t type_oid, const char *type_name);

/* A short name of the class for messages ("integer", "timestamp with time
 * zone", ...). */
const char *tm_tclass_name(tm_tclass c);

/* <0, 0 or >0 as a is before, equal to or after b in class c's order. */
int tm_typecmp(tm_tclass c, const char *a, size_t alen, const char *b, size_t blen);

/* Whether s is a value class c can read (its output form or a literal form
 * listed above). Text-like classes accept anything. */
bool tm_type_valid(tm_tclass c, const char *s, size_t len);

#endif
