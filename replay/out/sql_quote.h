/* Quoting for generated SQL and for COPY text-format data.
 *
 * Names and values from the journal are data: every identifier is double
 * quoted and every literal single quoted, whatever it contains. Literals
 * assume standard_conforming_strings = on (PostgreSQL's default since 9.1),
 * under which a backslash in '...' is an ordinary character; scripts that
 * use them should say SET standard_conforming_strings = on first. */
#ifndef TM_SQL_QUOTE_H
#define TM_SQL_QUOTE_H

#include <stddef.h>

#include "replay/out/out.h"
#include "replay/query/value.h"

/* "name" with '"' doubled. Returns -1 (writing nothing) if s contains a NUL
 * byte, which no PostgreSQL name or text value can hold. */
int tm_sql_ident(tm_out *o, const char *s, size_t len);

/* "schema"."name" (or just "name" when schema is NULL or empty). */
int tm_sql_qualified(tm_out *o, const char *schema, const char *name);

/* 'text' with '\'' doubled, never E'...'. -1 on a NUL byte, as above. */
int tm_sql_literal(tm_out *o, const char *s, size_t len);

/* A literal for a value: NULL or 'text'. -1 on an unresolved kind or NUL. */
int tm_sql_value(tm_out *o, const tm_value *v);

/* One field in COPY text format (as COPY TO writes it): backslash doubled,
 * \b \f \n \r \t \v written as escapes, everything else as is. So no data
 * line of a COPY ... FROM stdin block can read as the \. terminator. */
void tm_copy_text_field(tm_out *o, const char *s, size_t len);

/* One row of a COPY FROM stdin block: fields separated by tabs, NULL as
 * \N, then '\n'. -1 with err on an unresolved kind. */
int tm_copy_text_row(tm_out *o, const tm_value *vals, size_t n, tm_error *err);

#endif
