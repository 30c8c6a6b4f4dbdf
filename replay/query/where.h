/* The --where language of replay, log and undo.
 *
 *   expr  := cond { AND cond }
 *   cond  := operand ( op literal | [NOT] IN ( literal {, literal} ) | IS [NOT] NULL )
 *   op    := = | != | <> | < | <= | > | >=
 *   operand := column { -> key } [ ->> key ]    (json and jsonb columns)
 *   column  := name | "Quoted ""Name"""          (plain names fold to lower case)
 *   key     := 'string' | integer (array element; negative counts from the end)
 *   literal := 'string' ('it''s') | number | true | false
 *
 * Keywords are case-insensitive. Comparisons follow the column's type
 * (typecmp.h): numbers numerically, timestamps chronologically, text
 * bytewise as in the "C" collation; col->>'k' is text, as in PostgreSQL.
 * NULL behaves as in SQL: it satisfies nothing but IS NULL (and a missing
 * JSON key or a JSON null is NULL).
 *
 * Use: parse once, bind to each table's columns (resolving names and
 * checking literals against the column types), then match rows. Matching
 * allocates nothing. */
#ifndef TM_WHERE_H
#define TM_WHERE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/common/tm_error.h"
#include "replay/query/value.h"

typedef struct tm_where tm_where;
typedef struct tm_where_bound tm_where_bound;

/* Parses expr. Returns NULL with err (naming the character position) on a
 * syntax error. */
tm_where *tm_where_parse(const char *expr, tm_error *err);
void tm_where_free(tm_where *w);

/* Resolves w against a table's columns: values passed to tm_where_match are
 * then indexed like cols. Timestamp-with-time-zone literals without an
 * offset are read in zone tz (NULL = UTC), as tm_time_parse does. Fails
 * when a column does not exist (the message lists the table's columns), a
 * literal is not a valid value of its column's type, or an operation does
 * not apply to the type (->> on a non-json column, a number compared with a
 * text column). The result does not refer to w. */
tm_where_bound *tm_where_bind(const tm_where *w, const tm_coldesc *cols, size_t ncols,
                              const char *tz, tm_error *err);
void tm_where_bound_free(tm_where_bound *b);

/* Whether the row values[0..ncols) satisfies every condition. Values of a
 * kind other than 't' count as NULL. */
bool tm_where_match(const tm_where_bound *b, const tm_value *values);

/* The conditions, for callers that plan around them (e.g. index lookups):
 * how many there are, the column condition i reads, and whether it pins
 * that column to a few values: `col = literal` or `col IN (literal, ...)`
 * without a JSON path. Then *nvals is the number of literals, each read with
 * tm_where_pin_value as typed (quotes removed, '' undoubled). */
size_t tm_where_count(const tm_where *w);
const char *tm_where_column(const tm_where *w, size_t i);
bool tm_where_pin(const tm_where *w, size_t i, size_t *nvals);
void tm_where_pin_value(const tm_where *w, size_t i, size_t j, const char **s, size_t *len);

/* Whether the bound expression reads column idx (e.g. to know if an
 * unchanged TOAST value must be resolved before matching). */
bool tm_where_uses(const tm_where_bound *b, size_t idx);

#endif
