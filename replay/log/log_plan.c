#include "replay/log/log_plan.h"

#include <stdlib.h>
#include <string.h>

#include "store/journal/journal.h"

/* What to look for of one relation version present in a segment: its
 * table's hash, or the hashes of the keys the --where pins it to (a frame
 * is read when it holds any of them, or a TRUNCATE of the table). */
typedef struct group {
    uint32_t oid;
    bool by_table;
    uint32_t *h;
    size_t n;
} group;

/* Composite keys whose pinned values combine into more keys than this are
 * looked up by their first column instead. */
#define MAX_ROW_KEYS 4096

struct log_plan {
    const log_opts *o;
    const tm_relreg *schema;
    log_filter *filter;
    bool rows;        /* --table or --where */
    uint32_t *xids;   /* hashes */
    uint32_t base[3]; /* frames always read: gaps, and messages/snapshots when shown */
    size_t nbase;

    /* the groups of the segment last planned */
    const tm_keysum *ks;
    uint64_t segno;
    group *groups;
    size_t ngroups;
    bool whole; /* a relation the schema does not know: read every frame */
    bool failed;
};

static void clear_groups(log_plan *p)
{
    for (size_t i = 0; i < p->ngroups; i++)
        free(p->groups[i].h);
    free(p->groups);
    p->groups = NULL;
    p->ngroups = 0;
    p->whole = false;
}

log_plan *log_plan_new(const log_opts *o, const tm_relreg *s, log_filter *f, tm_error *err)
{
    log_plan *p = calloc(1, sizeof *p);
    if (!p || (o->nxids && !(p->xids = malloc(o->nxids * sizeof *p->xids)))) {
        free(p);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->o = o;
    p->schema = s;
    p->filter = f;
    p->rows = o->ntables > 0 || o->where != NULL;
    for (size_t i = 0; i < o->nxids; i++)
        p->xids[i] = tm_keysum_hash_xid(o->xids[i]);
    p->base[p->nbase++] = tm_keysum_hash_gap();
    if (o->all_messages)
        p->base[p->nbase++] = tm_keysum_hash_message();
    if (o->transactions)
        p->base[p->nbase++] = tm_keysum_hash_snapshot();
    return p;
}

void log_plan_free(log_plan *p)
{
    if (!p)
        return;
    clear_groups(p);
    free(p->xids);
    free(p);
}

bool log_plan_prunes(const log_plan *p)
{
    return p->rows || p->o->nxids > 0;
}

/* The canonical values a --where condition pins column c of rv to, as
 * malloc'd strings (*n of them), or NULL when no condition pins it in a
 * form the summaries hold. */
static char **pinned_values(const tm_relver *rv, const tm_where *w, size_t c, size_t *n,
                            size_t **lens)
{
    tm_tclass cls = tm_type_class(rv->cols[c].type_oid, rv->cols[c].type_name);
    if (!w || !tm_keysum_indexable(cls))
        return NULL;
    for (size_t i = 0; i < tm_where_count(w); i++) {
        size_t nvals;
        if (!tm_where_pin(w, i, &nvals) || strcmp(tm_where_column(w, i), rv->cols[c].name))
            continue;
        char **v = calloc(nvals, sizeof *v);
        *lens = calloc(nvals, sizeof **lens);
        bool ok = v && *lens;
        for (size_t j = 0; ok && j < nvals; j++) {
            const char *s, *canon;
            size_t len;
            tm_where_pin_value(w, i, j, &s, &len);
            char *buf = malloc(len + 34);
            ok = buf && tm_keysum_canon(cls, s, len, buf, &canon, &(*lens)[j]);
            if (ok) {
                v[j] = malloc((*lens)[j] + 1);
                ok = v[j] != NULL;
                if (ok)
                    memcpy(v[j], canon, (*lens)[j]);
            }
            free(buf);
        }
        if (ok) {
            *n = nvals;
            return v;
        }
        for (size_t j = 0; v && j < nvals; j++)
            free(v[j]);
        free(v);
        free(*lens);
        *lens = NULL;
    }
    return NULL;
}

static void free_values(char **v, size_t n, size_t *lens)
{
    for (size_t j = 0; v && j < n; j++)
        free(v[j]);
    free(v);
    free(lens);
}

/* The hashes to look for rv: whole keys when the --where pins every key
 * column, else the first key column's values; false when it pins neither
 * (then the table's hash is looked for). */
static bool key_hashes(const tm_relver *rv, const tm_where *w, group *g)
{
    size_t nk = rv->nkey;
    char ***vals = calloc(nk, sizeof *vals);
    size_t **lens = calloc(nk, sizeof *lens), *counts = calloc(nk, sizeof *counts);
    bool ok = false;
    if (!vals || !lens || !counts)
        goto out;
    size_t product = 1;
    bool all = rv->keysrc != TM_KEY_ALL && nk > 1;
    for (size_t i = 0; i < nk; i++) {
        vals[i] = pinned_values(rv, w, rv->key[i], &counts[i], &lens[i]);
        if (!vals[i]) {
            all = false;
            if (i == 0)
                break;
        } else if (product <= MAX_ROW_KEYS) {
            product *= counts[i];
        }
    }
    if (all && product <= MAX_ROW_KEYS) {
        g->h = malloc(product * sizeof *g->h);
        size_t *at = calloc(nk, sizeof *at);
        if (g->h && at) {
            /* Every combination of the pinned values, odometer style. */
            for (size_t n = 0; n < product; n++) {
                uint32_t h = tm_keysum_hash_row_begin(rv->oid);
                for (size_t i = 0; i < nk; i++)
                    h = tm_keysum_hash_row_add(h, vals[i][at[i]], lens[i][at[i]]);
                g->h[g->n++] = h;
                for (size_t i = nk; i-- > 0;) {
                    if (++at[i] < counts[i])
                        break;
                    at[i] = 0;
                }
            }
            ok = true;
        }
        free(at);
    } else if (vals[0]) {
        g->h = malloc(counts[0] * sizeof *g->h);
        if (g->h) {
            for (size_t j = 0; j < counts[0]; j++)
                g->h[g->n++] = tm_keysum_hash_column(rv->oid, rv->cols[rv->key[0]].name, vals[0][j],
                                                     lens[0][j]);
            ok = true;
        }
    }
out:
    for (size_t i = 0; vals && lens && counts && i < nk; i++)
        free_values(vals[i], counts[i], lens[i]);
    free(vals);
    free(lens);
    free(counts);
    if (!ok) {
        free(g->h);
        g->h = NULL;
        g->n = 0;
    }
    return ok;
}

/* The hashes of the first other search column (unique or foreign key:
 * user_id) the --where pins; false when it pins none. */
static bool search_hashes(const tm_relver *rv, const tm_where *w, group *g)
{
    for (size_t i = 0; i < rv->nsearch; i++) {
        size_t c = rv->search[i], n, *lens = NULL;
        if (rv->nkey && c == rv->key[0])
            continue; /* key_hashes had it */
        char **vals = pinned_values(rv, w, c, &n, &lens);
        if (!vals)
            continue;
        g->h = malloc(n * sizeof *g->h);
        for (size_t j = 0; g->h && j < n; j++)
            g->h[g->n++] = tm_keysum_hash_column(rv->oid, rv->cols[c].name, vals[j], lens[j]);
        free_values(vals, n, lens);
        return g->h != NULL;
    }
    return false;
}

static int add_group(log_plan *p, const group *g)
{
    group *v = realloc(p->groups, (p->ngroups + 1) * sizeof *v);
    if (!v)
        return -1;
    p->groups = v;
    p->groups[p->ngroups++] = *g;
    return 0;
}

/* Plans a segment from the relation versions its summary lists. */
static void plan_segment(log_plan *p, const tm_keysum *ks)
{
    clear_groups(p);
    p->ks = ks;
    p->segno = tm_keysum_segment(ks);
    const tm_where *w = log_filter_where(p->filter);
    size_t n = tm_keysum_nrelations(ks);
    for (size_t i = 0; i < n && !p->whole; i++) {
        uint32_t oid, version;
        tm_keysum_relation_at(ks, i, &oid, &version);
        const tm_relver *rv = tm_relreg_get(p->schema, oid, version);
        tm_error err;
        const log_rel *lr = rv ? log_filter_rel(p->filter, rv, &err) : NULL;
        if (!lr) {
            p->whole = true; /* unknown here: play safe */
            break;
        }
        if (!lr->selected || !lr->possible)
            continue;
        group g = {oid, true, NULL, 0};
        g.by_table = !key_hashes(rv, w, &g) && !search_hashes(rv, w, &g);
        if (add_group(p, &g) != 0) {
            free(g.h);
            p->whole = true;
        }
    }
}

static bool any(const tm_keysum *ks, uint32_t frame, const uint32_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tm_keysum_has(ks, frame, h[i]))
            return true;
    return false;
}

static bool group_matches(const tm_keysum *ks, uint32_t frame, const group *g)
{
    if (tm_keysum_has(ks, frame, tm_keysum_hash_trunc(g->oid)))
        return true;
    if (g->by_table)
        return tm_keysum_has(ks, frame, tm_keysum_hash_table(g->oid));
    return any(ks, frame, g->h, g->n);
}

int log_plan_want(void *ctx, const tm_keysum *ks, uint32_t frame)
{
    log_plan *p = ctx;
    if (p->ks != ks || p->segno != tm_keysum_segment(ks))
        plan_segment(p, ks);
    if (p->whole || any(ks, frame, p->base, p->nbase))
        return TM_FRAME_READ;
    if (p->o->nxids && !any(ks, frame, p->xids, p->o->nxids))
        return TM_FRAME_SKIP;
    if (p->rows) {
        bool hit = false;
        for (size_t i = 0; i < p->ngroups && !hit; i++)
            hit = group_matches(ks, frame, &p->groups[i]);
        if (!hit)
            return TM_FRAME_SKIP;
    }
    return TM_FRAME_READ;
}
