/* Table schemas read from the source's catalog: what pgoutput's Relation
 * message does not say (type names, primary key, NOT NULL, the missing
 * value of ADD COLUMN ... DEFAULT, the file node that a rewrite changes),
 * and what replay --create-tables needs to rebuild the table elsewhere
 * (column defaults, identity and their sequences, unique keys, the
 * primary key's name, and the definitions of the enum, domain and
 * composite types the columns use). */
#ifndef TM_CATALOG_H
#define TM_CATALOG_H

#include <libpq-fe.h>
#include <stdint.h>

#include "proto/journal.pb-c.h"
#include "store/common/qualname.h"
#include "store/common/tm_error.h"

/* A Relation record with the memory it points into: its columns (cols,
 * colptrs, and their name, type_name and missing_value), and everything
 * else (the catalog detail) in `owned`, freed together. */
typedef struct tm_catrel {
    Tidemark__Relation rel;
    Tidemark__Column *cols;
    Tidemark__Column **colptrs;
    void **owned;
    size_t nowned, owned_cap;
} tm_catrel;

/* Oid of a table; -1 with err when it does not exist or is not a table. */
int tm_catalog_table_oid(PGconn *conn, const tm_qualname *name, uint32_t *oid, tm_error *err);
/* Reads the current schema of oid into out (version left 0), with its
 * catalog detail (rel.catalog_detail set). */
int tm_catalog_relation(PGconn *conn, uint32_t oid, tm_catrel *out, tm_error *err);
/* (Re)reads the definitions of the types r's columns use into r->rel.types
 * (catalog_types.c). */
int tm_catalog_types(PGconn *conn, tm_catrel *r, tm_error *err);
void tm_catrel_free(tm_catrel *r);

/* Memory that r frees: p (NULL with err when p is NULL or out of memory;
 * p is then freed), a copy of s, or n zeroed elements. */
void *tm_catrel_own(tm_catrel *r, void *p, tm_error *err);
char *tm_catrel_strdup(tm_catrel *r, const char *s, tm_error *err);
void *tm_catrel_calloc(tm_catrel *r, size_t n, size_t size, tm_error *err);
/* Moves what `from` owns to `to` (pointers into it stay valid). */
int tm_catrel_take_owned(tm_catrel *to, tm_catrel *from, tm_error *err);

#endif
