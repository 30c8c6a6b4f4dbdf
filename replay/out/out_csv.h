/* CSV exactly as PostgreSQL's COPY ... TO STDOUT WITH (FORMAT csv, HEADER)
 * writes it (copyto.c, CopyAttributeOutCSV, default options): ',' between
 * fields, '\n' after each row, NULL as nothing, and a value in double
 * quotes (with '"' doubled) when it is empty, contains ',', '"', '\r' or
 * '\n', or, when the output has a single column, is exactly "\.". The
 * header line follows the same rules for the column names. */
#ifndef TM_OUT_CSV_H
#define TM_OUT_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/out/out.h"
#include "replay/query/value.h"

void tm_csv_header(tm_out *o, const tm_coldesc *cols, size_t n);

/* One row of n values. Returns -1 with err if a value is neither NULL ('n')
 * nor text ('t'): an unresolved kind would otherwise be written wrongly. */
int tm_csv_row(tm_out *o, const tm_value *vals, size_t n, tm_error *err);

/* One field; single_column says whether the output has exactly one column. */
void tm_csv_field(tm_out *o, const char *p, size_t len, bool single_column);

#endif
