/* tidemark log's options: what the command line (replay/cmd_log.c, through
 * the shared parser) fills in, and the values it checks. */
#include "replay/log/log_opts.h"

#include <stdlib.h>
#include <string.h>

#include "store/common/tm_time.h"

char *log_parse_column(const char *s, tm_error *err)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (s[0] == '"') {
        size_t k = 0, i = 1;
        for (;; i++) {
            if (s[i] == '\0') {
                tm_error_set(err, "unterminated quoted column name in --column %s", s);
                free(out);
                return NULL;
            }
            if (s[i] == '"') {
                if (s[i + 1] != '"')
                    break;
                i++;
            }
            out[k++] = s[i];
        }
        out[k] = '\0';
        if (s[i + 1] != '\0' || k == 0) {
            tm_error_set(err, "--column %s: expected one name (quote it whole: \"Name\")", s);
            free(out);
            return NULL;
        }
        return out;
    }
    if (n == 0) {
        tm_error_set(err, "--column needs a column name");
        free(out);
        return NULL;
    }
    for (size_t i = 0; i <= n; i++) /* PostgreSQL folds plain names to lower case */
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    return out;
}

static int add_ptr(void **arr, size_t *n, size_t size, const void *item, tm_error *err)
{
    void *v = realloc(*arr, (*n + 1) * size);
    if (!v) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    *arr = v;
    memcpy((char *)v + *n * size, item, size);
    (*n)++;
    return 0;
}

int log_opts_add_table(log_opts *o, const char *s, tm_error *err)
{
    tm_qualname q;
    if (tm_qualname_parse(s, &q, err) != 0) {
        tm_error_prefix(err, "--table");
        return -1;
    }
    return add_ptr((void **)&o->tables, &o->ntables, sizeof q, &q, err);
}

int log_opts_add_xid(log_opts *o, uint32_t xid, tm_error *err)
{
    return add_ptr((void **)&o->xids, &o->nxids, sizeof xid, &xid, err);
}

int log_opts_add_column(log_opts *o, const char *s, tm_error *err)
{
    char *name = log_parse_column(s, err);
    if (!name)
        return -1;
    if (add_ptr((void **)&o->columns, &o->ncolumns, sizeof name, &name, err) != 0) {
        free(name);
        return -1;
    }
    return 0;
}

int log_opts_set_times(log_opts *o, const char *from, const char *to, tm_error *err)
{
    if (o->tz && *o->tz) {
        /* Check the zone now, so that a typo is not silent when no time
         * needs it. */
        int64_t t;
        if (tm_time_parse("2000-01-01 00:00", o->tz, &t, err) != 0) {
            tm_error_prefix(err, "--tz");
            return -1;
        }
    }
    if (from && tm_time_parse(from, o->tz, &o->from, err) != 0) {
        tm_error_prefix(err, "--from");
        return -1;
    }
    if (to && tm_time_parse(to, o->tz, &o->to, err) != 0) {
        tm_error_prefix(err, "--to");
        return -1;
    }
    o->has_from = from != NULL;
    o->has_to = to != NULL;
    if (o->has_from && o->has_to && o->from > o->to) {
        tm_error_set(err, "--from is later than --to");
        return -1;
    }
    return 0;
}

void log_opts_free(log_opts *o)
{
    for (size_t i = 0; i < o->ncolumns; i++)
        free(o->columns[i]);
    free(o->columns);
    free(o->tables);
    free(o->xids);
    memset(o, 0, sizeof *o);
}
