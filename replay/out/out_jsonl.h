/* JSON Lines: one object per row, the column names as keys in column
 * order, written compactly as PostgreSQL's row_to_json does. Values are
 * typed where the type says so: integers, numerics and floats as JSON
 * numbers (NaN and the infinities, which JSON lacks, as strings), booleans
 * as true/false, json and jsonb embedded as JSON, NULL as null, and every
 * other type as a string holding PostgreSQL's text form. */
#ifndef TM_OUT_JSONL_H
#define TM_OUT_JSONL_H

#include <stddef.h>

#include "replay/out/out.h"
#include "replay/query/typecmp.h"
#include "replay/query/value.h"

typedef struct tm_jsonl {
    size_t n;
    tm_tclass *cls;  /* per column */
    char *keys;      /* the escaped, quoted keys followed by ':', concatenated */
    size_t *key_off; /* n + 1 offsets into keys */
} tm_jsonl;

/* Prepares the writer for a table's columns (keys are escaped once here). */
int tm_jsonl_init(tm_jsonl *j, const tm_coldesc *cols, size_t n, tm_error *err);
void tm_jsonl_free(tm_jsonl *j);

/* Writes one row and '\n'. -1 with err on an unresolved value kind. */
int tm_jsonl_row(const tm_jsonl *j, tm_out *o, const tm_value *vals, tm_error *err);

/* One value as tm_jsonl_row writes it for a column of class cls: a JSON
 * number, true/false, embedded json, null, or a string. The kind must be
 * 'n' or 't'. */
void tm_jsonl_value(tm_out *o, tm_tclass cls, const tm_value *v);

/* A JSON string with PostgreSQL's escaping (to_json): \" \\ \b \f \n \r \t,
 * other control characters as \u00XX; valid UTF-8 passes through and each
 * byte of an invalid sequence becomes \ufffd, so the line stays valid
 * JSON whatever the database encoding was. */
void tm_json_string(tm_out *o, const char *p, size_t len);

/* JSON text on one line, as it is: json keeps its input's layout, which may
 * span lines; outside strings a CR or LF is only whitespace, and inside
 * strings JSON forbids them raw, so dropping them keeps the value
 * identical. */
void tm_json_embed(tm_out *o, const char *p, size_t len);

#endif
