/* What a target database is, for every command that writes into one
 * (replay --apply, undo --apply): whether it is the journal's capture
 * source, and a table's columns as they are now, so that the statements
 * written fit the target's schema rather than the journal's. */
#ifndef TM_TARGET_H
#define TM_TARGET_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/common/tm_error.h"
#include "store/journal/journal.h"

/* Whether the target is the journal's source: the same system identifier
 * and database name as journal.meta records. -1 with err when it cannot be
 * told (pg_control_system() needs superuser or pg_monitor). */
int tm_target_is_source(PGconn *c, const tm_meta *meta, bool *same, tm_error *err);

/* One column of a target table, as pg_attribute has it now. */
typedef struct tm_target_col {
    char *name;
    char *type;       /* format_type(): what values are cast to */
    bool generated;   /* a generated column: never written */
    bool always;      /* GENERATED ALWAYS AS IDENTITY: never updated */
    bool notnull;     /* NOT NULL */
    bool has_default; /* a default (or identity) fills it when left out */
    char *missing;    /* attmissingval: what rows older than the column read, as an array
                         literal of one element of type; NULL when none */
} tm_target_col;

typedef struct tm_target_table {
    tm_target_col *cols;
    size_t n;
    bool exists;
} tm_target_table;

/* Reads schema.name's columns (t->exists false, no columns, when the table
 * is not there). 0, or -1 with err. */
int tm_target_read(PGconn *c, const char *schema, const char *name, tm_target_table *t,
                   tm_error *err);
void tm_target_free(tm_target_table *t);

/* The column named name, or NULL. */
const tm_target_col *tm_target_col_find(const tm_target_table *t, const char *name);

/* Runs copy_stmt (COPY ... FROM STDIN) and sends data[0..len) as its
 * rows. 0, or -1 with err. */
int tm_target_copy_in(PGconn *c, const char *copy_stmt, const char *data, size_t len,
                      tm_error *err);

#endif
