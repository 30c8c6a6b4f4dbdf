/* tidemark undo --apply (undo_apply.h): groups of entries, each COPYed
 * into a temporary table and written by one statement fitted to the
 * target's table; row by row only where a group's statement fails. */
#include "replay/undo/undo_apply.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay/engine/rowmap.h"
#include "replay/out/out.h"
#include "replay/out/out_jsonl.h"
#include "replay/out/sql_quote.h"
#include "replay/out/target.h"
#include "replay/query/jsondiff.h"
#include "replay/query/jsonscan.h"
#include "replay/undo/undo_sql.h"
#include "store/common/log.h"

#define ROWS "tidemark_undo_rows"
#define JSONB_OID 3802

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the shape of an entry: what undoing it writes ------------------------------ */

/* A jsonb member to set back (set: it was there before) or remove. */
typedef struct upath {
    uint32_t col;  /* in the before image's version */
    char *sql;     /* ARRAY['k1', 'k2']::text[] */
    char *display; /* col.k1.k2, for reports */
    char *keys;    /* the decoded keys, each a uint32_t length then its bytes */
    uint32_t depth;
    bool set;
} upath;

typedef struct shape {
    uint32_t *cols; /* before-image columns set back as whole values */
    uint32_t ncols;
    upath *paths;
    uint32_t npaths;
} shape;

static void shape_free(shape *s)
{
    for (uint32_t i = 0; i < s->npaths; i++) {
        free(s->paths[i].sql);
        free(s->paths[i].display);
        free(s->paths[i].keys);
    }
    free(s->paths);
    free(s->cols);
    memset(s, 0, sizeof *s);
}

static int col_by_name(const tm_version *v, const char *name)
{
    for (uint32_t i = 0; i < v->ncols; i++)
        if (!strcmp(v->cols[i].name, name))
            return (int)i;
    return -1;
}

/* Binary signature parts (no printf per row: it was a tenth of the
 * client's time in a 100k-row undo). */
static void sig_u64(tm_out *sig, uint64_t v)
{
    tm_out_write(sig, (const char *)&v, sizeof v);
}

static bool value_eq(const tm_value *x, const tm_value *y)
{
    return x->kind == y->kind && x->len == y->len && (!x->len || !memcmp(x->ptr, y->ptr, x->len));
}

typedef struct pathctx {
    shape *s;
    uint32_t col;
    const char *colname;
    tm_out *sig; /* only the signature: the paths' raw keys */
    uint32_t count;
} pathctx;

/* tm_json_diff_fn: one changed member becomes a path to set or remove. */
static int add_path(void *arg, const tm_json_differ *d, size_t depth, const char *op,
                    const char *oe, const char *np, const char *ne)
{
    (void)oe;
    (void)np;
    (void)ne;
    pathctx *x = arg;
    x->count++;
    if (x->sig) {
        sig_u64(x->sig, (uint64_t)x->col << 33 | (uint64_t)(op != NULL) << 32 | depth);
        for (size_t i = 0; i < depth; i++) {
            sig_u64(x->sig, d->path[i].len);
            tm_out_write(x->sig, d->path[i].p, d->path[i].len);
        }
        return 0;
    }
    tm_out sql, disp, keys;
    tm_error err;
    if (tm_out_init_mem(&sql, &err) != 0)
        return -1;
    if (tm_out_init_mem(&disp, &err) != 0) {
        tm_out_free(&sql);
        return -1;
    }
    if (tm_out_init_mem(&keys, &err) != 0) {
        tm_out_free(&sql);
        tm_out_free(&disp);
        return -1;
    }
    tm_out_puts(&sql, "ARRAY[");
    tm_out_puts(&disp, x->colname);
    int rc = 0;
    for (size_t i = 0; i < depth && rc == 0; i++) {
        char *k = malloc(d->path[i].len + 1);
        if (!k) {
            rc = -1;
            break;
        }
        size_t kl = tm_json_unescape(d->path[i].p, d->path[i].p + d->path[i].len, k);
        tm_out_puts(&sql, i ? ", " : "");
        rc = tm_sql_literal(&sql, k, kl);
        tm_out_putc(&disp, '.');
        tm_out_write(&disp, k, kl);
        uint32_t l32 = (uint32_t)kl;
        tm_out_write(&keys, (const char *)&l32, sizeof l32);
        tm_out_write(&keys, k, kl);
        free(k);
    }
    tm_out_puts(&sql, "]::text[]");
    tm_out_putc(&sql, '\0');
    tm_out_putc(&disp, '\0');
    upath *a = rc == 0 && !sql.err && !disp.err && !keys.err
                   ? realloc(x->s->paths, (x->s->npaths + 1) * sizeof *a)
                   : NULL;
    if (!a) {
        tm_out_free(&sql);
        tm_out_free(&disp);
        tm_out_free(&keys);
        return -1;
    }
    x->s->paths = a;
    size_t l, kl;
    const char *kd = tm_out_data(&keys, &kl);
    char *kc = malloc(kl + 1);
    if (kc && kl)
        memcpy(kc, kd, kl);
    a[x->s->npaths++] = (upath){x->col,
                                strdup(tm_out_data(&sql, &l)),
                                strdup(tm_out_data(&disp, &l)),
                                kc,
                                (uint32_t)depth,
                                op != NULL};
    tm_out_free(&sql);
    tm_out_free(&disp);
    tm_out_free(&keys);
    upath *p = &a[x->s->npaths - 1];
    return p->sql && p->display && p->keys ? 0 : -1;
}

/* What undoing the UPDATE entry e sets back: columns (matched by name
 * between its images) and, by column, jsonb members, into s; or (s NULL)
 * only their signature, appended to sig. -1 out of memory. */
static int shape_of(const tm_undo_entry *e, bool by_row, shape *s, tm_out *sig, tm_json_differ *jd)
{
    const tm_undo_img *b = &e->before, *a = &e->after;
    if (s) {
        memset(s, 0, sizeof *s);
        if (!(s->cols = malloc((b->ver->ncols + 1) * sizeof *s->cols)))
            return -1;
    }
    for (uint32_t i = 0; i < b->ver->ncols; i++) {
        const tm_col *c = &b->ver->cols[i];
        int j = b->ver == a->ver ? (int)i : col_by_name(a->ver, c->name);
        if (j < 0 || value_eq(&b->v[i], &a->v[j]))
            continue;
        const tm_value *x = &b->v[i], *y = &a->v[j];
        const char *xs, *xe, *ys, *ye;
        if (!by_row && c->type_oid == JSONB_OID && x->kind == TM_KIND_TEXT &&
            y->kind == TM_KIND_TEXT && tm_json_one_value(x->ptr, x->ptr + x->len, &xs, &xe) &&
            tm_json_one_value(y->ptr, y->ptr + y->len, &ys, &ye) && *xs == '{' && *ys == '{') {
            pathctx px = {s, i, c->name, s ? NULL : sig, 0};
            if (tm_json_diff(jd, xs, xe, ys, ye, add_path, &px) != 0)
                return -1;
            if (px.count)
                continue;
        }
        if (s)
            s->cols[s->ncols++] = i;
        else
            sig_u64(sig, (uint64_t)1 << 63 | i);
    }
    return 0;
}

/* ---- groups ---------------------------------------------------------------------- */

typedef struct group {
    const tm_table *t;
    tm_undo_kind kind;
    const tm_version *va, *vb;
    shape sh;  /* UPDATE */
    char *sig; /* binary, siglen bytes */
    size_t siglen;
    size_t *idx; /* into es */
    size_t n, cap;
    bool deferred; /* its statement hit a foreign key: tried again later */
    bool done;
} group;

typedef struct run {
    PGconn *c;
    const tm_undo_apply_opts *o;
    const tm_undo_entry **es;
    tm_undo_row *rows;
    tm_out sql, data, msg;
    tm_error *err;
    /* the table of the group being run */
    tm_target_table tt;
    const tm_table *tt_of;
    bool guard; /* rows referring to it through cascading keys: check each deleted row */
} run;

typedef struct groups {
    group **g;
    size_t n, cap;
    /* open addressing over sig hashes */
    size_t *slot; /* group index + 1, 0 empty */
    size_t mask;
} groups;

static uint64_t hash_sig(const char *s, size_t len)
{
    return tm_hash_final(tm_hash_part(0, s, len));
}

static void groups_free(groups *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        shape_free(&gs->g[i]->sh);
        free(gs->g[i]->sig);
        free(gs->g[i]->idx);
        free(gs->g[i]);
    }
    free(gs->g);
    free(gs->slot);
    memset(gs, 0, sizeof *gs);
}

static int groups_grow(groups *gs)
{
    size_t cap = gs->mask ? (gs->mask + 1) * 2 : 64;
    size_t *s = calloc(cap, sizeof *s);
    if (!s)
        return -1;
    for (size_t i = 0; i < gs->n; i++) {
        size_t j = hash_sig(gs->g[i]->sig, gs->g[i]->siglen) & (cap - 1);
        while (s[j])
            j = (j + 1) & (cap - 1);
        s[j] = i + 1;
    }
    free(gs->slot);
    gs->slot = s;
    gs->mask = cap - 1;
    return 0;
}

/* Adds entry i to the group whose signature is sig (its shape computed
 * when the group is new). */
static int group_add(groups *gs, const tm_undo_entry *e, size_t i, tm_undo_kind k, const char *sig,
                     size_t siglen, bool by_row, tm_json_differ *jd)
{
    if ((gs->n + 1) * 2 > gs->mask && groups_grow(gs) != 0)
        return -1;
    size_t j = hash_sig(sig, siglen) & gs->mask;
    group *g = NULL;
    /* Tables without a key: one group per row (their statements pick one
     * of identical rows each). */
    while (gs->slot[j]) {
        group *x = gs->g[gs->slot[j] - 1];
        if (x->siglen == siglen && !memcmp(x->sig, sig, siglen) && e->t->unique) {
            g = x;
            break;
        }
        j = (j + 1) & gs->mask;
    }
    if (!g) {
        if (gs->n == gs->cap) {
            size_t cap = gs->cap ? gs->cap * 2 : 16;
            group **a = realloc(gs->g, cap * sizeof *a);
            if (!a)
                return -1;
            gs->g = a;
            gs->cap = cap;
        }
        if (!(g = calloc(1, sizeof *g)))
            return -1;
        gs->g[gs->n++] = g; /* owned by gs from here */
        if (!(g->sig = malloc(siglen + 1)))
            return -1;
        memcpy(g->sig, sig, siglen);
        g->siglen = siglen;
        if (k == TM_UNDO_UPDATE && shape_of(e, by_row, &g->sh, NULL, jd) != 0)
            return -1;
        g->t = e->t;
        g->kind = k;
        g->va = e->has_after ? e->after.ver : NULL;
        g->vb = e->has_before ? e->before.ver : NULL;
        gs->slot[j] = gs->n;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        size_t *a = realloc(g->idx, cap * sizeof *a);
        if (!a)
            return -1;
        g->idx = a;
        g->cap = cap;
    }
    g->idx[g->n++] = i;
    return 0;
}

/* ---- SQL pieces -------------------------------------------------------------------- */

static void ident(run *r, const char *s)
{
    tm_sql_ident(&r->sql, s, strlen(s));
}

static void table_name(run *r, const tm_table *t)
{
    tm_undo_table_name(&r->sql, t);
}

/* s.a3::type (the image's text cast to the target's column type). */
static void img_val(run *r, char side, uint32_t i, const tm_target_col *tc)
{
    char buf[24];
    snprintf(buf, sizeof buf, "s.%c%u::", side, i);
    tm_out_puts(&r->sql, buf);
    tm_out_puts(&r->sql, tc->type);
}

static bool is_key_col(const tm_table *t, const tm_version *v, uint32_t i)
{
    for (uint32_t k = 0; k < t->nkeys && t->unique; k++) {
        int32_t m = t->to_cur[v->version][t->keycols[k]];
        if (m >= 0 && (uint32_t)m == i)
            return true;
    }
    return false;
}

/* The name column i of version v has in the table's newest recorded
 * version: its own, or what a later version renamed it to (by attnum when
 * the journal has them; in older journals, at the same position a column
 * of the same type whose name is new while the old name is gone). Writes
 * follow renames to the target that way. */
static const char *cur_name(const tm_table *t, const tm_version *v, uint32_t i)
{
    /* Journals that record attnums say it exactly: the state's column map
     * follows them. */
    const int32_t *map = t->to_cur ? t->to_cur[v->version] : NULL;
    if (map && v->rel->columns[i]->has_attnum && t->cur->ncols &&
        t->cur->rel->columns[0]->has_attnum) {
        for (uint32_t c = 0; c < t->cur->ncols; c++)
            if (map[c] == (int32_t)i)
                return t->cur->cols[c].name;
        return v->cols[i].name; /* dropped */
    }
    const char *name = v->cols[i].name;
    uint32_t pos = i, type = v->cols[i].type_oid;
    const tm_version *prev = v;
    for (uint32_t k = v->version + 1; k < t->nver; k++) {
        const tm_version *nx = t->ver[k];
        if (!nx)
            continue;
        int at = tm_version_find(nx, name);
        if (at >= 0) {
            pos = (uint32_t)at;
        } else if (pos < nx->ncols && nx->cols[pos].type_oid == type &&
                   tm_version_find(prev, nx->cols[pos].name) < 0) {
            name = nx->cols[pos].name;
        } else {
            return v->cols[i].name; /* dropped */
        }
        prev = nx;
    }
    return name;
}

/* The target's column for column i of version v, or NULL. */
static const tm_target_col *tcol(run *r, const tm_version *v, uint32_t i)
{
    return tm_target_col_find(&r->tt, cur_name(r->tt_of, v, i));
}

/* The column of version v that the target's column name stands for, or -1. */
static int image_col(run *r, const tm_version *v, const char *name)
{
    for (uint32_t i = 0; i < v->ncols; i++)
        if (!strcmp(cur_name(r->tt_of, v, i), name))
            return (int)i;
    return -1;
}

/* alias.key = s.<side>N::type AND ... over the key columns of v. -1 when
 * the target lacks one. */
static int key_match(run *r, const tm_version *v, char side, const char *alias)
{
    bool first = true;
    for (uint32_t i = 0; i < v->ncols; i++) {
        if (!is_key_col(r->tt_of, v, i))
            continue;
        const tm_target_col *tc = tcol(r, v, i);
        if (!tc) {
            tm_error_set(r->err,
                         "the target's table %s.%s lacks key column \"%s\"; its rows cannot be "
                         "matched",
                         r->tt_of->cur->nspname, r->tt_of->cur->relname, v->cols[i].name);
            return -1;
        }
        tm_out_puts(&r->sql, first ? "" : " AND ");
        first = false;
        tm_out_puts(&r->sql, alias);
        tm_out_putc(&r->sql, '.');
        ident(r, tc->name);
        tm_out_puts(&r->sql, " = ");
        img_val(r, side, i, tc);
    }
    if (first)
        tm_out_puts(&r->sql, "true");
    return 0;
}

/* The test that column i of the after image (version va) is what the
 * undone change left: "alias.col::text IS NOT DISTINCT FROM
 * s.aI::type::text" (both in the target's type and text form, so every
 * type compares, json and enums included). */
static void col_same(run *r, const tm_target_col *tc, uint32_t i, const char *alias)
{
    tm_out_putc(&r->sql, '(');
    tm_out_puts(&r->sql, alias);
    tm_out_putc(&r->sql, '.');
    ident(r, tc->name);
    tm_out_puts(&r->sql, "::text IS NOT DISTINCT FROM ");
    img_val(r, 'a', i, tc);
    tm_out_puts(&r->sql, "::text)");
}

/* The member at path k (p) is what the change left: s.apK, loaded as it
 * was then (NULL when absent). */
static void path_same(run *r, const tm_target_col *tc, const upath *p, uint32_t k,
                      const char *alias)
{
    tm_out_puts(&r->sql, "((");
    tm_out_puts(&r->sql, alias);
    tm_out_putc(&r->sql, '.');
    ident(r, tc->name);
    tm_out_puts(&r->sql, "::jsonb #> ");
    tm_out_puts(&r->sql, p->sql);
    char buf[64];
    snprintf(buf, sizeof buf, ") IS NOT DISTINCT FROM s.ap%u)", k);
    tm_out_puts(&r->sql, buf);
}

/* Calls fn for each test that makes up "the row is as the undone change
 * left it" at the group's granularity: every column of the after image
 * (whole row), or the columns and members the UPDATE sets back. */
typedef void (*test_fn)(run *r, const char *label, size_t llen, void *ctx);

typedef struct test_sink {
    const char *alias;
    int mode; /* 0: AND of the tests; 1: CASE list of the labels that fail */
    bool first;
    bool whole; /* every column, whatever the granularity */
} test_sink;

/* One test: column idx of the after image, or (p) the member at path idx. */
static void emit_test(run *r, const group *g, test_sink *ts, const tm_target_col *tc, uint32_t idx,
                      const upath *p, const char *label)
{
    if (ts->mode == 0) {
        tm_out_puts(&r->sql, ts->first ? "" : " AND ");
    } else {
        tm_out_puts(&r->sql, ", CASE WHEN NOT ");
    }
    ts->first = false;
    if (p)
        path_same(r, tc, p, idx, ts->alias);
    else
        col_same(r, tc, idx, ts->alias);
    if (ts->mode == 1) {
        tm_out_puts(&r->sql, " THEN ");
        tm_sql_literal(&r->sql, label, strlen(label));
        tm_out_puts(&r->sql, " END");
    }
    (void)g;
}

static void tests(run *r, const group *g, test_sink *ts)
{
    const tm_version *va = g->va;
    bool whole = g->kind != TM_UNDO_UPDATE || r->o->by_row || ts->whole;
    if (whole) {
        for (uint32_t i = 0; i < va->ncols; i++) {
            const tm_target_col *tc = tcol(r, va, i);
            if (tc && !is_key_col(g->t, va, i))
                emit_test(r, g, ts, tc, i, NULL, va->cols[i].name);
        }
    } else {
        for (uint32_t k = 0; k < g->sh.ncols; k++) {
            const char *name = g->vb->cols[g->sh.cols[k]].name;
            const tm_target_col *tc = tcol(r, g->vb, g->sh.cols[k]);
            int ai = col_by_name(va, name);
            if (tc && ai >= 0)
                emit_test(r, g, ts, tc, (uint32_t)ai, NULL, name);
        }
        for (uint32_t k = 0; k < g->sh.npaths; k++) {
            const upath *p = &g->sh.paths[k];
            const tm_target_col *tc = tcol(r, g->vb, p->col);
            if (tc)
                emit_test(r, g, ts, tc, k, p, p->display);
        }
    }
    if (ts->mode == 0 && ts->first)
        tm_out_puts(&r->sql, "true");
}

/* ---- running statements ------------------------------------------------------------ */

static void db_error(run *r, const char *what, PGresult *res)
{
    tm_error_setc(r->err, TM_ERR_DB, "%s: %s", what,
                  res ? PQresultErrorMessage(res) : PQerrorMessage(r->c));
    size_t n = strlen(r->err->msg);
    while (n && (r->err->msg[n - 1] == '\n' || r->err->msg[n - 1] == ' '))
        r->err->msg[--n] = '\0';
}

static int exec_ok(run *r, const char *sql)
{
    PGresult *res = PQexec(r->c, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        db_error(r, sql, res);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* Runs r->sql; the result (also a failed one) in *res. -1 only when out of
 * memory. */
static int exec_built(run *r, PGresult **res)
{
    tm_out_putc(&r->sql, '\0');
    if (r->sql.err) {
        tm_error_setc(r->err, TM_ERR_NOMEM, "out of memory building SQL");
        tm_out_reset(&r->sql);
        return -1;
    }
    size_t len;
    *res = PQexec(r->c, tm_out_data(&r->sql, &len));
    tm_out_reset(&r->sql);
    return 0;
}

static bool res_ok(PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static const char *sqlstate(PGresult *res)
{
    const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return s ? s : "";
}

/* ---- per-row outcome --------------------------------------------------------------- */

static void set_row(run *r, size_t i, int status, const char *why, const char *detail)
{
    tm_undo_row *row = &r->rows[i];
    row->status = status;
    free(row->reason);
    row->reason = NULL;
    if (!why)
        return;
    const tm_undo_entry *e = r->es[i];
    tm_out_reset(&r->msg);
    tm_out_puts(&r->msg, why);
    if (detail && *detail) {
        tm_out_puts(&r->msg, " (");
        tm_out_write(&r->msg, detail, strcspn(detail, "\n"));
        tm_out_putc(&r->msg, ')');
    }
    if (status == TM_UNDO_CONFLICT || row->overwritten) {
        tm_out_puts(&r->msg, "; ");
        tm_undo_later(&r->msg, e);
    }
    tm_out_putc(&r->msg, '\0');
    size_t len;
    if (!r->msg.err)
        row->reason = strdup(tm_out_data(&r->msg, &len));
}

/* Why a row conflicts, from the conflict query's columns. */
static void conflict_reason(run *r, const group *g, size_t i, bool gone, const char *diff)
{
    const tm_undo_entry *e = r->es[i];
    if (g->kind == TM_UNDO_INSERT) {
        set_row(r, i, TM_UNDO_CONFLICT,
                tm_undo_entry_reused(e)
                    ? "its key was inserted again later (key reuse), so the deleted row cannot "
                      "come back"
                    : "its key is taken",
                NULL);
        return;
    }
    if (gone) {
        set_row(r, i, TM_UNDO_CONFLICT, "the row is gone (deleted since)", NULL);
        return;
    }
    tm_out m;
    tm_error err;
    if (tm_out_init_mem(&m, &err) != 0)
        return;
    tm_out_puts(&m, "changed since: ");
    tm_out_puts(&m, diff && *diff ? diff : "the row");
    tm_out_putc(&m, '\0');
    size_t len;
    set_row(r, i, TM_UNDO_CONFLICT, tm_out_data(&m, &len), NULL);
    tm_out_free(&m);
}

/* ---- one group's statements ----------------------------------------------------------- */

/* Reads the target's table of g (once per table in a row of groups). */
static int load_table(run *r, const tm_table *t)
{
    if (r->tt_of == t)
        return 0;
    tm_target_free(&r->tt);
    r->tt_of = NULL;
    if (tm_target_read(r->c, t->cur->nspname, t->cur->relname, &r->tt, r->err) != 0)
        return -1;
    if (!r->tt.exists) {
        tm_error_setc(r->err, TM_ERR_NOT_FOUND, "the target has no table %s.%s", t->cur->nspname,
                      t->cur->relname);
        return -1;
    }
    r->tt_of = t;
    /* Rows that refer to it through keys that would cascade or change:
     * then each deleted row is checked (TM_UNDO_SESSION_SQL). */
    tm_out_puts(&r->sql, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE contype = "
                         "'f' AND confdeltype IN ('c', 'n', 'd') AND confrelid = ");
    tm_out_reset(&r->msg);
    tm_undo_table_name(&r->msg, t);
    size_t len;
    const char *q = tm_out_data(&r->msg, &len);
    tm_sql_literal(&r->sql, q, len);
    tm_out_puts(&r->sql, "::regclass)");
    PGresult *res;
    if (exec_built(r, &res) != 0)
        return -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        db_error(r, "reading the foreign keys that refer to a table", res);
        PQclear(res);
        return -1;
    }
    r->guard = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return 0;
}

/* The before image's values for a re-insert, fitted to the target: the
 * column list into cols, the values into vals. A NOT NULL column with no
 * value: its name in *missing_col, and -2. */
static int insert_lists(run *r, const group *g, tm_out *cols, tm_out *vals,
                        const char **missing_col)
{
    tm_out *save = NULL;
    bool first = true;
    for (size_t k = 0; k < r->tt.n; k++) {
        const tm_target_col *tc = &r->tt.cols[k];
        if (tc->generated)
            continue;
        int bi = image_col(r, g->vb, tc->name);
        if (bi < 0 && !tc->missing) {
            if (tc->notnull && !tc->has_default) {
                *missing_col = tc->name;
                return -2;
            }
            continue; /* its default, or NULL */
        }
        tm_sql_ident(cols, tc->name, strlen(tc->name));
        tm_out_puts(cols, ", ");
        /* value expressions go through r->sql's helpers: build there */
        save = &r->sql;
        tm_out_reset(save);
        if (bi >= 0) {
            img_val(r, 'b', (uint32_t)bi, tc);
        } else {
            tm_out_puts(&r->sql, "(");
            tm_sql_literal(&r->sql, tc->missing, strlen(tc->missing));
            tm_out_puts(&r->sql, "::");
            tm_out_puts(&r->sql, tc->type);
            tm_out_puts(&r->sql, "[])[1]");
        }
        size_t len;
        const char *v = tm_out_data(&r->sql, &len);
        tm_out_puts(vals, first ? "" : ", ");
        tm_out_write(vals, v, len);
        first = false;
        tm_out_reset(&r->sql);
    }
    if (cols->len >= 2)
        cols->len -= 2; /* the last ", " */
    return first ? -3 : 0;
}

/* The statement that writes group g's rows (one row: only, >= 0), into
 * r->sql. checked: with the conflict tests. Returns 0, 1 when there is
 * nothing to write, -2 when a re-insert lacks a NOT NULL value (*why set),
 * -1 with err. */
static int write_stmt(run *r, const group *g, long only, bool checked, const char **why)
{
    const tm_table *t = g->t;
    char onlybuf[40] = "";
    if (only >= 0)
        snprintf(onlybuf, sizeof onlybuf, " AND s.idx = %ld", only);
    test_sink ts = {.alias = "t", .mode = 0, .first = true};
    switch (g->kind) {
    case TM_UNDO_DELETE:
        tm_out_puts(&r->sql, "DELETE FROM ");
        table_name(r, t);
        if (t->unique) {
            tm_out_puts(&r->sql, " t USING " ROWS " s WHERE ");
            if (key_match(r, g->va, 'a', "t") != 0)
                return -1;
        } else {
            tm_out_puts(&r->sql, " t WHERE t.ctid = (SELECT t2.ctid FROM ");
            table_name(r, t);
            tm_out_puts(&r->sql, " t2, " ROWS " s WHERE true");
            tm_out_puts(&r->sql, onlybuf);
            tm_out_puts(&r->sql, " AND ");
            test_sink whole = {.alias = "t2", .mode = 0, .first = true, .whole = true};
            tests(r, g, &whole);
            tm_out_puts(&r->sql, " LIMIT 1)");
            onlybuf[0] = '\0';
            checked = false;
        }
        if (checked) {
            tm_out_puts(&r->sql, " AND ");
            tests(r, g, &ts);
        }
        tm_out_puts(&r->sql, onlybuf);
        if (r->guard) {
            tm_out_puts(&r->sql, " AND pg_temp.tidemark_unreferenced(");
            tm_out_reset(&r->msg);
            tm_undo_table_name(&r->msg, t);
            size_t len;
            const char *q = tm_out_data(&r->msg, &len);
            tm_sql_literal(&r->sql, q, len);
            tm_out_puts(&r->sql, "::regclass, t.ctid)");
        }
        return 0;
    case TM_UNDO_UPDATE: {
        tm_out_puts(&r->sql, "UPDATE ");
        table_name(r, t);
        tm_out_puts(&r->sql, " t SET ");
        bool any = false;
        for (uint32_t k = 0; k < g->sh.ncols; k++) {
            uint32_t bi = g->sh.cols[k];
            const tm_target_col *tc = tcol(r, g->vb, bi);
            if (!tc || tc->generated || tc->always)
                continue;
            tm_out_puts(&r->sql, any ? ", " : "");
            any = true;
            ident(r, tc->name);
            tm_out_puts(&r->sql, " = ");
            img_val(r, 'b', bi, tc);
        }
        /* jsonb members, column by column: nested jsonb_set / #- */
        for (uint32_t k = 0; k < g->sh.npaths;) {
            uint32_t col = g->sh.paths[k].col, end = k;
            while (end < g->sh.npaths && g->sh.paths[end].col == col)
                end++;
            const tm_target_col *tc = tcol(r, g->vb, col);
            if (tc && !tc->generated) {
                tm_out_puts(&r->sql, any ? ", " : "");
                any = true;
                ident(r, tc->name);
                tm_out_puts(&r->sql, " = (");
                for (uint32_t p = end; p > k; p--)
                    tm_out_puts(&r->sql, g->sh.paths[p - 1].set ? "jsonb_set(" : "(");
                tm_out_puts(&r->sql, "t.");
                ident(r, tc->name);
                tm_out_puts(&r->sql, "::jsonb");
                for (uint32_t p = k; p < end; p++) {
                    const upath *up = &g->sh.paths[p];
                    char buf[48];
                    if (up->set) {
                        tm_out_puts(&r->sql, ", ");
                        tm_out_puts(&r->sql, up->sql);
                        snprintf(buf, sizeof buf, ", s.bp%u, true)", p);
                        tm_out_puts(&r->sql, buf);
                    } else {
                        tm_out_puts(&r->sql, " #- ");
                        tm_out_puts(&r->sql, up->sql);
                        tm_out_puts(&r->sql, ")");
                    }
                }
                tm_out_puts(&r->sql, ")::");
                tm_out_puts(&r->sql, tc->type);
            }
            k = end;
        }
        if (!any) {
            tm_out_reset(&r->sql);
            return 1;
        }
        tm_out_puts(&r->sql, " FROM " ROWS " s WHERE ");
        if (t->unique) {
            if (key_match(r, g->va, 'a', "t") != 0)
                return -1;
            if (checked) {
                tm_out_puts(&r->sql, " AND ");
                tests(r, g, &ts);
            }
        } else {
            tm_out_puts(&r->sql, "t.ctid = (SELECT t2.ctid FROM ");
            table_name(r, t);
            tm_out_puts(&r->sql, " t2 WHERE ");
            /* the whole row picks one of identical rows */
            test_sink whole = {.alias = "t2", .mode = 0, .first = true, .whole = true};
            tests(r, g, &whole);
            tm_out_puts(&r->sql, " LIMIT 1)");
        }
        tm_out_puts(&r->sql, onlybuf);
        return 0;
    }
    case TM_UNDO_INSERT: {
        tm_out cols, vals;
        if (tm_out_init_mem(&cols, r->err) != 0)
            return -1;
        if (tm_out_init_mem(&vals, r->err) != 0) {
            tm_out_free(&cols);
            return -1;
        }
        const char *missing = NULL;
        int rc = insert_lists(r, g, &cols, &vals, &missing);
        if (rc == -2) {
            *why = missing;
        } else if (rc == -3) {
            rc = 1;
        } else {
            size_t cl, vl;
            const char *cp = tm_out_data(&cols, &cl), *vp = tm_out_data(&vals, &vl);
            tm_out_puts(&r->sql, "INSERT INTO ");
            table_name(r, t);
            tm_out_puts(&r->sql, " (");
            tm_out_write(&r->sql, cp, cl);
            tm_out_puts(&r->sql, ") OVERRIDING SYSTEM VALUE SELECT ");
            tm_out_write(&r->sql, vp, vl);
            tm_out_puts(&r->sql, " FROM " ROWS " s WHERE true");
            tm_out_puts(&r->sql, onlybuf);
            if (t->unique) {
                tm_out_puts(&r->sql, " AND NOT EXISTS (SELECT 1 FROM ");
                table_name(r, t);
                tm_out_puts(&r->sql, " t WHERE ");
                rc = key_match(r, g->vb, 'b', "t");
                tm_out_putc(&r->sql, ')');
            }
        }
        tm_out_free(&cols);
        tm_out_free(&vals);
        return rc;
    }
    case TM_UNDO_NONE:
        break;
    }
    return 1;
}

/* --on-conflict overwrite of a re-insert whose key is taken: the row with
 * that key gets the before image's values. Into r->sql; 1 when nothing. */
static int overwrite_stmt(run *r, const group *g, long only)
{
    tm_out_puts(&r->sql, "UPDATE ");
    table_name(r, g->t);
    tm_out_puts(&r->sql, " t SET ");
    bool any = false;
    for (uint32_t bi = 0; bi < g->vb->ncols; bi++) {
        const tm_target_col *tc = tcol(r, g->vb, bi);
        if (!tc || tc->generated || tc->always || is_key_col(g->t, g->vb, bi))
            continue;
        tm_out_puts(&r->sql, any ? ", " : "");
        any = true;
        ident(r, tc->name);
        tm_out_puts(&r->sql, " = ");
        img_val(r, 'b', bi, tc);
    }
    if (!any) {
        tm_out_reset(&r->sql);
        return 1;
    }
    tm_out_puts(&r->sql, " FROM " ROWS " s WHERE ");
    if (key_match(r, g->vb, 'b', "t") != 0)
        return -1;
    if (only >= 0) {
        char buf[40];
        snprintf(buf, sizeof buf, " AND s.idx = %ld", only);
        tm_out_puts(&r->sql, buf);
    }
    return 0;
}

/* The conflict query of a group with a key (one row: only >= 0): rows
 * (idx, gone, what differs). Into r->sql. */
static int conflict_query(run *r, const group *g, long only)
{
    if (g->kind == TM_UNDO_INSERT) {
        tm_out_puts(&r->sql, "SELECT s.idx, false, '' FROM " ROWS " s JOIN ");
        table_name(r, g->t);
        tm_out_puts(&r->sql, " t ON ");
        if (key_match(r, g->vb, 'b', "t") != 0)
            return -1;
    } else {
        tm_out_puts(&r->sql, "SELECT s.idx, t.ctid IS NULL, concat_ws(', ', NULL::text");
        test_sink list = {.alias = "t", .mode = 1, .first = true};
        tests(r, g, &list);
        tm_out_puts(&r->sql, ") FROM " ROWS " s LEFT JOIN ");
        table_name(r, g->t);
        tm_out_puts(&r->sql, " t ON ");
        if (key_match(r, g->va, 'a', "t") != 0)
            return -1;
        tm_out_puts(&r->sql, " WHERE (t.ctid IS NULL OR NOT (");
        test_sink all = {.alias = "t", .mode = 0, .first = true};
        tests(r, g, &all);
        tm_out_puts(&r->sql, "))");
    }
    if (only >= 0) {
        char buf[40];
        snprintf(buf, sizeof buf, " %s s.idx = %ld", g->kind == TM_UNDO_INSERT ? "WHERE" : "AND",
                 only);
        tm_out_puts(&r->sql, buf);
    }
    return 0;
}

/* Which image columns the group's statements read: na[i] for column i
 * of the after image, nb[i] of the before image. */
static void needed(run *r, const group *g, bool *na, bool *nb)
{
    bool all_a =
        g->kind == TM_UNDO_DELETE || (g->kind == TM_UNDO_UPDATE && (r->o->by_row || !g->t->unique));
    for (uint32_t i = 0; g->va && i < g->va->ncols; i++)
        na[i] = all_a || is_key_col(g->t, g->va, i);
    for (uint32_t i = 0; g->vb && i < g->vb->ncols; i++)
        nb[i] = g->kind == TM_UNDO_INSERT;
    if (g->kind != TM_UNDO_UPDATE)
        return;
    for (uint32_t k = 0; k < g->sh.ncols; k++) {
        uint32_t bi = g->sh.cols[k];
        nb[bi] = true;
        int ai = col_by_name(g->va, g->vb->cols[bi].name);
        if (ai >= 0)
            na[ai] = true;
    }
}

/* The member of column value v at path p: its raw JSON span, or false
 * when v is no JSON object holding it. */
static bool member_at(const tm_value *v, const upath *p, const char **vp, const char **ve)
{
    if (v->kind != TM_KIND_TEXT || !tm_json_one_value(v->ptr, v->ptr + v->len, vp, ve))
        return false;
    const char *k = p->keys;
    for (uint32_t i = 0; i < p->depth; i++) {
        uint32_t len;
        memcpy(&len, k, sizeof len);
        k += sizeof len;
        const char *np, *ne;
        if (!tm_json_get(*vp, *ve, k, len, &np, &ne))
            return false;
        *vp = np;
        *ve = ne;
        k += len;
    }
    return true;
}

/* The members at the group's paths in img (column ai... of its version),
 * as COPY text fields: "\N" when absent. */
static void copy_members(tm_out *o, const group *g, const tm_undo_img *img, bool before)
{
    for (uint32_t k = 0; k < g->sh.npaths; k++) {
        const upath *p = &g->sh.paths[k];
        if (before && !p->set)
            continue;
        int col = before ? (int)p->col : col_by_name(img->ver, g->vb->cols[p->col].name);
        const char *vp, *ve;
        tm_out_putc(o, '\t');
        if (col >= 0 && member_at(&img->v[col], p, &vp, &ve))
            tm_copy_text_field(o, vp, (size_t)(ve - vp));
        else
            tm_out_write(o, "\\N", 2);
    }
}

/* i in decimal (snprintf per row cost more than the row's fields). */
static void put_index(tm_out *o, size_t i)
{
    char buf[24], *p = buf + sizeof buf;
    do
        *--p = (char)('0' + i % 10);
    while (i /= 10);
    tm_out_write(o, p, (size_t)(buf + sizeof buf - p));
}

/* One image's needed columns as COPY text fields, each after a tab. */
static void copy_fields(tm_out *o, const tm_undo_img *img, const bool *need)
{
    for (uint32_t i = 0; i < img->ver->ncols; i++) {
        if (!need[i])
            continue;
        tm_out_putc(o, '\t');
        if (img->v[i].kind == TM_KIND_TEXT)
            tm_copy_text_field(o, img->v[i].ptr, img->v[i].len);
        else
            tm_out_write(o, "\\N", 2);
    }
}

/* The type of the ROWS column for column i of version v: text, so that a
 * value the target's type no longer reads fails in the statement (which
 * then goes row by row), except for key columns of a few types that the
 * target's column still has: the journal holds their values as that type's
 * own output, so COPY reads them, and the join on the key then casts
 * nothing per row (7% of a 100k-row UPDATE). */
static const char *column_type(run *r, const tm_version *v, uint32_t i)
{
    static const struct {
        uint32_t oid;
        const char *name;
    } exact[] = {{20, "bigint"}, {21, "smallint"}, {23, "integer"}, {25, "text"}, {2950, "uuid"}};
    const tm_target_col *tc = is_key_col(r->tt_of, v, i) ? tcol(r, v, i) : NULL;
    for (size_t k = 0; tc && k < sizeof exact / sizeof *exact; k++)
        if (v->cols[i].type_oid == exact[k].oid && !strcmp(tc->type, exact[k].name))
            return exact[k].name;
    return "text";
}

/* The group's images into a fresh ROWS table: idx, then the columns its
 * statements read, a<i> of the after image and b<i> of the before image,
 * as text (or as column_type says). */
static int load_rows(run *r, const group *g)
{
    if (exec_ok(r, "DROP TABLE IF EXISTS " ROWS) != 0)
        return -1;
    uint32_t na_n = g->va ? g->va->ncols : 0, nb_n = g->vb ? g->vb->ncols : 0;
    bool *na = calloc(na_n + nb_n + 1, sizeof *na);
    if (!na) {
        tm_error_setc(r->err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    bool *nb = na + na_n;
    needed(r, g, na, nb);
    tm_out_puts(&r->sql, "CREATE TEMP TABLE " ROWS " (idx int");
    char buf[48];
    for (uint32_t i = 0; i < na_n; i++)
        if (na[i]) {
            snprintf(buf, sizeof buf, ", a%u %s", i, column_type(r, g->va, i));
            tm_out_puts(&r->sql, buf);
        }
    for (uint32_t i = 0; i < nb_n; i++)
        if (nb[i]) {
            snprintf(buf, sizeof buf, ", b%u %s", i, column_type(r, g->vb, i));
            tm_out_puts(&r->sql, buf);
        }
    /* jsonb members: what the change left (ap) and what was before (bp) */
    for (uint32_t k = 0; k < g->sh.npaths; k++) {
        snprintf(buf, sizeof buf, ", ap%u jsonb", k);
        tm_out_puts(&r->sql, buf);
    }
    for (uint32_t k = 0; k < g->sh.npaths; k++)
        if (g->sh.paths[k].set) {
            snprintf(buf, sizeof buf, ", bp%u jsonb", k);
            tm_out_puts(&r->sql, buf);
        }
    tm_out_puts(&r->sql, ")");
    PGresult *res = NULL;
    int rc = exec_built(r, &res);
    if (rc == 0 && !res_ok(res)) {
        db_error(r, "creating a temporary table", res);
        rc = -1;
    }
    PQclear(res);
    tm_out_reset(&r->data);
    for (size_t k = 0; k < g->n && rc == 0; k++) {
        const tm_undo_entry *e = r->es[g->idx[k]];
        put_index(&r->data, g->idx[k]);
        if (g->va)
            copy_fields(&r->data, &e->after, na);
        if (g->vb)
            copy_fields(&r->data, &e->before, nb);
        if (g->sh.npaths) {
            copy_members(&r->data, g, &e->after, false);
            copy_members(&r->data, g, &e->before, true);
        }
        tm_out_putc(&r->data, '\n');
    }
    free(na);
    if (rc != 0)
        return -1;
    if (r->data.err) {
        tm_error_setc(r->err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    size_t len;
    const char *d = tm_out_data(&r->data, &len);
    if (tm_target_copy_in(r->c, "COPY " ROWS " FROM STDIN", d, len, r->err) != 0)
        return -1;
    tm_out_reset(&r->data);
    /* No ANALYZE: the planner sizes a never-analysed table from its pages,
     * which gives the same joins, and ANALYZE cost 0.2-0.4 s of a 100k-row
     * undo (scripts/bench/bench-undo.sh). */
    return 0;
}

/* Result of a write that failed: whether to retry later (a foreign key),
 * else the row's status and reason. */
static int classify(run *r, size_t i, PGresult *res, bool report_fk)
{
    const char *st = sqlstate(res);
    const char *pgmsg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (!strcmp(st, "23503") && !report_fk)
        return TM_UNDO_PENDING;
    if (!strcmp(st, "23503"))
        set_row(r, i, TM_UNDO_CONFLICT, "a foreign key stops it", pgmsg);
    else if (!strncmp(st, "23", 2))
        set_row(r, i, TM_UNDO_CONFLICT, "the database refuses it", pgmsg);
    else
        set_row(r, i, TM_UNDO_FAILED, "the database cannot take it", pgmsg);
    return r->rows[i].status;
}

/* Why a row cannot be restored: the target's column has neither a value
 * nor a default for rows older than it. */
static void no_value_reason(char *m, size_t size, const char *column)
{
    snprintf(m, size,
             "column \"%s\" is NOT NULL in the target and has no default and no value for rows "
             "older than it",
             column);
}

/* One row of g, under a savepoint: conflict check, then the write.
 * Returns its status (PENDING: a foreign key, to retry), or -1 with err. */
static int one_row(run *r, const group *g, size_t i, bool report_fk)
{
    if (exec_ok(r, "SAVEPOINT tidemark_row") != 0)
        return -1;
    long only = (long)i;
    bool checked = r->o->mode != TM_UNDO_OVERWRITE;
    bool conflict = false, insert_over = false;
    PGresult *res;
    if (g->t->unique) {
        if (conflict_query(r, g, only) != 0 || exec_built(r, &res) != 0)
            return -1;
        if (!res_ok(res)) {
            int s = classify(r, i, res, true);
            PQclear(res);
            return exec_ok(r, "ROLLBACK TO SAVEPOINT tidemark_row") == 0 ? s : -1;
        }
        if (PQntuples(res) > 0) {
            conflict = true;
            conflict_reason(r, g, i, PQgetvalue(res, 0, 1)[0] == 't', PQgetvalue(res, 0, 2));
            bool gone = PQgetvalue(res, 0, 1)[0] == 't';
            if (r->o->mode == TM_UNDO_OVERWRITE && !gone) {
                r->rows[i].overwritten = true;
                r->rows[i].status = TM_UNDO_PENDING;
                insert_over = g->kind == TM_UNDO_INSERT;
            }
        }
        PQclear(res);
        if (conflict && !r->rows[i].overwritten)
            return exec_ok(r, "RELEASE SAVEPOINT tidemark_row") == 0 ? TM_UNDO_CONFLICT : -1;
    }
    const char *why = NULL;
    int w = insert_over ? overwrite_stmt(r, g, only) : write_stmt(r, g, only, checked, &why);
    if (w == -1)
        return -1;
    if (w == -2) {
        char m[400];
        no_value_reason(m, sizeof m, why);
        set_row(r, i, TM_UNDO_CONFLICT, m, NULL);
        return exec_ok(r, "RELEASE SAVEPOINT tidemark_row") == 0 ? TM_UNDO_CONFLICT : -1;
    }
    int s = TM_UNDO_DONE;
    if (w == 0) {
        if (exec_built(r, &res) != 0)
            return -1;
        if (!res_ok(res)) {
            s = classify(r, i, res, report_fk);
            PQclear(res);
            return exec_ok(r, "ROLLBACK TO SAVEPOINT tidemark_row") == 0 ? s : -1;
        }
        if (strtoull(PQcmdTuples(res), NULL, 10) != 1) {
            s = TM_UNDO_CONFLICT;
            set_row(r, i, s,
                    g->t->unique ? "the row no longer looks as the undone transaction(s) left it"
                                 : "no row looks as the undone transaction(s) left it",
                    NULL);
            r->rows[i].overwritten = false;
        }
        PQclear(res);
    }
    if (s == TM_UNDO_DONE)
        r->rows[i].status = s;
    if (exec_ok(r, "RELEASE SAVEPOINT tidemark_row") != 0)
        return -1;
    return s;
}

/* g row by row. Rows a foreign key stops stay PENDING (retried later). */
static int rows_of(run *r, group *g, bool report_fk)
{
    if (load_rows(r, g) != 0)
        return -1;
    for (size_t k = 0; k < g->n; k++) {
        size_t i = g->idx[k];
        if (r->rows[i].status != TM_UNDO_PENDING)
            continue;
        if (one_row(r, g, i, report_fk) < 0)
            return -1;
    }
    return 0;
}

/* Runs the statement in r->sql: 0 (its row count in *n), 1 when it failed
 * (*fk: at a foreign key), -1 with err. */
static int run_counted(run *r, uint64_t *n, bool *fk)
{
    PGresult *res;
    if (exec_built(r, &res) != 0)
        return -1;
    int rc = 0;
    if (!res_ok(res)) {
        *fk = !strcmp(sqlstate(res), "23503");
        rc = 1;
    } else {
        *n = strtoull(PQcmdTuples(res), NULL, 10);
    }
    PQclear(res);
    return rc;
}

/* g set-based. Returns 0 (done), 1 (its statement failed: rolled back, to
 * be done row by row, or later when *fk), or -1 with err. */
static int set_based(run *r, group *g, bool *fk)
{
    *fk = false;
    double t0 = seconds();
    if (load_rows(r, g) != 0 || exec_ok(r, "SAVEPOINT tidemark_group") != 0)
        return -1;
    double t1 = seconds();
    size_t nconf = 0;
    PGresult *res;
    bool over = r->o->mode == TM_UNDO_OVERWRITE;
    bool any_over = false;
    /* Most undos meet no conflict: the guarded write first, and the
     * conflict query only when it leaves rows out. */
    if (!over) {
        const char *why0 = NULL;
        uint64_t written = 0;
        int w = write_stmt(r, g, -1, true, &why0);
        if (w == -1)
            return -1;
        if (w == 0) {
            int wr = run_counted(r, &written, fk);
            if (wr < 0)
                return -1;
            if (wr == 1)
                return exec_ok(r, "ROLLBACK TO SAVEPOINT tidemark_group") == 0 ? 1 : -1;
            if (written == g->n) {
                for (size_t k = 0; k < g->n; k++)
                    r->rows[g->idx[k]].status = TM_UNDO_DONE;
                tm_log_debug("%s.%s: %zu rows copied in %.3fs, written in %.3fs",
                             g->t->cur->nspname, g->t->cur->relname, g->n, t1 - t0, seconds() - t1);
                return exec_ok(r, "RELEASE SAVEPOINT tidemark_group");
            }
            if (exec_ok(r, "ROLLBACK TO SAVEPOINT tidemark_group") != 0)
                return -1;
        } else {
            tm_out_reset(&r->sql);
        }
    }
    if (conflict_query(r, g, -1) != 0 || exec_built(r, &res) != 0)
        return -1;
    if (!res_ok(res)) {
        PQclear(res);
        return exec_ok(r, "ROLLBACK TO SAVEPOINT tidemark_group") == 0 ? 1 : -1;
    }
    for (int k = 0; k < PQntuples(res); k++) {
        size_t i = strtoull(PQgetvalue(res, k, 0), NULL, 10);
        bool gone = PQgetvalue(res, k, 1)[0] == 't';
        conflict_reason(r, g, i, gone, PQgetvalue(res, k, 2));
        if (over && !gone) {
            r->rows[i].overwritten = any_over = true;
            r->rows[i].status = TM_UNDO_PENDING;
        } else {
            nconf++;
        }
    }
    PQclear(res);
    double t2 = seconds();
    const char *why = NULL;
    uint64_t written = 0;
    int w = write_stmt(r, g, -1, !over, &why);
    if (w == -1)
        return -1;
    if (w == -2) {
        char m[400];
        no_value_reason(m, sizeof m, why);
        for (size_t k = 0; k < g->n; k++)
            if (r->rows[g->idx[k]].status == TM_UNDO_PENDING) {
                r->rows[g->idx[k]].overwritten = false;
                set_row(r, g->idx[k], TM_UNDO_CONFLICT, m, NULL);
            }
        return exec_ok(r, "RELEASE SAVEPOINT tidemark_group");
    }
    bool failed = false;
    uint64_t overwritten_ins = 0;
    /* Keys taken, overwritten first: the INSERT then skips them. */
    if (any_over && g->kind == TM_UNDO_INSERT) {
        int ov = overwrite_stmt(r, g, -1);
        if (ov == -1)
            return -1;
        if (ov == 0 && (ov = run_counted(r, &overwritten_ins, fk)) < 0)
            return -1;
        failed = ov == 1;
    }
    if (w == 0 && !failed) {
        int wr = run_counted(r, &written, fk);
        if (wr < 0)
            return -1;
        failed = wr == 1;
    }
    /* Every row not in conflict must have been written, else row by row
     * finds out which and why. */
    if (!failed && (w == 0 || overwritten_ins) && written + overwritten_ins != g->n - nconf)
        failed = true;
    if (failed) {
        for (size_t k = 0; k < g->n; k++) {
            tm_undo_row *row = &r->rows[g->idx[k]];
            row->status = TM_UNDO_PENDING;
            row->overwritten = false;
            free(row->reason);
            row->reason = NULL;
        }
        return exec_ok(r, "ROLLBACK TO SAVEPOINT tidemark_group") == 0 ? 1 : -1;
    }
    for (size_t k = 0; k < g->n; k++)
        if (r->rows[g->idx[k]].status == TM_UNDO_PENDING)
            r->rows[g->idx[k]].status = TM_UNDO_DONE;
    tm_log_debug("%s.%s: %zu rows copied in %.3fs, conflicts found in %.3fs, written in %.3fs",
                 g->t->cur->nspname, g->t->cur->relname, g->n, t1 - t0, t2 - t1, seconds() - t2);
    return exec_ok(r, "RELEASE SAVEPOINT tidemark_group");
}

/* Every group: set-based where it can, row by row where not; foreign-key
 * failures again after the others, while that helps. */
static int run_groups(run *r, groups *gs)
{
    for (size_t k = 0; k < gs->n; k++) {
        group *g = gs->g[k];
        if (load_table(r, g->t) != 0)
            return -1;
        bool fk = false;
        int rc = g->t->unique ? set_based(r, g, &fk) : 1;
        if (rc < 0)
            return -1;
        if (rc == 0)
            g->done = true;
        else if (fk)
            g->deferred = true;
        else if (rows_of(r, g, false) != 0)
            return -1;
    }
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t k = 0; k < gs->n; k++) {
            group *g = gs->g[k];
            if (!g->deferred)
                continue;
            bool fk;
            if (load_table(r, g->t) != 0)
                return -1;
            int rc = set_based(r, g, &fk);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                g->deferred = false;
                g->done = progress = true;
            } else if (!fk) {
                g->deferred = false;
                if (rows_of(r, g, false) != 0)
                    return -1;
            }
        }
    }
    for (size_t k = 0; k < gs->n; k++)
        if (gs->g[k]->deferred &&
            (load_table(r, gs->g[k]->t) != 0 || rows_of(r, gs->g[k], false) != 0))
            return -1;
    /* Rows a foreign key stopped: again while some succeed, then reported. */
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t k = 0; k < gs->n; k++) {
            group *g = gs->g[k];
            size_t pending = 0;
            for (size_t j = 0; j < g->n; j++)
                pending += r->rows[g->idx[j]].status == TM_UNDO_PENDING;
            if (!pending)
                continue;
            if (load_table(r, g->t) != 0 || load_rows(r, g) != 0)
                return -1;
            for (size_t j = 0; j < g->n; j++) {
                size_t i = g->idx[j];
                if (r->rows[i].status != TM_UNDO_PENDING)
                    continue;
                int s = one_row(r, g, i, false);
                if (s < 0)
                    return -1;
                progress |= s != TM_UNDO_PENDING;
            }
        }
    }
    for (size_t k = 0; k < gs->n; k++) {
        group *g = gs->g[k];
        bool loaded = false;
        for (size_t j = 0; j < g->n; j++) {
            size_t i = g->idx[j];
            if (r->rows[i].status != TM_UNDO_PENDING)
                continue;
            if (!loaded && (load_table(r, g->t) != 0 || load_rows(r, g) != 0))
                return -1;
            loaded = true;
            if (one_row(r, g, i, true) < 0)
                return -1;
        }
    }
    return exec_ok(r, "DROP TABLE IF EXISTS " ROWS);
}

/* ---- the transaction ------------------------------------------------------------------ */

static int build_groups(run *r, groups *gs, size_t n)
{
    tm_json_differ jd = {0};
    tm_out sig;
    if (tm_out_init_mem(&sig, r->err) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const tm_undo_entry *e = r->es[i];
        tm_undo_kind k = tm_undo_kind_of(e);
        tm_out_reset(&sig);
        sig_u64(&sig, (uintptr_t)e->t);
        sig_u64(&sig, (uint64_t)k);
        sig_u64(&sig, e->has_after ? (uintptr_t)e->after.ver : 0);
        sig_u64(&sig, e->has_before ? (uintptr_t)e->before.ver : 0);
        if (k == TM_UNDO_UPDATE && shape_of(e, r->o->by_row, NULL, &sig, &jd) != 0)
            rc = -1;
        size_t len;
        const char *sd = tm_out_data(&sig, &len);
        if (rc == 0 && (sig.err || group_add(gs, e, i, k, sd, len, r->o->by_row, &jd) != 0))
            rc = -1;
    }
    tm_json_differ_free(&jd);
    tm_out_free(&sig);
    if (rc != 0)
        tm_error_setc(r->err, TM_ERR_NOMEM, "out of memory grouping the undo");
    return rc;
}

/* The target must be the journal's source unless allowed otherwise. */
static int check_target(run *r)
{
    bool same;
    const tm_meta *m = r->o->meta;
    if (tm_target_is_source(r->c, m, &same, r->err) != 0) {
        if (r->o->allow_other_target)
            return 0;
        tm_error_prefix(r->err, "undo writes only into the capture source unless "
                                "--allow-other-target is given");
        return -1;
    }
    if (!same && !r->o->allow_other_target) {
        PGresult *res = PQexec(
            r->c, "SELECT system_identifier::text, current_database() FROM pg_control_system()");
        tm_error_setc(r->err, TM_ERR_CONFLICT,
                      "the --apply target (system %s, database \"%s\") is not the journal's "
                      "source (system %llu, database \"%s\"); undo writes only into the source "
                      "unless --allow-other-target is given",
                      PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                      (unsigned long long)m->system_identifier, m->database);
        PQclear(res);
        return -1;
    }
    return 0;
}

/* The undo's own context message, with its totals, and its xid. */
static int mark(run *r, tm_undo_result *res)
{
    char restored[24], conflicts[24];
    snprintf(restored, sizeof restored, "%llu", (unsigned long long)res->restored);
    snprintf(conflicts, sizeof conflicts, "%llu", (unsigned long long)res->conflicts);
    const char *p[] = {r->o->context ? r->o->context : "{}", restored, conflicts};
    PGresult *q = PQexecParams(
        r->c,
        "SELECT pg_logical_emit_message(true, 'tidemark', (jsonb_build_object('db_user', "
        "session_user::text) || $1::jsonb || jsonb_build_object('rows_restored', $2::bigint, "
        "'conflicts', $3::bigint))::text), (txid_current() % 4294967296)::text",
        3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(q) != PGRES_TUPLES_OK) {
        db_error(r, "emitting the undo's context message", q);
        PQclear(q);
        return -1;
    }
    snprintf(res->xid, sizeof res->xid, "%s", PQgetvalue(q, 0, 1));
    PQclear(q);
    return 0;
}

static void notice(void *arg, const char *message)
{
    (void)arg;
    tm_log_debug("target: %.*s", (int)strcspn(message, "\n"), message);
}

int tm_undo_apply(const tm_undo_apply_opts *o, const tm_undo_entry **es, size_t n,
                  tm_undo_row *rows, tm_undo_result *res, tm_error *err)
{
    memset(res, 0, sizeof *res);
    run r = {.o = o, .es = es, .rows = rows, .err = err};
    r.c = PQconnectdb(o->conninfo);
    if (PQstatus(r.c) != CONNECTION_OK) {
        db_error(&r, "cannot connect to the --apply database", NULL);
        PQfinish(r.c);
        return -1;
    }
    PQsetNoticeProcessor(r.c, notice, NULL);
    int rc = -1;
    groups gs = {0};
    if (tm_out_init_mem(&r.sql, err) != 0 || tm_out_init_mem(&r.data, err) != 0 ||
        tm_out_init_mem(&r.msg, err) != 0)
        goto out;
    double t0 = seconds();
    if (check_target(&r) != 0 || build_groups(&r, &gs, n) != 0)
        goto out;
    tm_log_debug("%zu rows in %zu group(s), grouped in %.3fs", n, gs.n, seconds() - t0);
    /* The same statements for the dry run and the real one; constraints at
     * once, so that a deferred key fails at its row. */
    if (exec_ok(&r, "SET client_encoding = 'UTF8'; SET standard_conforming_strings = on; "
                    "SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; BEGIN; "
                    "SET CONSTRAINTS ALL IMMEDIATE; SET LOCAL work_mem = '64MB'") != 0 ||
        exec_ok(&r, TM_UNDO_SESSION_SQL) != 0)
        goto out;
    if (run_groups(&r, &gs) != 0)
        goto rollback;
    for (size_t i = 0; i < n; i++) {
        res->restored += rows[i].status == TM_UNDO_DONE;
        res->conflicts += rows[i].status == TM_UNDO_CONFLICT;
        res->failed += rows[i].status == TM_UNDO_FAILED;
    }
    if (mark(&r, res) != 0)
        goto rollback;
    bool keep = !o->dry_run && !res->failed && !(res->conflicts && o->mode == TM_UNDO_ABORT);
    t0 = seconds();
    if (exec_ok(&r, keep ? "COMMIT" : "ROLLBACK") != 0)
        goto out;
    tm_log_debug("%s in %.3fs", keep ? "committed" : "rolled back", seconds() - t0);
    res->committed = keep;
    rc = 0;
    goto out;
rollback:
    PQclear(PQexec(r.c, "ROLLBACK"));
out:
    groups_free(&gs);
    tm_target_free(&r.tt);
    tm_out_free(&r.sql);
    tm_out_free(&r.data);
    tm_out_free(&r.msg);
    PQfinish(r.c);
    return rc;
}

void tm_undo_rows_free(tm_undo_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        free(rows[i].reason);
    free(rows);
}

void tm_undo_changed_json(tm_out *o, const tm_undo_entry *e, bool by_row)
{
    tm_out_putc(o, '[');
    tm_undo_kind k = tm_undo_kind_of(e);
    if (k == TM_UNDO_UPDATE) {
        shape sh = {0};
        tm_json_differ jd = {0};
        if (shape_of(e, by_row, &sh, NULL, &jd) == 0) {
            bool first = true;
            for (uint32_t i = 0; i < sh.ncols; i++) {
                const char *name = e->before.ver->cols[sh.cols[i]].name;
                tm_out_puts(o, first ? "" : ", ");
                first = false;
                tm_json_string(o, name, strlen(name));
            }
            for (uint32_t i = 0; i < sh.npaths; i++) {
                tm_out_puts(o, first ? "" : ", ");
                first = false;
                tm_json_string(o, sh.paths[i].display, strlen(sh.paths[i].display));
            }
        }
        shape_free(&sh);
        tm_json_differ_free(&jd);
    }
    tm_out_putc(o, ']');
}
