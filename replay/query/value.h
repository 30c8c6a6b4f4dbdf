/* A column value as replay handles it: a view into a decoded row image (no
 * copy, no ownership), and the description of a column that typed code
 * (filters, comparisons, output sinks) needs. */
#ifndef TM_VALUE_H
#define TM_VALUE_H

#include <stdint.h>

/* Values are store/tuple.h's tm_value: kind 'n' NULL or 't' text
 * (PostgreSQL's text output form, ptr[0..len), not NUL-terminated). Replay
 * resolves the journal's 'u' (unchanged TOAST) and 's' (same as old) kinds
 * before values reach filters or sinks; code that receives any other kind
 * treats it as an error or as NULL, as its documentation says. */
#include "store/journal/tuple.h"

/* A column as recorded in the journal's relation schema. */
typedef struct tm_coldesc {
    const char *name;      /* NUL-terminated, as in the catalog (no quoting) */
    uint32_t type_oid;     /* pg_type oid */
    const char *type_name; /* format_type() text, e.g. "character varying(40)"; may be NULL */
} tm_coldesc;

#endif
