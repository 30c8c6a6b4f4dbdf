#include "tests/harness/support_undo.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/support_store.h"

int64_t tmt_undo_time(uint32_t xid)
{
    return TMT_UNDO_T0 + (int64_t)xid * 1000000;
}

char *tmt_undo_journal(tmt_jw *j)
{
    char *dir = tmt_tempdir();
    *j = (tmt_jw){.lsn = 1000, .time = TMT_UNDO_T0};
    tm_writer_options o = {0};
    tmt_jw_open(j, dir, &o);
    return dir;
}

void tmt_undo_begin(tmt_jw *j, uint32_t xid, uint64_t n)
{
    j->xid = xid;
    tmt_jw_begin(j, n, false, tmt_undo_time(xid));
}

/* ---- journals from scripts ------------------------------------------------ */

#define MAXCOLS 16
#define MAXCHANGES 64

typedef struct change {
    char op; /* '+', '-', 'U', '!', '#' */
    const tmt_table *t;
    uint32_t version;
    char old_kind; /* 'O', 'K' or 0 */
    const char *old[MAXCOLS], *new[MAXCOLS];
    uint32_t no, nn;
} change;

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

/* Splits a ROW into its values (_ NULL, ^ unchanged TOAST), in place. */
static uint32_t parse_row(char *row, const char **v)
{
    uint32_t n = 0;
    char *save, *f;
    for (f = strtok_r(row, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        ck_assert_uint_lt(n, MAXCOLS);
        f = trim(f);
        v[n++] = !strcmp(f, "_") ? NULL : !strcmp(f, "^") ? TMT_TOAST : f;
    }
    return n;
}

/* TABLE[@VERSION][/K|/0] at the start of s, which then points past it. */
static void parse_table(char **s, const tmt_table *tables, size_t nt, change *c)
{
    char *name = *s, *end = name + strcspn(name, " ");
    *s = *end ? end + 1 : end;
    *end = '\0';
    char *slash = strchr(name, '/'), *at = strchr(name, '@');
    c->old_kind = 'O';
    if (slash) {
        c->old_kind = slash[1] == 'K' ? 'K' : 0;
        *slash = '\0';
    }
    c->version = at ? (uint32_t)strtoul(at + 1, NULL, 10) : 1;
    if (at)
        *at = '\0';
    for (size_t i = 0; i < nt; i++)
        if (!strcmp(tables[i].as ? tables[i].as : tables[i].name, name)) {
            c->t = &tables[i];
            return;
        }
    ck_abort_msg("script: no table %s", name);
}

static void parse_change(char *s, const tmt_table *tables, size_t nt, change *c)
{
    memset(c, 0, sizeof *c);
    c->op = strchr("+-!#", *s) ? *s++ : 'U';
    if (c->op == '#') {
        c->new[0] = s; /* the message's prefix */
        return;
    }
    parse_table(&s, tables, nt, c);
    if (c->op == '+') {
        c->nn = parse_row(s, c->new);
        c->old_kind = 0;
    } else if (c->op == '-') {
        c->no = c->old_kind ? parse_row(s, c->old) : 0;
    } else if (c->op == 'U') {
        /* "OLD > NEW", or "> NEW" without an old row */
        char *gt = strncmp(s, "> ", 2) ? strstr(s, " > ") : s;
        ck_assert_msg(gt != NULL, "script: an update without ' > '");
        char *to = gt + (gt == s ? 2 : 3);
        *gt = '\0';
        c->no = c->old_kind ? parse_row(s, c->old) : 0;
        c->nn = parse_row(to, c->new);
    }
}

static void write_change(tmt_jw *j, const change *c)
{
    if (c->op == '#') {
        tmt_put_message(j->w, c->new[0], NULL, 0);
        return;
    }
    uint32_t oid = c->t->oid, v = c->version;
    if (c->op == '+')
        tmt_jw_insert(j, oid, v, c->new, c->nn);
    else if (c->op == '-')
        tmt_jw_delete(j, oid, v, c->old_kind, c->old, c->no);
    else if (c->op == 'U')
        tmt_jw_update(j, oid, v, c->old_kind, c->old, c->no, c->new, c->nn);
    else
        tmt_jw_truncate(j, oid, v);
}

/* One line of a script: a transaction. */
static void write_tx(tmt_jw *j, char *line, const tmt_table *tables, size_t nt)
{
    char *rest;
    uint32_t xid = (uint32_t)strtoul(line, &rest, 10);
    bool snapshot = *rest == 's';
    rest += snapshot;
    j->keep_unchanged = *rest == 'u';
    rest += j->keep_unchanged;
    ck_assert_msg(*rest == ':', "script: '%s' lacks XID:", line);
    change cs[MAXCHANGES];
    size_t n = 0;
    char *save, *c;
    for (c = strtok_r(rest + 1, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
        ck_assert_uint_lt(n, MAXCHANGES);
        parse_change(trim(c), tables, nt, &cs[n++]);
    }
    j->xid = xid;
    tmt_jw_begin(j, n, snapshot, tmt_undo_time(xid));
    for (size_t i = 0; i < n; i++)
        write_change(j, &cs[i]);
    tmt_jw_end(j);
}

char *tmt_undo_write(const tmt_table *tables, size_t ntables, const char *script)
{
    tmt_jw j;
    char *dir = tmt_undo_journal(&j);
    for (size_t i = 0; i < ntables; i++) {
        const tmt_table *t = &tables[i];
        tmt_jw_relation_in(j.w, t->nsp ? t->nsp : "public", t->oid, 1, 1000, t->name,
                           t->replica_identity, t->cols, t->ncols);
    }
    char *copy = strdup(script), *save, *line;
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        write_tx(&j, line, tables, ntables);
    free(copy);
    tmt_jw_close(&j);
    return dir;
}

/* ---- plans ------------------------------------------------------------------ */

void tmt_undo_plan(tm_undo_plan *p, const char *dir, const tm_undo_select *sel)
{
    memset(p, 0, sizeof *p);
    tm_error err;
    ck_assert_msg(tm_undo_plan_build(p, dir, sel, &err) == 0, "%s", err.msg);
}

char *tmt_undo_plan_error(const char *dir, const tm_undo_select *sel)
{
    tm_undo_plan p = {0};
    tm_error err;
    ck_assert_msg(tm_undo_plan_build(&p, dir, sel, &err) == -1, "the plan was built");
    tm_undo_plan_free(&p);
    return strdup(err.msg);
}

const tm_undo_entry *tmt_undo_entry(const tm_undo_plan *p, const char *table, const char *key)
{
    for (size_t i = 0; i < p->n; i++) {
        const tm_undo_entry *e = p->e[i];
        /* an entry of a row inserted and deleted again has only its after
         * image, though has_after is false */
        const tm_undo_img *img = e->has_before && !e->has_after ? &e->before : &e->after;
        const tm_value *v = &img->v[0];
        if (!strcmp(e->t->cur->relname, table) && v->kind == TM_KIND_TEXT &&
            v->len == strlen(key) && !memcmp(v->ptr, key, v->len))
            return e;
    }
    ck_abort_msg("no entry for %s key %s in the plan", table, key);
    return NULL;
}

static void put_img(FILE *f, bool has, const tm_undo_img *img)
{
    if (!has) {
        fputs("-", f);
        return;
    }
    for (uint32_t i = 0; i < img->ver->ncols; i++) {
        const tm_value *v = &img->v[i];
        fputs(i ? "," : "(", f);
        if (v->kind == TM_KIND_TEXT)
            fprintf(f, "%.*s", (int)v->len, v->ptr);
        else
            fputs(v->kind == TM_KIND_NULL ? "_" : "^", f);
    }
    fputs(")", f);
}

static void put_entry(FILE *f, const tm_undo_entry *e)
{
    static const char *const kinds[] = {"NONE", "DELETE", "UPDATE", "INSERT"};
    fprintf(f, "%s %s ", kinds[tm_undo_kind_of(e)], e->t->cur->relname);
    put_img(f, e->has_before, &e->before);
    fputs(" > ", f);
    put_img(f, e->has_after, &e->after);
    if (e->interleaved)
        fputs(" interleaved", f);
    for (uint32_t i = 0; i < e->nlater; i++)
        fprintf(f, "%s%u%c", i ? " " : " later ", e->later[i].xid, e->later[i].op);
    fputs("\n", f);
}

char *tmt_undo_plan_text(const tm_undo_plan *p)
{
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < p->n; i++)
        put_entry(f, p->e[i]);
    for (size_t i = 0; i < p->ncannot; i++) {
        const tm_undo_cannot *c = &p->cannot[i];
        fprintf(f, "cannot %s %c %u x%llu\n", c->t->cur->relname, c->replica_identity, c->first_xid,
                (unsigned long long)c->changes);
    }
    fclose(f);
    return buf;
}

/* The text written into o, which is freed. */
static char *text_of(tm_out *o)
{
    tm_out_putc(o, '\0');
    ck_assert_int_eq(o->err, 0);
    size_t len;
    char *s = strdup(tm_out_data(o, &len));
    tm_out_free(o);
    return s;
}

static tm_out mem_out(void)
{
    tm_out o;
    tm_error err;
    ck_assert_msg(tm_out_init_mem(&o, &err) == 0, "%s", err.msg);
    return o;
}

char *tmt_undo_stmt(const tm_undo_entry *e)
{
    tm_out o = mem_out();
    tm_error err;
    ck_assert_msg(tm_undo_stmt(&o, e, false, &err) == 0, "%s", err.msg);
    return text_of(&o);
}

char *tmt_undo_describe(const tm_undo_entry *e)
{
    tm_out o = mem_out();
    tm_undo_describe(&o, e);
    return text_of(&o);
}

char *tmt_undo_later(const tm_undo_entry *e)
{
    tm_out o = mem_out();
    tm_undo_later(&o, e);
    return text_of(&o);
}

char *tmt_undo_script(const tm_undo_plan *p, bool skip)
{
    const tm_undo_entry **es;
    long n = tm_undo_order(p, &es);
    ck_assert_int_ge(n, 0);
    tm_out o = mem_out();
    tm_error err;
    ck_assert_msg(tm_undo_write_script(&o, p, es, (size_t)n, skip, false, &err) == 0, "%s",
                  err.msg);
    free(es);
    return text_of(&o);
}
