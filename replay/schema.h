/* The relation schemas of a journal as a reader meets them: every
 * (oid, version) from the Relation records, kept as an owned copy with what
 * typed code needs (column descriptions, key columns, a display name).
 *
 * Readers repeat Relations (segment preambles, schema catch-up after a
 * seek); adding a known (oid, version) is a no-op. Entries never move once
 * added, so pointers to them stay valid until tm_schema_free. */
#ifndef TM_SCHEMA_H
#define TM_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal.pb-c.h"
#include "tm_error.h"
#include "value.h"

typedef enum tm_keysrc {
    TM_KEY_PRIMARY,  /* the primary key, in its column order */
    TM_KEY_IDENTITY, /* the replica identity index columns */
    TM_KEY_ALL,      /* neither: the whole row identifies it */
} tm_keysrc;

typedef struct tm_relver {
    uint32_t oid, version;
    size_t index;            /* 0, 1, 2, ... in the order entries were added */
    Tidemark__Relation *rel; /* owned copy */
    const char *schema;      /* rel->namespace_ ("" when absent) */
    const char *name;        /* rel->name ("" when absent) */
    char *display;           /* schema.name, each part quoted only when needed */
    tm_coldesc *cols;        /* one per column, pointing into rel */
    size_t ncols;
    size_t *key; /* column indexes of the row's key */
    size_t nkey;
    tm_keysrc keysrc;
} tm_relver;

typedef struct tm_schema tm_schema;

tm_schema *tm_schema_new(tm_error *err);
void tm_schema_free(tm_schema *s);

/* Adds a Relation record (copied). *added says whether it was new; returns
 * the entry, or NULL with err (out of memory, or no oid). */
const tm_relver *tm_schema_add(tm_schema *s, const Tidemark__Relation *rel, bool *added,
                               tm_error *err);

/* The entry for (oid, version), or NULL. */
const tm_relver *tm_schema_get(const tm_schema *s, uint32_t oid, uint32_t version);

/* All entries, in the order they were added. */
size_t tm_schema_count(const tm_schema *s);
const tm_relver *tm_schema_at(const tm_schema *s, size_t i);

/* The column of rv named name (exact, as in the catalog), or -1. */
long tm_relver_column(const tm_relver *rv, const char *name);

#endif
