#include "replay/log/log_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay/query/jsonscan.h"
#include "store/common/lsn.h"
#include "replay/out/out_jsonl.h"
#include "store/common/qualname.h"
#include "store/common/tm_time.h"

/* ---- times and LSNs ------------------------------------------------------ */

static bool local_zone; /* print in the TZ set by log_time_init */

void log_time_init(const char *tz)
{
    local_zone = tz && *tz && strcasecmp(tz, "UTC") && strcasecmp(tz, "Z") &&
                 strcasecmp(tz, "GMT") && strcasecmp(tz, "Etc/UTC");
    if (!local_zone)
        return;
    char spec[256];
    if (tz[0] == '+' || tz[0] == '-') {
        /* A fixed offset: POSIX TZ strings count west of Greenwich. */
        snprintf(spec, sizeof spec, "UTC%c%s", tz[0] == '+' ? '-' : '+', tz + 1);
    } else {
        snprintf(spec, sizeof spec, ":%s", tz);
    }
    setenv("TZ", spec, 1);
    tzset();
}

void log_write_time(tm_out *o, int64_t t)
{
    char buf[TM_TIME_BUFLEN + 16];
    long off = 0;
    if (local_zone) {
        int64_t secs = t / 1000000 - (t % 1000000 < 0);
        time_t tt = (time_t)secs;
        struct tm tm;
        if (localtime_r(&tt, &tm))
            off = tm.tm_gmtoff;
    }
    tm_time_format(t + (int64_t)off * 1000000, buf);
    /* tm_time_format ends in "+00" (then " BC" for years before 1 AD). */
    char *suffix = strstr(buf, "+00");
    if (!suffix) {
        tm_out_puts(o, buf);
        return;
    }
    tm_out_write(o, buf, (size_t)(suffix - buf));
    long a = off < 0 ? -off : off;
    char z[24];
    int n = snprintf(z, sizeof z, "%c%02ld", off < 0 ? '-' : '+', a / 3600);
    if (a % 3600)
        n += snprintf(z + n, sizeof z - (size_t)n, ":%02ld", a / 60 % 60);
    if (a % 60)
        snprintf(z + n, sizeof z - (size_t)n, ":%02ld", a % 60);
    tm_out_puts(o, z);
    tm_out_puts(o, suffix + 3);
}

void log_write_lsn(tm_out *o, uint64_t lsn)
{
    char buf[TM_LSN_BUFLEN];
    tm_out_puts(o, tm_lsn_format(lsn, buf));
}

/* ---- names and values ------------------------------------------------------ */

static bool plain_name(const char *s, size_t len)
{
    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

void log_text_name(tm_out *o, const char *name)
{
    size_t len = strlen(name);
    if (plain_name(name, len))
        tm_out_write(o, name, len);
    else
        tm_json_string(o, name, len);
}

void log_text_prefix(tm_out *o, const char *prefix)
{
    size_t len = strlen(prefix);
    bool plain = len > 0;
    for (size_t i = 0; i < len && plain; i++) {
        char c = prefix[i];
        plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-';
    }
    if (plain)
        tm_out_write(o, prefix, len);
    else
        tm_json_string(o, prefix, len);
}

void log_text_table(tm_out *o, const tm_relver *rv)
{
    log_text_name(o, rv->schema);
    tm_out_putc(o, '.');
    log_text_name(o, rv->name);
}

void log_write_content(tm_out *o, const char *p, size_t len)
{
    if (!tm_json_check(p, p + len)) {
        tm_json_string(o, p, len);
        return;
    }
    /* One valid JSON value: embedded as it is, without the whitespace
     * around it and on one line. */
    const char *vs, *ve = p + len;
    tm_json_value(p, ve, &vs);
    while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\n' || ve[-1] == '\r'))
        ve--;
    tm_json_embed(o, vs, (size_t)(ve - vs));
}

/* A column value: SQL NULL in text is NULL; values as JSON. */
static void text_value(tm_out *o, tm_tclass cls, const tm_value *v)
{
    if (v->kind == TM_KIND_TEXT)
        tm_jsonl_value(o, cls, v);
    else if (v->kind == TM_KIND_UNCHANGED)
        tm_out_puts(o, "(unchanged)");
    else
        tm_out_puts(o, "NULL");
}

static void json_value(tm_out *o, tm_tclass cls, const tm_value *v)
{
    if (v->kind == TM_KIND_TEXT)
        tm_jsonl_value(o, cls, v);
    else
        tm_out_puts(o, "null");
}

/* ---- the row's key ------------------------------------------------------- */

/* The image whose key columns identify the row. */
static const tm_value *key_image(const Tidemark__Change *ch, const tm_value *oldv, uint32_t nold,
                                 const tm_value *newv, uint32_t nnew, const tm_relver *rv,
                                 uint32_t *n)
{
    if (ch->op == TIDEMARK__CHANGE__OP__DELETE) {
        *n = nold;
        return oldv;
    }
    bool new_ok = newv != NULL;
    for (size_t i = 0; new_ok && i < rv->nkey; i++)
        new_ok = rv->key[i] < nnew && newv[rv->key[i]].kind != TM_KIND_UNCHANGED;
    if (new_ok || !oldv) {
        *n = nnew;
        return newv;
    }
    *n = nold;
    return oldv;
}

static void text_key(tm_out *o, const log_rel *lr, const tm_value *img, uint32_t n)
{
    const tm_relver *rv = lr->rv;
    if (rv->keysrc == TM_KEY_ALL || !img)
        return;
    tm_out_write(o, "  ", 2);
    for (size_t i = 0; i < rv->nkey; i++) {
        size_t c = rv->key[i];
        if (i)
            tm_out_write(o, ", ", 2);
        log_text_name(o, rv->cols[c].name);
        tm_out_putc(o, '=');
        static const tm_value null_value = {NULL, 0, TM_KIND_NULL};
        text_value(o, lr->cls[c], c < n ? &img[c] : &null_value);
    }
}

static void json_row(tm_out *o, const log_rel *lr, const tm_value *img, uint32_t n, bool key_only)
{
    const tm_relver *rv = lr->rv;
    static const tm_value null_value = {NULL, 0, TM_KIND_NULL};
    tm_out_putc(o, '{');
    bool first = true;
    size_t count = key_only && rv->keysrc != TM_KEY_ALL ? rv->nkey : rv->ncols;
    for (size_t i = 0; i < count; i++) {
        size_t c = key_only && rv->keysrc != TM_KEY_ALL ? rv->key[i] : i;
        const tm_value *v = c < n ? &img[c] : &null_value;
        if (v->kind == TM_KIND_UNCHANGED)
            continue; /* not recorded: left out rather than guessed */
        if (!first)
            tm_out_putc(o, ',');
        first = false;
        tm_json_string(o, rv->cols[c].name, strlen(rv->cols[c].name));
        tm_out_putc(o, ':');
        json_value(o, lr->cls[c], v);
    }
    tm_out_putc(o, '}');
}

/* ---- update differences -------------------------------------------------- */

typedef struct diff_out {
    tm_out *o;
    const log_rel *lr;
    bool first;
} diff_out;

/* A member key reads as .key when it is an identifier (any case), else as
 * ["key"] (the span is JSON-escaped already). */
static bool ident_key(const log_key *k)
{
    if (k->len == 0 || (k->p[0] >= '0' && k->p[0] <= '9'))
        return false;
    for (size_t j = 0; j < k->len; j++) {
        char c = k->p[j];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static void text_path(tm_out *o, const log_diff_item *it)
{
    for (size_t i = 0; i < it->depth; i++) {
        const log_key *k = &it->path[i];
        if (ident_key(k)) {
            tm_out_putc(o, '.');
            tm_out_write(o, k->p, k->len);
        } else {
            tm_out_write(o, "[\"", 2);
            tm_out_write(o, k->p, k->len);
            tm_out_write(o, "\"]", 2);
        }
    }
}

static void text_side(tm_out *o, const log_rel *lr, const log_diff_item *it, const log_side *s)
{
    switch (s->kind) {
    case LOG_SIDE_VALUE:
        if (it->depth > 0) {
            tm_json_embed(o, s->p, s->len);
        } else {
            tm_value v = {s->p, (uint32_t)s->len, TM_KIND_TEXT};
            tm_jsonl_value(o, lr->cls[it->col], &v);
        }
        break;
    case LOG_SIDE_NULL:
        tm_out_puts(o, "NULL");
        break;
    case LOG_SIDE_ABSENT:
        tm_out_puts(o, "(absent)");
        break;
    case LOG_SIDE_REMOVED:
        tm_out_puts(o, "(removed)");
        break;
    case LOG_SIDE_UNKNOWN:
        tm_out_puts(o, "(not recorded)");
        break;
    case LOG_SIDE_UNCHANGED:
        tm_out_puts(o, "(unchanged)");
        break;
    }
}

static int text_item(void *ctx, const log_diff_item *it)
{
    diff_out *d = ctx;
    tm_out *o = d->o;
    tm_out_write(o, "    ", 4);
    log_text_name(o, d->lr->rv->cols[it->col].name);
    text_path(o, it);
    tm_out_write(o, ": ", 2);
    if (it->old.kind == LOG_SIDE_UNCHANGED && it->new_.kind == LOG_SIDE_UNCHANGED) {
        tm_out_puts(o, "(unchanged)\n");
        return 0;
    }
    text_side(o, d->lr, it, &it->old);
    tm_out_write(o, " -> ", 4);
    text_side(o, d->lr, it, &it->new_);
    tm_out_putc(o, '\n');
    return 0;
}

static void json_side(tm_out *o, const log_rel *lr, const log_diff_item *it, const log_side *s)
{
    if (s->kind == LOG_SIDE_NULL) {
        tm_out_puts(o, "null");
    } else if (it->depth > 0) {
        tm_json_embed(o, s->p, s->len);
    } else {
        tm_value v = {s->p, (uint32_t)s->len, TM_KIND_TEXT};
        tm_jsonl_value(o, lr->cls[it->col], &v);
    }
}

static int json_item(void *ctx, const log_diff_item *it)
{
    diff_out *d = ctx;
    tm_out *o = d->o;
    if (!d->first)
        tm_out_putc(o, ',');
    d->first = false;
    tm_out_puts(o, "{\"column\":");
    const char *name = d->lr->rv->cols[it->col].name;
    tm_json_string(o, name, strlen(name));
    if (it->depth) {
        tm_out_puts(o, ",\"path\":[");
        for (size_t i = 0; i < it->depth; i++) {
            if (i)
                tm_out_putc(o, ',');
            tm_out_putc(o, '"');
            tm_out_write(o, it->path[i].p, it->path[i].len);
            tm_out_putc(o, '"');
        }
        tm_out_putc(o, ']');
    }
    const log_side *os = &it->old, *ns = &it->new_;
    if (os->kind == LOG_SIDE_UNCHANGED && ns->kind == LOG_SIDE_UNCHANGED) {
        tm_out_puts(o, ",\"unchanged\":true}");
        return 0;
    }
    if (os->kind == LOG_SIDE_VALUE || os->kind == LOG_SIDE_NULL) {
        tm_out_puts(o, ",\"old\":");
        json_side(o, d->lr, it, os);
    } else if (os->kind == LOG_SIDE_ABSENT) {
        tm_out_puts(o, ",\"added\":true");
    } else if (os->kind == LOG_SIDE_UNKNOWN) {
        tm_out_puts(o, ",\"old_recorded\":false");
    }
    if (ns->kind == LOG_SIDE_VALUE || ns->kind == LOG_SIDE_NULL) {
        tm_out_puts(o, ",\"new\":");
        json_side(o, d->lr, it, ns);
    } else if (ns->kind == LOG_SIDE_REMOVED) {
        tm_out_puts(o, ",\"removed\":true");
    } else if (ns->kind == LOG_SIDE_UNCHANGED) {
        tm_out_puts(o, ",\"unchanged\":true");
    }
    tm_out_putc(o, '}');
    return 0;
}

/* ---- one change ------------------------------------------------------------ */

static const char *op_name(int op, bool upper)
{
    switch (op) {
    case TIDEMARK__CHANGE__OP__INSERT:
        return upper ? "INSERT" : "insert";
    case TIDEMARK__CHANGE__OP__UPDATE:
        return upper ? "UPDATE" : "update";
    case TIDEMARK__CHANGE__OP__DELETE:
        return upper ? "DELETE" : "delete";
    default:
        return upper ? "TRUNCATE" : "truncate";
    }
}

/* Lines "    col: value" for the non-key columns of an image. */
static void text_row(tm_out *o, const log_rel *lr, const tm_value *img, uint32_t n)
{
    static const tm_value null_value = {NULL, 0, TM_KIND_NULL};
    for (size_t c = 0; c < lr->rv->ncols; c++) {
        if (log_is_key(lr->rv, c))
            continue;
        tm_out_write(o, "    ", 4);
        log_text_name(o, lr->rv->cols[c].name);
        tm_out_write(o, ": ", 2);
        text_value(o, lr->cls[c], c < n ? &img[c] : &null_value);
        tm_out_putc(o, '\n');
    }
}

static int write_text(tm_out *o, const log_rel *lr, const Tidemark__Change *ch,
                      const tm_value *oldv, uint32_t nold, const tm_value *newv, uint32_t nnew,
                      const log_trunc_rows *tr, log_differ *d, tm_error *err)
{
    tm_out_write(o, "  ", 2);
    log_text_table(o, lr->rv);
    tm_out_write(o, "  ", 2);
    tm_out_puts(o, op_name(ch->op, true));
    if (ch->op == TIDEMARK__CHANGE__OP__TRUNCATE) {
        if (ch->truncate_flags & 1)
            tm_out_puts(o, " CASCADE");
        if (ch->truncate_flags & 2)
            tm_out_puts(o, " RESTART IDENTITY");
        char num[48];
        if (tr && tr->known)
            snprintf(num, sizeof num, "  (%llu row%s)\n", (unsigned long long)tr->rows,
                     tr->rows == 1 ? "" : "s");
        else
            snprintf(num, sizeof num, "  (rows not known)\n");
        tm_out_puts(o, num);
        return 0;
    }
    uint32_t nk;
    const tm_value *kimg = key_image(ch, oldv, nold, newv, nnew, lr->rv, &nk);
    text_key(o, lr, kimg, nk);
    bool full_old = ch->old_kind == 'O';
    switch (ch->op) {
    case TIDEMARK__CHANGE__OP__INSERT:
        tm_out_putc(o, '\n');
        text_row(o, lr, newv, nnew);
        return 0;
    case TIDEMARK__CHANGE__OP__DELETE:
        if (!full_old) {
            tm_out_puts(o, "  (old row not recorded: REPLICA IDENTITY was not FULL)\n");
            return 0;
        }
        tm_out_putc(o, '\n');
        text_row(o, lr, oldv, nold);
        return 0;
    default:
        if (!full_old)
            tm_out_puts(o, "  (old values not recorded: REPLICA IDENTITY was not FULL)");
        tm_out_putc(o, '\n');
        diff_out dout = {o, lr, true};
        if (log_diff_update(d, lr, oldv, full_old || ch->old_kind == 'K' ? nold : 0,
                            (char)ch->old_kind, newv, nnew, text_item, &dout) < 0) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory comparing values");
            return -1;
        }
        return 0;
    }
}

static int write_jsonl(tm_out *o, const log_txhdr *tx, const log_rel *lr,
                       const Tidemark__Change *ch, const tm_value *oldv, uint32_t nold,
                       const tm_value *newv, uint32_t nnew, const log_trunc_rows *tr, log_differ *d,
                       tm_error *err)
{
    const tm_relver *rv = lr->rv;
    tm_out_puts(o, "{\"time\":\"");
    log_write_time(o, tx->time);
    char num[32];
    snprintf(num, sizeof num, "%u", tx->xid);
    tm_out_puts(o, "\",\"xid\":");
    tm_out_puts(o, num);
    tm_out_puts(o, ",\"lsn\":\"");
    log_write_lsn(o, tx->lsn);
    tm_out_puts(o, "\",\"table\":");
    tm_json_string(o, rv->display, strlen(rv->display));
    tm_out_puts(o, ",\"schema\":");
    tm_json_string(o, rv->schema, strlen(rv->schema));
    tm_out_puts(o, ",\"name\":");
    tm_json_string(o, rv->name, strlen(rv->name));
    tm_out_puts(o, ",\"op\":\"");
    tm_out_puts(o, op_name(ch->op, false));
    tm_out_putc(o, '"');
    if (ch->op == TIDEMARK__CHANGE__OP__TRUNCATE) {
        tm_out_puts(o, (ch->truncate_flags & 1) ? ",\"cascade\":true" : ",\"cascade\":false");
        tm_out_puts(o, (ch->truncate_flags & 2) ? ",\"restart_identity\":true"
                                                : ",\"restart_identity\":false");
        if (tr && tr->known) {
            snprintf(num, sizeof num, ",\"rows\":%llu", (unsigned long long)tr->rows);
            tm_out_puts(o, num);
        } else {
            tm_out_puts(o, ",\"rows\":null");
        }
        return 0;
    }
    uint32_t nk;
    const tm_value *kimg = key_image(ch, oldv, nold, newv, nnew, rv, &nk);
    if (kimg) {
        tm_out_puts(o, ",\"key\":");
        json_row(o, lr, kimg, nk, true);
    }
    bool full_old = ch->old_kind == 'O';
    switch (ch->op) {
    case TIDEMARK__CHANGE__OP__INSERT:
        tm_out_puts(o, ",\"new\":");
        json_row(o, lr, newv, nnew, false);
        return 0;
    case TIDEMARK__CHANGE__OP__DELETE:
        if (full_old) {
            tm_out_puts(o, ",\"old\":");
            json_row(o, lr, oldv, nold, false);
        } else {
            tm_out_puts(o, ",\"old\":null,\"old_recorded\":false");
        }
        return 0;
    default:
        if (!full_old)
            tm_out_puts(o, ",\"old_recorded\":false");
        tm_out_puts(o, ",\"changes\":[");
        diff_out dout = {o, lr, true};
        if (log_diff_update(d, lr, oldv, full_old || ch->old_kind == 'K' ? nold : 0,
                            (char)ch->old_kind, newv, nnew, json_item, &dout) < 0) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory comparing values");
            return -1;
        }
        tm_out_putc(o, ']');
        return 0;
    }
}

int log_write_change(tm_out *o, log_format_kind fmt, const log_txhdr *tx, const log_rel *lr,
                     const Tidemark__Change *ch, const tm_value *oldv, uint32_t nold,
                     const tm_value *newv, uint32_t nnew, const log_trunc_rows *tr, log_differ *d,
                     tm_error *err)
{
    if (fmt == LOG_JSONL)
        return write_jsonl(o, tx, lr, ch, oldv, nold, newv, nnew, tr, d, err);
    return write_text(o, lr, ch, oldv, nold, newv, nnew, tr, d, err);
}
