/* Relation versions: the journal Relation record for what pgoutput
 * announced. pgoutput's columns are the schema at the time of the change
 * (from the historic catalog); the current catalog completes them with what
 * pgoutput does not send (type names, primary key, NOT NULL, the missing
 * value of ADD COLUMN ... DEFAULT, the file node a rewrite changes). */
#ifndef TM_RELVERSION_H
#define TM_RELVERSION_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "capture/source/catalog.h"
#include "capture/decode/relcache.h"

int tm_relversion_build(PGconn *sql, const tm_rel *r, tm_catrel *out, tm_error *err);

/* Same schema (version and lsn are not compared). */
bool tm_relation_equal(const Tidemark__Relation *a, const Tidemark__Relation *b);

#endif
