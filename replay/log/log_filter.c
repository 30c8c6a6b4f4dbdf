#include "replay/log/log_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/qualname.h"

struct log_filter {
    const log_opts *o;
    const tm_relreg *schema;
    tm_where *where;
    log_rel **rels; /* by tm_relver.index */
    size_t nrels;
};

log_filter *log_filter_new(const log_opts *o, const tm_relreg *s, tm_error *err)
{
    log_filter *f = calloc(1, sizeof *f);
    if (!f) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    f->o = o;
    f->schema = s;
    if (o->where && !(f->where = tm_where_parse(o->where, err))) {
        free(f);
        return NULL;
    }
    return f;
}

static void free_rel(log_rel *lr)
{
    if (!lr)
        return;
    tm_where_bound_free(lr->where);
    free(lr->cls);
    free(lr->colsel);
    free(lr);
}

void log_filter_free(log_filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nrels; i++)
        free_rel(f->rels[i]);
    free(f->rels);
    tm_where_free(f->where);
    free(f);
}

const tm_where *log_filter_where(const log_filter *f)
{
    return f->where;
}

static bool table_selected(const log_opts *o, const tm_relver *rv)
{
    return tm_qualname_selects(o->tables, o->ntables, rv->schema, rv->name);
}

static bool has_where_columns(const tm_where *w, const tm_relver *rv)
{
    for (size_t i = 0; w && i < tm_where_count(w); i++)
        if (tm_relver_column(rv, tm_where_column(w, i)) < 0)
            return false;
    return true;
}

static log_rel *make_rel(log_filter *f, const tm_relver *rv, tm_error *err)
{
    log_rel *lr = calloc(1, sizeof *lr);
    if (!lr || !(lr->cls = calloc(rv->ncols ? rv->ncols : 1, sizeof *lr->cls)))
        goto oom;
    lr->rv = rv;
    for (size_t i = 0; i < rv->ncols; i++)
        lr->cls[i] = tm_type_class(rv->cols[i].type_oid, rv->cols[i].type_name);
    lr->selected = table_selected(f->o, rv);
    lr->possible = has_where_columns(f->where, rv);
    if (lr->selected && lr->possible && f->where) {
        lr->where = tm_where_bind(f->where, rv->cols, rv->ncols, f->o->tz, err);
        if (!lr->where) {
            tm_error_prefix(err, "table %s", rv->display);
            free_rel(lr);
            return NULL;
        }
    }
    if (f->o->ncolumns) {
        if (!(lr->colsel = calloc(rv->ncols ? rv->ncols : 1, sizeof *lr->colsel)))
            goto oom;
        for (size_t k = 0; k < f->o->ncolumns; k++) {
            long c = tm_relver_column(rv, f->o->columns[k]);
            if (c >= 0) {
                lr->colsel[c] = true;
                lr->any_colsel = true;
            }
        }
    }
    return lr;
oom:
    free_rel(lr);
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
    return NULL;
}

const log_rel *log_filter_rel(log_filter *f, const tm_relver *rv, tm_error *err)
{
    if (rv->index >= f->nrels) {
        size_t n = rv->index + 16;
        log_rel **v = realloc(f->rels, n * sizeof *v);
        if (!v) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return NULL;
        }
        memset(v + f->nrels, 0, (n - f->nrels) * sizeof *v);
        f->rels = v;
        f->nrels = n;
    }
    if (!f->rels[rv->index])
        f->rels[rv->index] = make_rel(f, rv, err);
    return f->rels[rv->index];
}

/* Appends the distinct column names of the selected tables to buf. */
static void list_columns(const log_filter *f, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    size_t count = tm_relreg_count(f->schema);
    for (size_t i = 0; i < count; i++) {
        const tm_relver *rv = tm_relreg_at(f->schema, i);
        if (!table_selected(f->o, rv))
            continue;
        for (size_t c = 0; c < rv->ncols; c++) {
            /* Skip names listed already (other versions, other tables). */
            bool seen = false;
            for (size_t j = 0; j <= i && !seen; j++) {
                const tm_relver *o = tm_relreg_at(f->schema, j);
                if (!table_selected(f->o, o))
                    continue;
                size_t lim = j == i ? c : o->ncols;
                for (size_t k = 0; k < lim && !seen; k++)
                    seen = !strcmp(o->cols[k].name, rv->cols[c].name);
            }
            if (seen)
                continue;
            int w = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", rv->cols[c].name);
            if (w < 0 || (size_t)w >= cap - n) {
                if (cap > 5)
                    memcpy(buf + cap - 5, "...", 4);
                return;
            }
            n += (size_t)w;
        }
    }
}

static void list_tables(const tm_relreg *s, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    size_t count = tm_relreg_count(s);
    for (size_t i = 0; i < count; i++) {
        const tm_relver *rv = tm_relreg_at(s, i);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(tm_relreg_at(s, j)->display, rv->display);
        if (seen)
            continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", rv->display);
        if (w < 0 || (size_t)w >= cap - n) {
            if (cap > 5)
                memcpy(buf + cap - 5, "...", 4);
            return;
        }
        n += (size_t)w;
    }
}

int log_filter_check(log_filter *f, tm_error *err)
{
    const log_opts *o = f->o;
    size_t count = tm_relreg_count(f->schema);
    char list[700];
    for (size_t t = 0; t < o->ntables; t++) {
        bool found = false;
        for (size_t i = 0; i < count && !found; i++) {
            const tm_relver *rv = tm_relreg_at(f->schema, i);
            found =
                !strcmp(o->tables[t].schema, rv->schema) && !strcmp(o->tables[t].name, rv->name);
        }
        if (!found) {
            char name[2 * TM_NAME_MAX + 8];
            tm_qualname_format(o->tables[t].schema, o->tables[t].name, name, sizeof name);
            list_tables(f->schema, list, sizeof list);
            tm_error_setc(err, TM_ERR_NOT_FOUND,
                          "table %s is not in the journal %s; its tables are: %s", name, o->journal,
                          count ? list : "(none)");
            return -1;
        }
    }
    /* Each --where and --column name must exist in some selected table. */
    for (size_t k = 0; f->where && k < tm_where_count(f->where); k++) {
        const char *col = tm_where_column(f->where, k);
        bool found = false;
        for (size_t i = 0; i < count && !found; i++) {
            const tm_relver *rv = tm_relreg_at(f->schema, i);
            found = table_selected(o, rv) && tm_relver_column(rv, col) >= 0;
        }
        if (!found && count) {
            list_columns(f, list, sizeof list);
            tm_error_setc(err, TM_ERR_NOT_FOUND,
                          "--where: no %s has a column \"%s\"; the columns are: %s",
                          o->ntables ? "selected table" : "table in the journal", col, list);
            return -1;
        }
    }
    for (size_t k = 0; k < o->ncolumns; k++) {
        bool found = false;
        for (size_t i = 0; i < count && !found; i++) {
            const tm_relver *rv = tm_relreg_at(f->schema, i);
            found = table_selected(o, rv) && tm_relver_column(rv, o->columns[k]) >= 0;
        }
        if (!found && count) {
            list_columns(f, list, sizeof list);
            tm_error_setc(
                err, TM_ERR_NOT_FOUND, "--column: no %s has a column \"%s\"; the columns are: %s",
                o->ntables ? "selected table" : "table in the journal", o->columns[k], list);
            return -1;
        }
    }
    /* Bind --where now, so that a bad literal is an error before any output. */
    for (size_t i = 0; i < count; i++)
        if (!log_filter_rel(f, tm_relreg_at(f->schema, i), err))
            return -1;
    return 0;
}

bool log_filter_tx(const log_filter *f, uint32_t xid, int64_t commit_time)
{
    const log_opts *o = f->o;
    if (o->has_from && commit_time < o->from)
        return false;
    if (o->has_to && commit_time > o->to)
        return false;
    if (o->nxids == 0)
        return true;
    for (size_t i = 0; i < o->nxids; i++)
        if (o->xids[i] == xid)
            return true;
    return false;
}

bool log_filter_row(const log_rel *lr, const tm_value *oldv, uint32_t nold, const tm_value *newv,
                    uint32_t nnew)
{
    if (!lr->where)
        return true;
    /* An image narrower than the schema (which the journal should never
     * hold) cannot be matched safely: it does not match. */
    if (oldv && nold >= lr->rv->ncols && tm_where_match(lr->where, oldv))
        return true;
    return newv && nnew >= lr->rv->ncols && tm_where_match(lr->where, newv);
}
