/*
 * The relation cache: what the latest pgoutput Relation message said about
 * each relation oid (namespace, name, replica identity, columns), which is
 * what Insert/Update/Delete need to be understood. Every new walsender
 * re-sends Relation messages, so putting one reports whether it differs
 * from what was cached: capture records a new relation version only then.
 *
 * The cache copies everything out of the (transient) message buffer and
 * owns that memory.
 */
#ifndef TM_RELCACHE_H
#define TM_RELCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/decode/pgoutput.h"
#include "store/common/tm_error.h"

typedef struct tm_relcol {
    const char *name;
    uint32_t type_oid;
    int32_t typmod;
    uint8_t flags; /* TM_PGO_COL_KEY */
} tm_relcol;

typedef struct tm_rel {
    uint32_t oid;
    const char *nspname;
    const char *relname;
    char replident; /* 'd', 'n', 'f', 'i' */
    uint32_t ncols;
    const tm_relcol *cols;
    /* The caller's (capture: the journal's relation version). The cache
     * never reads it; it keeps it when an identical Relation message is
     * put again and sets it to 0 when the relation changed. */
    uint32_t version;
} tm_rel;

typedef struct tm_relcache tm_relcache;

/* Returns 0, or -1 with err (out of memory). */
int tm_relcache_create(tm_relcache **out, tm_error *err);
/* Frees the cache and every entry (NULL is fine). */
void tm_relcache_destroy(tm_relcache *rc);

/*
 * Records what a Relation message says. *changed is true when the oid was
 * not cached or when namespace, name, replica identity, or any column's
 * name, type oid, type modifier or key flag differs from the cached entry;
 * then the entry is replaced (pointers previously returned for this oid
 * become invalid) and its version is 0. When nothing differs the entry is
 * kept as it is. *out is the entry. Returns 0, or -1 with err (out of
 * memory: the cache is unchanged).
 */
int tm_relcache_put(tm_relcache *rc, const tm_pgo_relation *msg, tm_rel **out, bool *changed,
                    tm_error *err);

/* The entry for oid, or NULL when no Relation message announced it. */
tm_rel *tm_relcache_get(const tm_relcache *rc, uint32_t oid);

/* Number of cached relations. */
uint32_t tm_relcache_count(const tm_relcache *rc);

#endif
