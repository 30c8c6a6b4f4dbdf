#include "replay/log/log_tx.h"

#include <stdlib.h>
#include <string.h>

#include "store/common/fsutil.h"
#include "replay/out/out_jsonl.h"

/* Formatted changes beyond this many bytes go to a temporary file. */
size_t log_tx_spill_at = 32u << 20;

int log_tx_init(log_tx *tx, tm_error *err)
{
    memset(tx, 0, sizeof *tx);
    return tm_out_init_mem(&tx->mem, err);
}

static void clear_messages(log_tx *tx)
{
    for (size_t i = 0; i < tx->nmsgs; i++) {
        free(tx->msgs[i].prefix);
        free(tx->msgs[i].content);
    }
    tx->nmsgs = 0;
}

void log_tx_free(log_tx *tx)
{
    clear_messages(tx);
    free(tx->msgs);
    tm_out_free(&tx->mem);
    if (tx->spill)
        fclose(tx->spill);
    free(tx->ends);
    free(tx->counts);
    free(tx->truncs);
    memset(tx, 0, sizeof *tx);
}

void log_tx_begin(log_tx *tx, const Tidemark__TxBegin *b)
{
    clear_messages(tx);
    tm_out_reset(&tx->mem);
    if (tx->spill) {
        fclose(tx->spill);
        tx->spill = NULL;
    }
    tx->spilled = 0;
    tx->nchanges = 0;
    tx->ncounts = 0;
    tx->ntruncs = 0;
    tx->rows = 0;
    tx->truncates = 0;
    tx->hdr = (log_txhdr){b->xid, b->commit_lsn, b->commit_time};
    tx->snapshot = b->snapshot;
    tx->large = b->has_large_change_rows ? b->large_change_rows : 0;
    tx->left = b->n_records;
}

int log_tx_message(log_tx *tx, const Tidemark__LogicalMessage *m, tm_error *err)
{
    log_msg *v =
        tm_grow(tx->msgs, &tx->msgs_cap, tx->nmsgs, sizeof *v, 4, "keeping a logical message", err);
    if (!v)
        return -1;
    tx->msgs = v;
    log_msg *g = &tx->msgs[tx->nmsgs];
    g->prefix = strdup(m->prefix ? m->prefix : "");
    g->len = m->content.len;
    g->content = malloc(g->len ? g->len : 1);
    if (!g->prefix || !g->content) {
        free(g->prefix);
        free(g->content);
        goto oom;
    }
    if (g->len)
        memcpy(g->content, m->content.data, g->len);
    tx->nmsgs++;
    return 0;
oom:
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory keeping a logical message");
    return -1;
}

tm_out *log_tx_change_out(log_tx *tx)
{
    return &tx->mem;
}

int log_tx_change_done(log_tx *tx, tm_error *err)
{
    if (tx->mem.err) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory formatting changes");
        return -1;
    }
    uint64_t *v =
        tm_grow(tx->ends, &tx->ends_cap, tx->nchanges, sizeof *v, 64, "formatting changes", err);
    if (!v)
        return -1;
    tx->ends = v;
    tx->ends[tx->nchanges++] = tx->spilled + tx->mem.len;
    if (tx->mem.len >= log_tx_spill_at) {
        if (!tx->spill && !(tx->spill = tmpfile())) {
            tm_error_errno(err, "cannot create a temporary file for a large transaction");
            return -1;
        }
        if (fwrite(tx->mem.buf, 1, tx->mem.len, tx->spill) != tx->mem.len) {
            tm_error_errno(err, "cannot write a temporary file for a large transaction");
            return -1;
        }
        tx->spilled += tx->mem.len;
        tm_out_reset(&tx->mem);
    }
    return 0;
}

int64_t log_tx_truncate_nth(log_tx *tx, uint32_t oid, tm_error *err)
{
    for (size_t i = 0; i < tx->ntruncs; i++)
        if (tx->truncs[i].oid == oid)
            return tx->truncs[i].n++;
    log_trunc_seen *v =
        tm_grow(tx->truncs, &tx->truncs_cap, tx->ntruncs, sizeof *v, 4, "counting rows", err);
    if (!v)
        return -1;
    tx->truncs = v;
    tx->truncs[tx->ntruncs++] = (log_trunc_seen){oid, 1};
    return 0;
}

int log_tx_count(log_tx *tx, const tm_relver *rv, int op, uint64_t rows, bool known, tm_error *err)
{
    size_t i = 0;
    while (i < tx->ncounts &&
           !(tx->counts[i].rv->oid == rv->oid && !strcmp(tx->counts[i].rv->display, rv->display)))
        i++;
    if (i == tx->ncounts) {
        log_count *v =
            tm_grow(tx->counts, &tx->counts_cap, tx->ncounts, sizeof *v, 8, "counting rows", err);
        if (!v)
            return -1;
        tx->counts = v;
        tx->counts[i] = (log_count){rv, {0, 0, 0, 0}, 0, false};
        tx->ncounts++;
    }
    int k = op >= 1 && op <= 4 ? op - 1 : 0;
    log_count *c = &tx->counts[i];
    c->n[k] += rows;
    if (op == TIDEMARK__CHANGE__OP__TRUNCATE) {
        c->truncates++;
        tx->truncates++;
        c->rows_unknown |= !known;
    }
    tx->rows += rows;
    return 0;
}

/* ---- messages ---------------------------------------------------------- */

static bool is_context(const log_msg *m)
{
    return !strcmp(m->prefix, "tidemark");
}

static size_t count_context(const log_tx *tx)
{
    size_t n = 0;
    for (size_t i = 0; i < tx->nmsgs; i++)
        n += is_context(&tx->msgs[i]);
    return n;
}

/* The transaction's messages: each on a line of its own ("  context: ...")
 * in a block, or one after the other in a --transactions line. */
static void text_messages(const log_tx *tx, tm_out *o, bool all_messages, bool lines)
{
    for (size_t i = 0; i < tx->nmsgs; i++) {
        const log_msg *m = &tx->msgs[i];
        if (is_context(m)) {
            tm_out_puts(o, "  context: ");
        } else if (all_messages) {
            tm_out_puts(o, "  message ");
            log_text_prefix(o, m->prefix);
            tm_out_puts(o, ": ");
        } else {
            continue;
        }
        log_write_content(o, m->content, m->len);
        if (lines)
            tm_out_putc(o, '\n');
    }
}

/* ,"context":...,"messages":[...] */
static void json_messages(const log_tx *tx, tm_out *o, bool all_messages)
{
    size_t nctx = count_context(tx);
    if (nctx) {
        tm_out_puts(o, ",\"context\":");
        if (nctx > 1)
            tm_out_putc(o, '[');
        bool first = true;
        for (size_t i = 0; i < tx->nmsgs; i++) {
            if (!is_context(&tx->msgs[i]))
                continue;
            if (!first)
                tm_out_putc(o, ',');
            first = false;
            log_write_content(o, tx->msgs[i].content, tx->msgs[i].len);
        }
        if (nctx > 1)
            tm_out_putc(o, ']');
    }
    if (!all_messages || nctx == tx->nmsgs)
        return;
    tm_out_puts(o, ",\"messages\":[");
    bool first = true;
    for (size_t i = 0; i < tx->nmsgs; i++) {
        const log_msg *m = &tx->msgs[i];
        if (is_context(m))
            continue;
        if (!first)
            tm_out_putc(o, ',');
        first = false;
        tm_out_puts(o, "{\"prefix\":");
        tm_json_string(o, m->prefix, strlen(m->prefix));
        tm_out_puts(o, ",\"content\":");
        log_write_content(o, m->content, m->len);
        tm_out_putc(o, '}');
    }
    tm_out_putc(o, ']');
}

static void text_header(const log_tx *tx, tm_out *o)
{
    char num[32];
    log_write_time(o, tx->hdr.time);
    snprintf(num, sizeof num, "  xid %u  lsn ", tx->hdr.xid);
    tm_out_puts(o, num);
    log_write_lsn(o, tx->hdr.lsn);
}

/* ---- the transaction's block ------------------------------------------- */

/* Copies [from, to) of the formatted changes (spill file, then memory). */
static int copy_changes(log_tx *tx, tm_out *o, uint64_t from, uint64_t to, tm_error *err)
{
    while (from < to && from < tx->spilled) {
        char buf[65536];
        uint64_t want = to < tx->spilled ? to - from : tx->spilled - from;
        size_t n = want < sizeof buf ? (size_t)want : sizeof buf;
        if (fseeko(tx->spill, (off_t)from, SEEK_SET) != 0 || fread(buf, 1, n, tx->spill) != n) {
            tm_error_errno(err, "cannot read back a temporary file");
            return -1;
        }
        tm_out_write(o, buf, n);
        from += n;
    }
    if (from < to)
        tm_out_write(o, tx->mem.buf + (from - tx->spilled), (size_t)(to - from));
    return 0;
}

int log_tx_flush(log_tx *tx, tm_out *o, log_format_kind fmt, bool all_messages, tm_error *err)
{
    if (tx->spill)
        fflush(tx->spill);
    if (tx->nchanges == 0) {
        /* Messages alone: the header and the messages. */
        if (fmt == LOG_TEXT) {
            text_header(tx, o);
            tm_out_putc(o, '\n');
            text_messages(tx, o, all_messages, true);
            tm_out_putc(o, '\n');
        } else {
            tm_out_puts(o, "{\"time\":\"");
            log_write_time(o, tx->hdr.time);
            char num[32];
            snprintf(num, sizeof num, "\",\"xid\":%u,\"lsn\":\"", tx->hdr.xid);
            tm_out_puts(o, num);
            log_write_lsn(o, tx->hdr.lsn);
            tm_out_putc(o, '"');
            json_messages(tx, o, all_messages);
            tm_out_write(o, "}\n", 2);
        }
        return 0;
    }
    if (fmt == LOG_TEXT) {
        text_header(tx, o);
        if (tx->large) {
            char num[64];
            snprintf(num, sizeof num, "  MASS CHANGE (%u rows of one table)", tx->large);
            tm_out_puts(o, num);
        }
        tm_out_putc(o, '\n');
        text_messages(tx, o, all_messages, true);
        if (copy_changes(tx, o, 0, tx->ends[tx->nchanges - 1], err) != 0)
            return -1;
        tm_out_putc(o, '\n');
        return 0;
    }
    /* The messages part is the same for every change: format it once. */
    tm_out suffix;
    if (tm_out_init_mem(&suffix, err) != 0)
        return -1;
    json_messages(tx, &suffix, all_messages);
    if (tx->large) {
        char num[64];
        snprintf(num, sizeof num, ",\"mass_change\":%u", tx->large);
        tm_out_puts(&suffix, num);
    }
    tm_out_write(&suffix, "}\n", 2);
    int rc = 0;
    uint64_t from = 0;
    for (size_t i = 0; i < tx->nchanges && rc == 0; i++) {
        rc = copy_changes(tx, o, from, tx->ends[i], err);
        tm_out_write(o, suffix.buf, suffix.len);
        from = tx->ends[i];
    }
    if (rc == 0 && suffix.err) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory formatting changes");
        rc = -1;
    }
    tm_out_free(&suffix);
    return rc;
}

/* ---- --transactions ------------------------------------------------------ */

static const char *const op_names[4] = {"insert", "update", "delete", "truncate"};

/* " 2 insert, 1 update, truncate (50000 rows)": rows per operation; a
 * TRUNCATE (also of an empty table) with the rows it removed. */
static void text_counts(tm_out *o, const log_count *c)
{
    char num[64];
    bool first = true;
    for (int k = 0; k < 3; k++) {
        if (!c->n[k])
            continue;
        snprintf(num, sizeof num, "%s %llu %s", first ? "" : ",", (unsigned long long)c->n[k],
                 op_names[k]);
        tm_out_puts(o, num);
        first = false;
    }
    if (!c->truncates)
        return;
    if (c->rows_unknown)
        snprintf(num, sizeof num, "%s truncate (rows not known)", first ? "" : ",");
    else
        snprintf(num, sizeof num, "%s truncate (%llu row%s)", first ? "" : ",",
                 (unsigned long long)c->n[3], c->n[3] == 1 ? "" : "s");
    tm_out_puts(o, num);
}

/* "insert":2,"update":1,"truncate":50000 (null when not known). */
static void json_counts(tm_out *o, const log_count *c)
{
    char num[64];
    bool first = true;
    for (int k = 0; k < 4; k++) {
        if (k < 3 ? !c->n[k] : !c->truncates)
            continue;
        if (k == 3 && c->rows_unknown)
            snprintf(num, sizeof num, "%s\"truncate\":null", first ? "" : ",");
        else
            snprintf(num, sizeof num, "%s\"%s\":%llu", first ? "" : ",", op_names[k],
                     (unsigned long long)c->n[k]);
        tm_out_puts(o, num);
        first = false;
    }
}

void log_tx_summary(const log_tx *tx, tm_out *o, log_format_kind fmt, bool all_messages)
{
    char num[64];
    if (fmt == LOG_TEXT) {
        text_header(tx, o);
        snprintf(num, sizeof num, "  %llu row%s  ", (unsigned long long)tx->rows,
                 tx->rows == 1 ? "" : "s");
        tm_out_puts(o, num);
        for (size_t i = 0; i < tx->ncounts; i++) {
            if (i)
                tm_out_puts(o, "; ");
            log_text_table(o, tx->counts[i].rv);
            tm_out_puts(o, ":");
            text_counts(o, &tx->counts[i]);
        }
        if (tx->large) {
            snprintf(num, sizeof num, "  MASS CHANGE (%u rows of one table)", tx->large);
            tm_out_puts(o, num);
        }
        text_messages(tx, o, all_messages, false);
        tm_out_putc(o, '\n');
        return;
    }
    tm_out_puts(o, "{\"time\":\"");
    log_write_time(o, tx->hdr.time);
    snprintf(num, sizeof num, "\",\"xid\":%u,\"lsn\":\"", tx->hdr.xid);
    tm_out_puts(o, num);
    log_write_lsn(o, tx->hdr.lsn);
    snprintf(num, sizeof num, "\",\"rows\":%llu,\"tables\":{", (unsigned long long)tx->rows);
    tm_out_puts(o, num);
    for (size_t i = 0; i < tx->ncounts; i++) {
        if (i)
            tm_out_putc(o, ',');
        const char *d = tx->counts[i].rv->display;
        tm_json_string(o, d, strlen(d));
        tm_out_puts(o, ":{");
        json_counts(o, &tx->counts[i]);
        tm_out_putc(o, '}');
    }
    tm_out_putc(o, '}');
    if (tx->large) {
        snprintf(num, sizeof num, ",\"mass_change\":%u", tx->large);
        tm_out_puts(o, num);
    }
    json_messages(tx, o, all_messages);
    tm_out_write(o, "}\n", 2);
}

void log_write_snapshot_note(tm_out *o, log_format_kind fmt, const log_tx *tx, size_t ntables)
{
    char num[64];
    if (fmt == LOG_TEXT) {
        log_write_time(o, tx->hdr.time);
        tm_out_puts(o, "  lsn ");
        log_write_lsn(o, tx->hdr.lsn);
        snprintf(num, sizeof num, "  base snapshot of %zu table%s\n", ntables,
                 ntables == 1 ? "" : "s");
        tm_out_puts(o, num);
        return;
    }
    tm_out_puts(o, "{\"time\":\"");
    log_write_time(o, tx->hdr.time);
    tm_out_puts(o, "\",\"lsn\":\"");
    log_write_lsn(o, tx->hdr.lsn);
    snprintf(num, sizeof num, "\",\"snapshot\":true,\"tables\":%zu}\n", ntables);
    tm_out_puts(o, num);
}

void log_write_standalone_message(tm_out *o, log_format_kind fmt, const Tidemark__LogicalMessage *m)
{
    const char *prefix = m->prefix ? m->prefix : "";
    if (fmt == LOG_TEXT) {
        tm_out_puts(o, "lsn ");
        log_write_lsn(o, m->lsn);
        tm_out_puts(o, "  message (outside a transaction) ");
        log_text_prefix(o, prefix);
        tm_out_puts(o, ": ");
        log_write_content(o, (const char *)m->content.data, m->content.len);
        tm_out_puts(o, "\n\n");
        return;
    }
    tm_out_puts(o, "{\"lsn\":\"");
    log_write_lsn(o, m->lsn);
    tm_out_puts(o, "\",\"message\":{\"prefix\":");
    tm_json_string(o, prefix, strlen(prefix));
    tm_out_puts(o, ",\"content\":");
    log_write_content(o, (const char *)m->content.data, m->content.len);
    tm_out_puts(o, ",\"transactional\":false}}\n");
}

void log_write_gap(tm_out *o, log_format_kind fmt, const Tidemark__Gap *g)
{
    const char *reason = g->reason ? g->reason : "";
    if (fmt == LOG_TEXT) {
        log_write_time(o, g->time);
        tm_out_puts(o, "  lsn ");
        log_write_lsn(o, g->lsn);
        tm_out_puts(o, "  GAP in the journal: ");
        tm_json_string(o, reason, strlen(reason));
        tm_out_puts(o, "\n\n");
        return;
    }
    tm_out_puts(o, "{\"time\":\"");
    log_write_time(o, g->time);
    tm_out_puts(o, "\",\"lsn\":\"");
    log_write_lsn(o, g->lsn);
    tm_out_puts(o, "\",\"gap\":");
    tm_json_string(o, reason, strlen(reason));
    tm_out_puts(o, "}\n");
}

/* ---- --top ------------------------------------------------------------------ */

int log_top_init(log_top *t, size_t max, tm_error *err)
{
    memset(t, 0, sizeof *t);
    t->max = max;
    t->v = calloc(max ? max : 1, sizeof *t->v);
    if (!t->v) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    return 0;
}

void log_top_free(log_top *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].line);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* Whether a ranks below b: fewer rows, or as many and later. */
static bool below(const log_top_entry *a, const log_top_entry *b)
{
    return a->rows < b->rows || (a->rows == b->rows && a->lsn > b->lsn);
}

static void sift_down(log_top *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && below(&t->v[l], &t->v[m]))
            m = l;
        if (r < t->n && below(&t->v[r], &t->v[m]))
            m = r;
        if (m == i)
            return;
        log_top_entry tmp = t->v[i];
        t->v[i] = t->v[m];
        t->v[m] = tmp;
        i = m;
    }
}

static void sift_up(log_top *t, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!below(&t->v[i], &t->v[p]))
            return;
        log_top_entry tmp = t->v[i];
        t->v[i] = t->v[p];
        t->v[p] = tmp;
        i = p;
    }
}

int log_top_offer(log_top *t, const log_tx *tx, log_format_kind fmt, bool all_messages,
                  tm_error *err)
{
    log_top_entry e = {tx->rows, tx->hdr.lsn, NULL, 0};
    if (t->n == t->max && !below(&t->v[0], &e))
        return 0;
    tm_out line;
    if (tm_out_init_mem(&line, err) != 0)
        return -1;
    log_tx_summary(tx, &line, fmt, all_messages);
    if (line.err) {
        tm_out_free(&line);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    e.line = line.buf; /* taken over */
    e.len = line.len;
    if (t->n == t->max) {
        free(t->v[0].line);
        t->v[0] = e;
        sift_down(t, 0);
    } else {
        t->v[t->n++] = e;
        sift_up(t, t->n - 1);
    }
    return 0;
}

static int rank_cmp(const void *a, const void *b)
{
    const log_top_entry *x = a, *y = b;
    if (below(x, y))
        return 1;
    if (below(y, x))
        return -1;
    return 0;
}

void log_top_write(log_top *t, tm_out *o)
{
    if (t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, rank_cmp);
    for (size_t i = 0; i < t->n; i++)
        tm_out_write(o, t->v[i].line, t->v[i].len);
}
