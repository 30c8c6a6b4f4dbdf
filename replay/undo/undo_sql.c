#include "replay/undo/undo_sql.h"

#include <stdlib.h>
#include <string.h>

#include "replay/out/sql_quote.h"
#include "store/common/tm_time.h"

tm_undo_kind tm_undo_kind_of(const tm_undo_entry *e)
{
    if (!e->has_before)
        return e->has_after ? TM_UNDO_DELETE : TM_UNDO_NONE;
    if (!e->has_after)
        return TM_UNDO_INSERT;
    const tm_undo_img *b = &e->before, *a = &e->after;
    if (b->ver != a->ver)
        return TM_UNDO_UPDATE;
    for (uint32_t i = 0; i < b->ver->ncols; i++) {
        const tm_value *x = &b->v[i], *y = &a->v[i];
        if (x->kind != y->kind || x->len != y->len || (x->len && memcmp(x->ptr, y->ptr, x->len)))
            return TM_UNDO_UPDATE;
    }
    return TM_UNDO_NONE;
}

/* An entry with its kind worked out once (it compares whole images). */
typedef struct ordered {
    const tm_undo_entry *e;
    uint64_t seq;
    tm_undo_kind kind;
} ordered;

static int cmp_entries(const void *pa, const void *pb)
{
    const ordered *a = pa, *b = pb;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->kind == TM_UNDO_INSERT) /* in deletion order */
        return a->seq < b->seq ? -1 : a->seq > b->seq;
    return a->seq > b->seq ? -1 : a->seq < b->seq; /* newest first */
}

long tm_undo_order(const tm_undo_plan *p, const tm_undo_entry ***out)
{
    const tm_undo_entry **a = malloc((p->n + 1) * sizeof *a);
    ordered *o = malloc((p->n + 1) * sizeof *o);
    if (!a || !o) {
        free(a);
        free(o);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        tm_undo_kind k = tm_undo_kind_of(p->e[i]);
        if (k != TM_UNDO_NONE)
            o[n++] = (ordered){p->e[i], p->e[i]->last_seq, k};
    }
    qsort(o, n, sizeof *o, cmp_entries);
    for (size_t i = 0; i < n; i++)
        a[i] = o[i].e;
    free(o);
    *out = a;
    return (long)n;
}

void tm_undo_table_name(tm_out *o, const tm_table *t)
{
    tm_sql_qualified(o, t->cur->nspname, t->cur->relname);
}

/* Types without an equality operator compare as text. */
static bool compare_as_text(uint32_t type_oid)
{
    switch (type_oid) {
    case 114: /* json */
    case 142: /* xml */
    case 600: /* point, lseg, path, box, polygon, line, circle */
    case 601:
    case 602:
    case 603:
    case 604:
    case 628:
    case 718:
        return true;
    default:
        return false;
    }
}

static bool is_key(const tm_table *t, const tm_version *v, uint32_t i)
{
    for (uint32_t k = 0; k < t->nkeys && t->unique; k++) {
        int32_t m = t->to_cur[v->version][t->keycols[k]];
        if (m >= 0 && (uint32_t)m == i)
            return true;
    }
    return false;
}

/* Every column of img (only: those it marks, and the key): key columns
 * with = (so an index finds the row), the others IS NOT DISTINCT FROM. */
static int match(tm_out *o, const tm_table *t, const tm_undo_img *img, const bool *only)
{
    const tm_version *v = img->ver;
    bool first = true;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < v->ncols; i++) {
            bool key = is_key(t, v, i);
            if (key != (pass == 0) || (only && !key && !only[i]))
                continue;
            const tm_col *c = &v->cols[i];
            tm_out_puts(o, first ? "" : " AND ");
            first = false;
            if (tm_sql_ident(o, c->name, strlen(c->name)) < 0)
                return -1;
            if (compare_as_text(c->type_oid))
                tm_out_puts(o, "::text");
            if (img->v[i].kind != TM_KIND_TEXT) {
                tm_out_puts(o, " IS NULL");
                continue;
            }
            tm_out_puts(o, key ? " = " : " IS NOT DISTINCT FROM ");
            if (tm_sql_value(o, &img->v[i]) < 0)
                return -1;
        }
    if (first)
        tm_out_puts(o, "true");
    return 0;
}

/* WHERE clause picking the row that looks like img (only: in the columns
 * it marks; tables without a key always in all of them). */
static int where_row(tm_out *o, const tm_table *t, const tm_undo_img *img, const bool *only)
{
    if (t->unique) {
        tm_out_puts(o, " WHERE ");
        return match(o, t, img, only);
    }
    tm_out_puts(o, " WHERE ctid = (SELECT ctid FROM ");
    tm_undo_table_name(o, t);
    tm_out_puts(o, " WHERE ");
    if (match(o, t, img, NULL) < 0)
        return -1;
    tm_out_puts(o, " LIMIT 1)");
    return 0;
}

/* " AND the row is referenced by nothing a cascade would touch" (see
 * TM_UNDO_SESSION_SQL), last, so that it is checked for the one row only. */
static int unreferenced(tm_out *o, const tm_table *t)
{
    tm_out name;
    tm_error err;
    if (tm_out_init_mem(&name, &err) != 0)
        return -1;
    tm_undo_table_name(&name, t);
    size_t len;
    const char *n = tm_out_data(&name, &len);
    tm_out_puts(o, " AND pg_temp.tidemark_unreferenced(");
    int rc = name.err ? -1 : tm_sql_literal(o, n, len);
    tm_out_puts(o, "::regclass, ctid)");
    tm_out_free(&name);
    return rc;
}

static bool value_eq(const tm_value *x, const tm_value *y)
{
    return x->kind == y->kind && x->len == y->len && (!x->len || !memcmp(x->ptr, y->ptr, x->len));
}

int tm_undo_stmt(tm_out *o, const tm_undo_entry *e, bool by_row, tm_error *err)
{
    const tm_table *t = e->t;
    int rc = 0;
    switch (tm_undo_kind_of(e)) {
    case TM_UNDO_DELETE:
        tm_out_puts(o, "DELETE FROM ");
        tm_undo_table_name(o, t);
        rc = where_row(o, t, &e->after, NULL);
        if (rc == 0)
            rc = unreferenced(o, t);
        break;
    case TM_UNDO_UPDATE: {
        const tm_undo_img *b = &e->before, *a = &e->after;
        tm_out_puts(o, "UPDATE ");
        tm_undo_table_name(o, t);
        tm_out_puts(o, " SET ");
        bool first = true;
        for (uint32_t i = 0; i < b->ver->ncols && rc == 0; i++) {
            const tm_col *c = &b->ver->cols[i];
            /* only the columns that differ (all of them across schema versions) */
            if (b->ver == a->ver && value_eq(&b->v[i], &a->v[i]))
                continue;
            tm_out_puts(o, first ? "" : ", ");
            first = false;
            rc = tm_sql_ident(o, c->name, strlen(c->name));
            tm_out_puts(o, " = ");
            if (rc == 0)
                rc = tm_sql_value(o, &b->v[i]);
        }
        /* By column: the row is as the change left it in the columns set
         * back (what later changes did to others is kept). */
        bool *only = !by_row && b->ver == a->ver ? calloc(a->ver->ncols + 1, sizeof *only) : NULL;
        for (uint32_t i = 0; only && i < a->ver->ncols; i++)
            only[i] = !value_eq(&b->v[i], &a->v[i]);
        if (rc == 0)
            rc = where_row(o, t, a, only);
        free(only);
        break;
    }
    case TM_UNDO_INSERT: {
        const tm_undo_img *b = &e->before;
        tm_out_puts(o, "INSERT INTO ");
        tm_undo_table_name(o, t);
        tm_out_puts(o, " (");
        for (uint32_t i = 0; i < b->ver->ncols && rc == 0; i++) {
            tm_out_puts(o, i ? ", " : "");
            rc = tm_sql_ident(o, b->ver->cols[i].name, strlen(b->ver->cols[i].name));
        }
        /* the old row's own values, identity columns included */
        tm_out_puts(o, ") OVERRIDING SYSTEM VALUE VALUES (");
        for (uint32_t i = 0; i < b->ver->ncols && rc == 0; i++) {
            tm_out_puts(o, i ? ", " : "");
            rc = tm_sql_value(o, &b->v[i]);
        }
        tm_out_puts(o, t->unique ? ") ON CONFLICT DO NOTHING" : ")");
        break;
    }
    case TM_UNDO_NONE:
        break;
    }
    if (rc != 0) {
        tm_error_set(err, "a value of %s.%s cannot be written as SQL (it holds a NUL byte)",
                     t->cur->nspname, t->cur->relname);
        return -1;
    }
    return 0;
}

/* A value for messages: quoted, cut at 60 bytes. */
static void short_value(tm_out *o, const tm_value *v)
{
    if (v->kind != TM_KIND_TEXT) {
        tm_out_puts(o, "NULL");
        return;
    }
    tm_value c = *v;
    bool cut = c.len > 60;
    if (cut) { /* at a character boundary: messages must stay valid UTF-8 */
        c.len = 60;
        while (c.len && ((unsigned char)c.ptr[c.len] & 0xC0) == 0x80)
            c.len--;
    }
    if (tm_sql_value(o, &c) < 0)
        tm_out_puts(o, "?");
    if (cut)
        tm_out_puts(o, "...");
}

void tm_undo_describe(tm_out *o, const tm_undo_entry *e)
{
    const tm_table *t = e->t;
    const tm_undo_img *img = e->has_after ? &e->after : &e->before;
    const tm_version *v = img->ver;
    tm_undo_table_name(o, t);
    tm_out_puts(o, " (");
    bool first = true;
    for (uint32_t i = 0; i < v->ncols; i++)
        if (!t->unique || is_key(t, v, i)) {
            tm_out_puts(o, first ? "" : ", ");
            first = false;
            tm_sql_ident(o, v->cols[i].name, strlen(v->cols[i].name));
        }
    tm_out_puts(o, ") = (");
    first = true;
    for (uint32_t i = 0; i < v->ncols; i++)
        if (!t->unique || is_key(t, v, i)) {
            tm_out_puts(o, first ? "" : ", ");
            first = false;
            short_value(o, &img->v[i]);
        }
    tm_out_putc(o, ')');
}

static const char *op_name(char op)
{
    switch (op) {
    case 'I':
        return "INSERT";
    case 'U':
        return "UPDATE";
    case 'D':
        return "DELETE";
    case 'T':
        return "TRUNCATE";
    default:
        return "change";
    }
}

void tm_undo_later(tm_out *o, const tm_undo_entry *e)
{
    if (!e->nlater) {
        tm_out_puts(o, "no later change in the journal");
        return;
    }
    tm_out_puts(o, "changed later by");
    for (uint32_t i = 0; i < e->nlater && i < 5; i++) {
        char buf[160], ts[TM_TIME_BUFLEN];
        snprintf(buf, sizeof buf, "%s xid %u (%s at %s)", i ? "," : "", e->later[i].xid,
                 op_name(e->later[i].op), tm_time_format(e->later[i].time, ts));
        tm_out_puts(o, buf);
    }
    if (e->nlater > 5) {
        char buf[64];
        snprintf(buf, sizeof buf, " and %u more", e->nlater - 5);
        tm_out_puts(o, buf);
    }
}

/* ---- the script ------------------------------------------------------------ */

/* A dollar-quote tag that does not occur in body. */
static void pick_tag(const char *body, char *tag, size_t len)
{
    for (unsigned n = 0;; n++) {
        snprintf(tag, len, n ? "$tm%u$" : "$tm$", n);
        char probe[32];
        snprintf(probe, sizeof probe, "%.*s", (int)strlen(tag) - 1, tag); /* "$tm" / "$tm1" */
        if (!strstr(body, probe))
            return;
    }
}

int tm_undo_write_script(tm_out *o, const tm_undo_plan *p, const tm_undo_entry **es, size_t n,
                         bool skip, bool by_row, tm_error *err)
{
    char buf[256];
    snprintf(buf, sizeof buf,
             "-- tidemark undo: %zu transaction(s), %zu row statement(s), on conflict %s\n", p->ntx,
             n, skip ? "skip" : "abort");
    tm_out_puts(o, buf);
    tm_out_puts(o, "SET standard_conforming_strings = on;\nSET client_encoding = 'UTF8';\n"
                   "BEGIN;\n" TM_UNDO_SESSION_SQL ";\n");
    tm_out body, msg, who;
    if (tm_out_init_mem(&body, err) != 0)
        return -1;
    if (tm_out_init_mem(&msg, err) != 0) {
        tm_out_free(&body);
        return -1;
    }
    if (tm_out_init_mem(&who, err) != 0) {
        tm_out_free(&body);
        tm_out_free(&msg);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const tm_undo_entry *e = es[i];
        tm_out_reset(&body);
        tm_out_reset(&msg);
        tm_out_reset(&who);
        tm_out_puts(&who, skip ? "tidemark undo: skipped: " : "tidemark undo: conflict: ");
        tm_undo_describe(&who, e);
        size_t wlen, mlen;
        const char *w = tm_out_data(&who, &wlen);
        tm_out_write(&msg, w, wlen);
        tm_out_puts(&msg, e->has_before && !e->has_after
                              ? " cannot be inserted back: its key (or another unique value) is "
                                "taken; "
                              : " no longer looks as the undone transaction(s) left it; ");
        tm_undo_later(&msg, e);
        const char *m = tm_out_data(&msg, &mlen);
        tm_value mv = {m, (uint32_t)mlen, TM_KIND_TEXT}, wv = {w, (uint32_t)wlen, TM_KIND_TEXT};

        tm_out_puts(&body, "#variable_conflict use_column\nBEGIN\n  ");
        if (tm_undo_stmt(&body, e, by_row, err) != 0) {
            rc = -1;
            break;
        }
        tm_out_puts(&body, ";\n  IF NOT FOUND THEN RAISE ");
        tm_out_puts(&body, skip ? "WARNING" : "EXCEPTION");
        tm_out_puts(&body, " USING MESSAGE = ");
        tm_sql_value(&body, &mv);
        tm_out_puts(&body, "; END IF;\n");
        if (skip) {
            tm_out_puts(&body, "EXCEPTION WHEN integrity_constraint_violation THEN\n  RAISE "
                               "WARNING USING MESSAGE = ");
            tm_sql_value(&body, &wv);
            tm_out_puts(&body, " || ': ' || SQLERRM;\n");
        }
        tm_out_puts(&body, "END\n");
        tm_out_putc(&body, '\0');
        if (body.err || msg.err || who.err) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory writing the undo script");
            rc = -1;
            break;
        }
        size_t blen;
        const char *b = tm_out_data(&body, &blen);
        char tag[32];
        pick_tag(b, tag, sizeof tag);
        tm_out_puts(o, "DO ");
        tm_out_puts(o, tag);
        tm_out_puts(o, b);
        tm_out_puts(o, tag);
        tm_out_puts(o, ";\n");
    }
    tm_out_free(&who);
    tm_out_free(&body);
    tm_out_free(&msg);
    if (rc == 0)
        tm_out_puts(o, "COMMIT;\n");
    return rc;
}
