/* Table schemas read from the source's catalog: what pgoutput's Relation
 * message does not say (type names, primary key, NOT NULL, the missing
 * value of ADD COLUMN ... DEFAULT, the file node that a rewrite changes). */
#ifndef TM_CATALOG_H
#define TM_CATALOG_H

#include <libpq-fe.h>
#include <stdint.h>

#include "proto/journal.pb-c.h"
#include "store/common/qualname.h"
#include "store/common/tm_error.h"

/* A Relation record with the memory it points into. */
typedef struct tm_catrel {
    Tidemark__Relation rel;
    Tidemark__Column *cols;
    Tidemark__Column **colptrs;
} tm_catrel;

/* Oid of a table; -1 with err when it does not exist or is not a table. */
int tm_catalog_table_oid(PGconn *conn, const tm_qualname *name, uint32_t *oid, tm_error *err);
/* Reads the current schema of oid into out (version left 0). */
int tm_catalog_relation(PGconn *conn, uint32_t oid, tm_catrel *out, tm_error *err);
void tm_catrel_free(tm_catrel *r);

#endif
