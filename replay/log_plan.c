#include "log_plan.h"

#include <stdlib.h>
#include <string.h>

#include "journal.h"

/* What to look for of one relation version present in a segment: its
 * table's hash, or for each usable --where pin the hashes of its values
 * (a change matches when every pin finds one of its values). */
typedef struct pin_hashes {
    uint32_t *h;
    size_t n;
} pin_hashes;

typedef struct group {
    uint32_t oid;
    bool by_table;
    pin_hashes *pins;
    size_t npins;
} group;

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
    for (size_t i = 0; i < p->ngroups; i++) {
        for (size_t k = 0; k < p->groups[i].npins; k++)
            free(p->groups[i].pins[k].h);
        free(p->groups[i].pins);
    }
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
        tm_error_set(err, "out of memory");
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

/* The hashes of pin i of the where for rv, or false when the summary does
 * not index it (not a key column, a type without a canonical form, a value
 * not in canonical-able form). */
static bool pin_for(const tm_relver *rv, const tm_where *w, size_t i, pin_hashes *out)
{
    size_t nvals;
    if (!tm_where_pin(w, i, &nvals))
        return false;
    long c = tm_relver_column(rv, tm_where_column(w, i));
    if (c < 0)
        return false;
    bool key = false;
    for (size_t k = 0; k < rv->nkey; k++)
        key |= rv->key[k] == (size_t)c;
    tm_tclass cls = tm_type_class(rv->cols[c].type_oid, rv->cols[c].type_name);
    if (!key || !tm_keysum_indexable(cls))
        return false;
    out->h = malloc(nvals * sizeof *out->h);
    out->n = 0;
    if (!out->h)
        return false;
    for (size_t j = 0; j < nvals; j++) {
        const char *s, *canon;
        size_t len, clen;
        tm_where_pin_value(w, i, j, &s, &len);
        char small[64], *buf = len + 1 > sizeof small ? malloc(len + 1) : small;
        bool ok = buf && tm_keysum_canon(cls, s, len, buf, &canon, &clen);
        if (ok)
            out->h[out->n++] = tm_keysum_hash_column(rv->oid, rv->cols[c].name, canon, clen);
        if (buf != small)
            free(buf);
        if (!ok) {
            free(out->h);
            out->h = NULL;
            return false;
        }
    }
    return true;
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
        size_t nconds = w ? tm_where_count(w) : 0;
        for (size_t k = 0; k < nconds; k++) {
            pin_hashes ph;
            if (!pin_for(rv, w, k, &ph))
                continue;
            pin_hashes *v = realloc(g.pins, (g.npins + 1) * sizeof *v);
            if (!v) {
                free(ph.h);
                p->whole = true;
                break;
            }
            g.pins = v;
            g.pins[g.npins++] = ph;
        }
        g.by_table = g.npins == 0;
        if (add_group(p, &g) != 0) {
            for (size_t k = 0; k < g.npins; k++)
                free(g.pins[k].h);
            free(g.pins);
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
    for (size_t k = 0; k < g->npins; k++)
        if (!any(ks, frame, g->pins[k].h, g->pins[k].n))
            return false;
    return true;
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
