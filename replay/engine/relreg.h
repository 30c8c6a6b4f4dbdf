/* A registry of the relation schemas a journal reader meets, by (oid,
 * version): each Relation record kept once (schema.h's tm_version), with
 * what log-style code needs at hand: the row's key columns, a display name
 * and a dense index for per-version side tables.
 *
 * Readers repeat Relations (segment preambles, schema catch-up after a
 * seek); adding a known (oid, version) is a no-op. Entries never move once
 * added, so pointers to them stay valid until tm_relreg_free. */
#ifndef TM_RELREG_H
#define TM_RELREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/journal.pb-c.h"
#include "replay/engine/schema.h"
#include "store/common/tm_error.h"
#include "replay/query/value.h"

typedef enum tm_keysrc {
    TM_KEY_PRIMARY,  /* the primary key, in its column order */
    TM_KEY_IDENTITY, /* the replica identity index columns */
    TM_KEY_ALL,      /* neither: the whole row identifies it */
} tm_keysrc;

typedef struct tm_relver {
    uint32_t oid, version;
    size_t index;                  /* 0, 1, 2, ... in the order entries were added */
    tm_version *v;                 /* owned */
    const Tidemark__Relation *rel; /* v->rel */
    const char *schema, *name;     /* v->nspname, v->relname */
    char *display;                 /* schema.name, each part quoted only when needed */
    const tm_coldesc *cols;        /* v->desc */
    size_t ncols;
    size_t *key; /* column indexes of the row's key (tm_version_key) */
    size_t nkey;
    tm_keysrc keysrc;
    /* The columns people look rows up by, each once: the key's first
     * column, then the first column of each unique key and of each foreign
     * key (user_id) the catalog detail records. */
    size_t *search;
    size_t nsearch;
} tm_relver;

typedef struct tm_relreg tm_relreg;

tm_relreg *tm_relreg_new(tm_error *err);
void tm_relreg_free(tm_relreg *s);

/* Adds a Relation record (copied). *added says whether it was new; returns
 * the entry, or NULL with err (out of memory, or no oid). */
const tm_relver *tm_relreg_add(tm_relreg *s, const Tidemark__Relation *rel, bool *added,
                               tm_error *err);

/* The entry for (oid, version), or NULL. */
const tm_relver *tm_relreg_get(const tm_relreg *s, uint32_t oid, uint32_t version);

/* All entries, in the order they were added. */
size_t tm_relreg_count(const tm_relreg *s);
const tm_relver *tm_relreg_at(const tm_relreg *s, size_t i);

/* The column of rv named name (exact, as in the catalog), or -1. */
long tm_relver_column(const tm_relver *rv, const char *name);

#endif
