#include "tests/harness/support_store.h"
#include "tests/harness/tm_sys.h"

#include "store/journal/frame.h"
#include "store/journal/segment.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- randomness ----------------------------------------------------------- */

uint64_t tmt_rand(tmt_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t tmt_below(tmt_rng *r, uint64_t n)
{
    return n ? tmt_rand(r) % n : 0;
}

/* ---- files ---------------------------------------------------------------- */

char *tmt_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *p;
    ck_assert(asprintf(&p, "%s/tidemark-test-XXXXXX", base && *base ? base : "/tmp") > 0);
    ck_assert_msg(mkdtemp(p) != NULL, "mkdtemp %s failed", p);
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void tmt_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tmt_tempdir_remove(char *dir)
{
    tmt_rmtree(dir);
    free(dir);
}

unsigned char *tmt_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    ck_assert(p != NULL);
    ck_assert(fread(p, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

void tmt_spit(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_msg(fd >= 0, "cannot write %s", path);
    ck_assert(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

char *tmt_path(const char *dir, const char *name)
{
    char *p;
    ck_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

char *tmt_seg_path(const char *dir, uint64_t segno)
{
    char *p;
    ck_assert(asprintf(&p, "%s/%016" PRIx64 ".seg", dir, segno) > 0);
    return p;
}

char *tmt_idx_path(const char *dir, uint64_t segno)
{
    char *p;
    ck_assert(asprintf(&p, "%s/%016" PRIx64 ".idx", dir, segno) > 0);
    return p;
}

/* ---- generating and writing ------------------------------------------------ */

void tmt_stream_init(tmt_stream *s, int64_t start_time)
{
    memset(s, 0, sizeof *s);
    s->next_lsn = 0x16B374D848ull;
    s->next_time = start_time;
}

void tmt_stream_free(tmt_stream *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].packed);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static void push_rec(tmt_rec **v, size_t *n, size_t *cap, const Tidemark__Record *rec, long tx,
                     uint64_t lsn, int64_t time)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *v = realloc(*v, *cap * sizeof **v);
        ck_assert(*v != NULL);
    }
    tmt_rec *t = &(*v)[(*n)++];
    t->len = protobuf_c_message_get_packed_size(&rec->base);
    t->packed = malloc(t->len ? t->len : 1);
    ck_assert(t->packed != NULL);
    ck_assert(protobuf_c_message_pack(&rec->base, t->packed) == t->len);
    t->body = rec->body_case;
    t->tx = tx;
    t->lsn = lsn;
    t->time = time;
}

static void record(tmt_stream *s, const Tidemark__Record *rec, long tx, uint64_t lsn, int64_t time)
{
    push_rec(&s->v, &s->n, &s->cap, rec, tx, lsn, time);
}

/* jsonb-ish text, sometimes empty, sometimes arbitrary bytes. */
static size_t gen_value(tmt_rng *r, unsigned char *out, size_t max)
{
    static const char alpha[] = "{}\":,[] abcdefghijklmnopqrstuvwxyz0123456789_-truefalsenull";
    size_t n = tmt_below(r, 8) == 0 ? 0 : tmt_below(r, max + 1);
    bool binary = tmt_below(r, 16) == 0;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (binary)
            out[i] = (unsigned char)tmt_rand(r);
        else if (run > 0 && i > 0) /* repeats make it compressible, like real JSON */
            out[i] = out[i - 1], run--;
        else
            out[i] = (unsigned char)alpha[tmt_below(r, sizeof alpha - 1)],
            run = tmt_below(r, 4) == 0 ? tmt_below(r, 6) : 0;
    }
    return n;
}

typedef struct tuple_buf {
    Tidemark__Tuple t;
    unsigned char kinds[16];
    uint32_t lengths[16];
    unsigned char *data;
} tuple_buf;

static void gen_tuple(tmt_rng *r, tuple_buf *tb, unsigned ncols, size_t max_value, bool has_old)
{
    tidemark__tuple__init(&tb->t);
    tb->data = malloc(ncols * (max_value + 1) + 1);
    ck_assert(tb->data != NULL);
    size_t nlen = 0, dlen = 0;
    for (unsigned c = 0; c < ncols; c++) {
        uint64_t k = tmt_below(r, 20);
        char kind = k < 2 ? 'n' : k < 3 ? 'u' : (has_old && k < 9) ? 's' : 't';
        tb->kinds[c] = (unsigned char)kind;
        if (kind == 't') {
            size_t n = gen_value(r, tb->data + dlen, max_value);
            tb->lengths[nlen++] = (uint32_t)n;
            dlen += n;
        }
    }
    tb->t.has_kinds = 1;
    tb->t.kinds.len = ncols;
    tb->t.kinds.data = tb->kinds;
    tb->t.n_lengths = nlen;
    tb->t.lengths = tb->lengths;
    tb->t.has_data = 1;
    tb->t.data.len = dlen;
    tb->t.data.data = tb->data;
}

void tmt_put_relation(tm_writer *w, tmt_stream *s, tmt_rng *r, unsigned which)
{
    static const char *types[] = {
        "bigint", "text", "jsonb", "character varying(40)", "timestamp with time zone", "boolean"};
    static const uint32_t oids[] = {20, 25, 3802, 1043, 1184, 16};
    unsigned ncols = 2 + (unsigned)tmt_below(r, 6);
    Tidemark__Column cols[8], *pcols[8];
    char names[8][16];
    for (unsigned c = 0; c < ncols; c++) {
        tidemark__column__init(&cols[c]);
        unsigned t = c == 0 ? 0 : (unsigned)tmt_below(r, 6);
        snprintf(names[c], sizeof names[c], c == 0 ? "id" : "col_%u", c);
        cols[c].name = names[c];
        cols[c].has_type_oid = 1;
        cols[c].type_oid = oids[t];
        cols[c].type_name = (char *)types[t];
        cols[c].has_typmod = 1;
        cols[c].typmod = t == 3 ? 44 : -1;
        cols[c].has_replica_key = 1;
        cols[c].replica_key = c == 0;
        cols[c].has_pk_position = 1;
        cols[c].pk_position = c == 0;
        if (tmt_below(r, 4) == 0) {
            cols[c].has_has_missing = 1;
            cols[c].has_missing = 1;
            cols[c].has_missing_value = 1;
            cols[c].missing_value.data = (uint8_t *)"{}";
            cols[c].missing_value.len = 2;
        }
        pcols[c] = &cols[c];
    }
    char name[32];
    snprintf(name, sizeof name, "preferences_%u", which);
    Tidemark__Relation rel = TIDEMARK__RELATION__INIT;
    rel.has_oid = 1;
    rel.oid = 16384 + which;
    rel.has_version = 1;
    rel.version = ++s->rel_version[which];
    rel.namespace_ = "public";
    rel.name = name;
    rel.has_replica_identity = 1;
    rel.replica_identity = 'f';
    rel.n_columns = ncols;
    rel.columns = pcols;
    rel.has_lsn = 1;
    rel.lsn = s->next_lsn;
    s->rel_ncols[which] = ncols;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
    rec.relation = &rel;
    tm_error err;
    ck_assert_msg(tm_writer_put_standalone(w, &rec, &err) == 0, "put relation: %s", err.msg);
    record(s, &rec, -1, 0, 0);
}

void tmt_put_standalone(tm_writer *w, tmt_stream *s, tmt_rng *r)
{
    uint64_t k = tmt_below(r, 3);
    if (k == 0) {
        tmt_put_relation(w, s, r, (unsigned)tmt_below(r, 8));
        return;
    }
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    Tidemark__Gap gap = TIDEMARK__GAP__INIT;
    Tidemark__LogicalMessage msg = TIDEMARK__LOGICAL_MESSAGE__INIT;
    unsigned char content[64];
    if (k == 1) {
        gap.has_lsn = 1;
        gap.lsn = s->next_lsn;
        gap.has_time = 1;
        gap.time = s->next_time;
        gap.reason = "slot lost (wal_status = lost)";
        rec.body_case = TIDEMARK__RECORD__BODY_GAP;
        rec.gap = &gap;
    } else {
        msg.has_transactional = 1;
        msg.transactional = 0;
        msg.has_lsn = 1;
        msg.lsn = s->next_lsn;
        msg.prefix = "tidemark";
        msg.has_content = 1;
        msg.content.len = gen_value(r, content, sizeof content);
        msg.content.data = content;
        rec.body_case = TIDEMARK__RECORD__BODY_MESSAGE;
        rec.message = &msg;
    }
    tm_error err;
    ck_assert_msg(tm_writer_put_standalone(w, &rec, &err) == 0, "put standalone: %s", err.msg);
    record(s, &rec, -1, 0, 0);
}

static void put_member(tm_writer *w, tmt_stream *s, tmt_rng *r, size_t max_value, uint64_t lsn,
                       int64_t time)
{
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    Tidemark__LogicalMessage msg = TIDEMARK__LOGICAL_MESSAGE__INIT;
    tuple_buf oldt = {0}, newt = {0};
    unsigned char content[128];
    uint64_t k = tmt_below(r, 40);
    if (k == 0) {
        msg.has_transactional = 1;
        msg.transactional = 1;
        msg.has_lsn = 1;
        msg.lsn = lsn - 1;
        msg.prefix = "tidemark";
        msg.has_content = 1;
        msg.content.len = gen_value(r, content, sizeof content);
        msg.content.data = content;
        rec.body_case = TIDEMARK__RECORD__BODY_MESSAGE;
        rec.message = &msg;
    } else {
        unsigned which;
        do
            which = (unsigned)tmt_below(r, 8);
        while (!s->rel_version[which]);
        unsigned ncols = s->rel_ncols[which];
        ch.has_relation_oid = 1;
        ch.relation_oid = 16384 + which;
        ch.has_relation_version = 1;
        ch.relation_version = s->rel_version[which];
        ch.has_op = 1;
        uint64_t op = tmt_below(r, 50);
        if (op == 0) {
            ch.op = TIDEMARK__CHANGE__OP__TRUNCATE;
            ch.has_truncate_flags = 1;
            ch.truncate_flags = (uint32_t)tmt_below(r, 4);
        } else if (op < 15) {
            ch.op = TIDEMARK__CHANGE__OP__INSERT;
            gen_tuple(r, &newt, ncols, max_value, false);
            ch.new_tuple = &newt.t;
        } else if (op < 42) {
            ch.op = TIDEMARK__CHANGE__OP__UPDATE;
            bool full = tmt_below(r, 5) != 0;
            if (full || tmt_below(r, 2)) {
                ch.has_old_kind = 1;
                ch.old_kind = full ? 'O' : 'K';
                gen_tuple(r, &oldt, ncols, max_value, false);
                ch.old_tuple = &oldt.t;
            }
            gen_tuple(r, &newt, ncols, max_value, ch.old_tuple != NULL);
            ch.new_tuple = &newt.t;
        } else {
            ch.op = TIDEMARK__CHANGE__OP__DELETE;
            ch.has_old_kind = 1;
            ch.old_kind = tmt_below(r, 4) ? 'O' : 'K';
            gen_tuple(r, &oldt, ncols, max_value, false);
            ch.old_tuple = &oldt.t;
        }
        rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
        rec.change = &ch;
    }
    tm_error err;
    ck_assert_msg(tm_writer_put(w, &rec, &err) == 0, "put: %s", err.msg);
    record(s, &rec, s->ntx, lsn, time);
    free(oldt.data);
    free(newt.data);
}

void tmt_put_tx(tm_writer *w, tmt_stream *s, tmt_rng *r, unsigned n, size_t max_value)
{
    bool any = false;
    for (int i = 0; i < 8; i++)
        any |= s->rel_version[i] != 0;
    if (!any)
        tmt_put_relation(w, s, r, 0);
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    s->next_lsn += 1 + tmt_below(r, 5000);
    s->next_time += (int64_t)tmt_below(r, 1000000);
    b.has_xid = 1;
    b.xid = (uint32_t)(700 + s->ntx);
    b.has_commit_lsn = 1;
    b.commit_lsn = s->next_lsn;
    b.has_end_lsn = 1;
    b.end_lsn = s->next_lsn + 1 + tmt_below(r, 200);
    b.has_commit_time = 1;
    b.commit_time = s->next_time;
    if (s->jitter_time)
        b.commit_time -= (int64_t)tmt_below(r, 3000000);
    if (tmt_below(r, 10) == 0) {
        b.origin = "pg_1234";
        b.has_origin_lsn = 1;
        b.origin_lsn = s->next_lsn - 17;
    }
    b.has_n_records = 1;
    b.n_records = n;
    if (tmt_below(r, 30) == 0) {
        b.has_snapshot = 1;
        b.snapshot = 1;
    }
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_BEGIN;
    rec.begin = &b;
    tm_error err;
    ck_assert_msg(tm_writer_begin_tx(w, &b, &err) == 0, "begin: %s", err.msg);
    record(s, &rec, s->ntx, b.commit_lsn, b.commit_time);
    for (unsigned i = 0; i < n; i++)
        put_member(w, s, r, max_value, b.commit_lsn, b.commit_time);
    ck_assert_msg(tm_writer_end_tx(w, &err) == 0, "end: %s", err.msg);
    s->ntx++;
}

void tmt_put_relation_record(tm_writer *w, Tidemark__Relation *rel)
{
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
    rec.relation = rel;
    tm_error err;
    ck_assert_msg(tm_writer_put_standalone(w, &rec, &err) == 0, "put relation: %s", err.msg);
}

void tmt_put_message(tm_writer *w, const char *prefix, const void *content, size_t len)
{
    Tidemark__LogicalMessage m = TIDEMARK__LOGICAL_MESSAGE__INIT;
    m.prefix = (char *)prefix;
    m.has_content = content != NULL;
    m.content.data = (uint8_t *)content;
    m.content.len = len;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_MESSAGE;
    rec.message = &m;
    tm_error err;
    ck_assert_msg(tm_writer_put(w, &rec, &err) == 0, "%s", err.msg);
}

size_t tmt_tx_end_index(const tmt_stream *s, long tx)
{
    size_t end = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].tx == tx)
            end = i + 1;
    return end;
}

/* tmt_cut_lsn (by_time false) or tmt_cut_time. */
static size_t cut_below(const tmt_stream *s, bool by_time, uint64_t lsn, int64_t t)
{
    size_t cut = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].tx >= 0 && (by_time ? s->v[i].time < t : s->v[i].lsn < lsn))
            cut = i + 1;
    return cut;
}

size_t tmt_cut_lsn(const tmt_stream *s, uint64_t lsn)
{
    return cut_below(s, false, lsn, 0);
}

size_t tmt_cut_time(const tmt_stream *s, int64_t t)
{
    return cut_below(s, true, 0, t);
}

/* ---- comparing -------------------------------------------------------------- */

#define DIFF(...)                                                                                  \
    do {                                                                                           \
        snprintf(why, whylen, __VA_ARGS__);                                                        \
        return false;                                                                              \
    } while (0)

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool bin_eq(protobuf_c_boolean ha, ProtobufCBinaryData a, protobuf_c_boolean hb,
                   ProtobufCBinaryData b)
{
    return ha == hb && a.len == b.len && (a.len == 0 || !memcmp(a.data, b.data, a.len));
}

static bool tuple_eq(const Tidemark__Tuple *a, const Tidemark__Tuple *b, char *why, size_t whylen,
                     const char *which)
{
    if (!a || !b) {
        if (a != b)
            DIFF("%s tuple present on one side only", which);
        return true;
    }
    if (!bin_eq(a->has_kinds, a->kinds, b->has_kinds, b->kinds))
        DIFF("%s tuple kinds differ", which);
    if (a->n_lengths != b->n_lengths ||
        (a->n_lengths && memcmp(a->lengths, b->lengths, a->n_lengths * sizeof *a->lengths)))
        DIFF("%s tuple lengths differ", which);
    if (!bin_eq(a->has_data, a->data, b->has_data, b->data))
        DIFF("%s tuple data differs", which);
    return true;
}

#define FIELD(x, y, f)                                                                             \
    if ((x)->has_##f != (y)->has_##f || (x)->f != (y)->f)                                          \
    DIFF("field " #f " differs")

bool tmt_record_equal(const Tidemark__Record *a, const Tidemark__Record *b, char *why,
                      size_t whylen)
{
    if (a->body_case != b->body_case)
        DIFF("record kinds differ (%d vs %d)", a->body_case, b->body_case);
    switch (a->body_case) {
    case TIDEMARK__RECORD__BODY_BEGIN: {
        const Tidemark__TxBegin *x = a->begin, *y = b->begin;
        FIELD(x, y, xid);
        FIELD(x, y, commit_lsn);
        FIELD(x, y, end_lsn);
        FIELD(x, y, commit_time);
        FIELD(x, y, origin_lsn);
        FIELD(x, y, n_records);
        FIELD(x, y, snapshot);
        FIELD(x, y, large_change_rows);
        if (!str_eq(x->origin, y->origin))
            DIFF("origin differs");
        return true;
    }
    case TIDEMARK__RECORD__BODY_CHANGE: {
        const Tidemark__Change *x = a->change, *y = b->change;
        FIELD(x, y, op);
        FIELD(x, y, relation_oid);
        FIELD(x, y, relation_version);
        FIELD(x, y, old_kind);
        FIELD(x, y, truncate_flags);
        return tuple_eq(x->old_tuple, y->old_tuple, why, whylen, "old") &&
               tuple_eq(x->new_tuple, y->new_tuple, why, whylen, "new");
    }
    case TIDEMARK__RECORD__BODY_RELATION: {
        const Tidemark__Relation *x = a->relation, *y = b->relation;
        FIELD(x, y, oid);
        FIELD(x, y, version);
        FIELD(x, y, replica_identity);
        FIELD(x, y, filenode);
        FIELD(x, y, lsn);
        if (!str_eq(x->namespace_, y->namespace_) || !str_eq(x->name, y->name))
            DIFF("relation name differs");
        if (x->n_columns != y->n_columns)
            DIFF("column counts differ");
        for (size_t i = 0; i < x->n_columns; i++) {
            const Tidemark__Column *c = x->columns[i], *d = y->columns[i];
            FIELD(c, d, type_oid);
            FIELD(c, d, typmod);
            FIELD(c, d, replica_key);
            FIELD(c, d, pk_position);
            FIELD(c, d, not_null);
            FIELD(c, d, has_missing);
            if (!str_eq(c->name, d->name) || !str_eq(c->type_name, d->type_name))
                DIFF("column %zu names differ", i);
            if (!bin_eq(c->has_missing_value, c->missing_value, d->has_missing_value,
                        d->missing_value))
                DIFF("column %zu missing values differ", i);
        }
        return true;
    }
    case TIDEMARK__RECORD__BODY_MESSAGE: {
        const Tidemark__LogicalMessage *x = a->message, *y = b->message;
        FIELD(x, y, transactional);
        FIELD(x, y, lsn);
        if (!str_eq(x->prefix, y->prefix))
            DIFF("message prefix differs");
        if (!bin_eq(x->has_content, x->content, y->has_content, y->content))
            DIFF("message content differs");
        return true;
    }
    case TIDEMARK__RECORD__BODY_GAP: {
        const Tidemark__Gap *x = a->gap, *y = b->gap;
        FIELD(x, y, lsn);
        FIELD(x, y, time);
        if (!str_eq(x->reason, y->reason))
            DIFF("gap reason differs");
        return true;
    }
    default:
        DIFF("unexpected record kind %d", a->body_case);
    }
}

static Tidemark__Record *unpack(const tmt_rec *t)
{
    Tidemark__Record *r = tidemark__record__unpack(NULL, t->len, t->packed);
    ck_assert(r != NULL);
    return r;
}

/* A Relation equal to one written before position i. */
static bool is_repeat(const tmt_stream *s, size_t i, const Tidemark__Record *rec)
{
    char why[128];
    for (size_t j = i; j-- > 0;) {
        if (s->v[j].body != TIDEMARK__RECORD__BODY_RELATION)
            continue;
        Tidemark__Record *e = unpack(&s->v[j]);
        bool eq = tmt_record_equal(e, rec, why, sizeof why);
        tidemark__record__free_unpacked(e, NULL);
        if (eq)
            return true;
    }
    return false;
}

static size_t check_range(tm_reader *rd, const tmt_stream *s, size_t from, size_t to, bool to_end)
{
    size_t i = from, repeats = 0;
    char why[256] = "";
    while (to_end || i < to) {
        const Tidemark__Record *rec;
        tm_error err;
        int rc = tm_reader_next(rd, &rec, &err);
        ck_assert_msg(rc >= 0, "reader failed at expected record %zu: %s", i, err.msg);
        if (rc == 0)
            break;
        if (i < to) {
            Tidemark__Record *e = unpack(&s->v[i]);
            bool eq = tmt_record_equal(e, rec, why, sizeof why);
            tidemark__record__free_unpacked(e, NULL);
            if (eq) {
                i++;
                continue;
            }
        }
        if (rec->body_case == TIDEMARK__RECORD__BODY_RELATION && is_repeat(s, i, rec)) {
            repeats++;
            continue;
        }
        ck_abort_msg("record %zu (of %zu..%zu) differs: %s", i, from, to, why);
    }
    ck_assert_msg(i == to, "reader ended at record %zu, expected %zu (from %zu)", i, to, from);
    return repeats;
}

size_t tmt_check_read(tm_reader *rd, const tmt_stream *s, size_t from, size_t to)
{
    return check_range(rd, s, from, to, true);
}

void tmt_check_prefix(tm_reader *rd, const tmt_stream *s, size_t from, size_t to)
{
    check_range(rd, s, from, to, false);
}

void tmt_collect(tm_reader *rd, tmt_got *g)
{
    memset(g, 0, sizeof *g);
    for (;;) {
        const Tidemark__Record *rec;
        tm_error err;
        int rc = tm_reader_next(rd, &rec, &err);
        ck_assert_msg(rc >= 0, "reader failed: %s", err.msg);
        if (rc == 0)
            break;
        uint64_t lsn = 0;
        int64_t t = 0;
        if (rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
            lsn = rec->begin->commit_lsn;
            t = rec->begin->commit_time;
        }
        push_rec(&g->v, &g->n, &g->cap, rec, -1, lsn, t);
    }
}

void tmt_got_free(tmt_got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].packed);
    free(g->v);
    memset(g, 0, sizeof *g);
}

/* The Relation records at the start of segment segno. */
size_t tmt_preamble_oids(const char *dir, uint64_t segno, uint32_t *oids, size_t max)
{
    char *p = tmt_seg_path(dir, segno);
    int fd = open(p, O_RDONLY);
    free(p);
    ck_assert(fd >= 0);
    tm_seg_scan sc;
    tm_error err;
    ck_assert(tm_segment_scan(fd, segno, true, &sc, &err) == 0);
    ck_assert(!sc.damaged && sc.frames.n > 0);
    tm_buf io = {0}, raw = {0};
    char why[256];
    tm_frame_hdr h;
    ck_assert(tm_frame_read(fd, sc.frames.v[0].offset, &sc.frames.v[0].h, &h, &io, &raw, why,
                            sizeof why, &err) == 0);
    size_t pos = 0, len, n = 0;
    const unsigned char *rp;
    while (tm_frame_next_record(raw.p, raw.len, &pos, &rp, &len, why, sizeof why) == 1) {
        Tidemark__Record *rec = tidemark__record__unpack(NULL, len, rp);
        ck_assert(rec != NULL);
        bool rel = rec->body_case == TIDEMARK__RECORD__BODY_RELATION;
        if (rel && n < max)
            oids[n++] = rec->relation->oid;
        tidemark__record__free_unpacked(rec, NULL);
        if (!rel)
            break;
    }
    tm_buf_free(&io);
    tm_buf_free(&raw);
    tm_seg_scan_free(&sc);
    close(fd);
    return n;
}

/* ---- processes ---------------------------------------------------------------- */

int tmt_run(char **out, const char *arg, ...)
{
    const char *argv[32];
    int argc = 0;
    argv[argc++] = TM_BINARY;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    int pfd[2];
    ck_assert(pipe(pfd) == 0);
    pid_t pid = tm_fork_child();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(pfd[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2) {
            char *grown = realloc(buf, cap *= 2);
            ck_assert_msg(grown != NULL, "out of memory");
            buf = grown;
        }
    }
    buf[len] = '\0';
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void tmt_stderr_begin(tmt_capture *c)
{
    fflush(stderr);
    snprintf(c->path, sizeof c->path, "/tmp/tidemark-stderr-XXXXXX");
    c->fd = mkstemp(c->path);
    ck_assert(c->fd >= 0);
    c->saved = dup(2);
    dup2(c->fd, 2);
}

char *tmt_stderr_end(tmt_capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    close(c->fd);
    size_t len;
    char *p = (char *)tmt_slurp(c->path, &len);
    p[len] = '\0';
    unlink(c->path);
    return p;
}

char *tmt_journal_path(void)
{
    char *dir = tmt_tempdir();
    char *j = tmt_path(dir, "journal");
    free(dir);
    return j;
}

void tmt_journal_remove(char *journal)
{
    char *slash = strrchr(journal, '/');
    *slash = '\0';
    tmt_tempdir_remove(journal);
}
