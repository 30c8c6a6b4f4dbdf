/* Relation versions: the journal Relation record for what pgoutput
 * announced. pgoutput's columns are the schema at the time of the change
 * (from the historic catalog); the current catalog completes them with what
 * pgoutput does not send (type names, primary key, NOT NULL, the missing
 * value of ADD COLUMN ... DEFAULT, the file node a rewrite changes, and
 * the catalog detail replay --create-tables uses: defaults, identity,
 * sequences, unique keys and the definitions of the columns' types). */
#ifndef TM_RELVERSION_H
#define TM_RELVERSION_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "capture/source/catalog.h"
#include "capture/decode/relcache.h"

int tm_relversion_build(PGconn *sql, const tm_rel *r, tm_catrel *out, tm_error *err);

/* Same schema, catalog detail included (version and lsn are not
 * compared): a change of a default or a unique key, or a first version
 * with the detail after versions recorded without it, is a new version. */
bool tm_relation_equal(const Tidemark__Relation *a, const Tidemark__Relation *b);

#endif
