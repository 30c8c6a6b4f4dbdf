/* Writes a synthetic journal shaped like what capture writes for a busy
 * preference table, for profiling replay (perf, callgrind) without a
 * PostgreSQL: a base snapshot, then transactions of 1-8 changes in commit
 * order. public.prefs (user_id int, key text, value jsonb, updated_at
 * timestamptz, PRIMARY KEY (user_id, key), REPLICA IDENTITY FULL) gets
 * inserts, updates (old row 'O', unchanged columns as 's', like capture's
 * encoder) and deletes; public.audit (id bigint PRIMARY KEY, payload text)
 * gets one insert in every fifth transaction: a table replay skips.
 *
 * Usage: synth_journal DIR CHANGES [USERS] [SEED] [EXPECTED.csv]
 * Prints the commit time of the middle transaction (a T to replay at);
 * with EXPECTED.csv, also writes the CSV replay must produce for prefs at
 * that T (the generator's own model of the table), as a check. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scripts/bench/bench_journal.h"
#include "scripts/bench/bench_util.h"
#include "store/journal/journal.h"
#include "replay/out/out_csv.h"
#include "store/common/tm_time.h"
#include "capture/decode/tuple_encode.h"

#define NKEYS 10
#define PREFS_OID 16384u
#define AUDIT_OID 16390u

static uint64_t rng_s = 42;
static uint64_t rnd(void)
{
    return bench_splitmix(&rng_s);
}

static const char *keys[NKEYS] = {"theme", "lang",    "digest", "ai.model", "ai.temperature",
                                  "tz",    "density", "beta",   "sounds",   "notifications"};

typedef struct cell {
    uint32_t rev; /* 0 = absent */
    int64_t at;
} cell;

static cell *cells;     /* users * NKEYS */
static cell *mid_cells; /* the same at the middle transaction */
static tm_tuple_enc enc_old, enc_new;
static char buf_old[4][128], buf_new[4][128];

static void col(Tidemark__Column *c, const char *name, uint32_t oid, const char *type, uint32_t pk)
{
    tidemark__column__init(c);
    c->name = (char *)name;
    c->has_type_oid = c->has_pk_position = c->has_replica_key = 1;
    c->type_oid = oid;
    c->type_name = (char *)type;
    c->pk_position = pk;
    c->replica_key = 1;
}

static int put_relations(tm_writer *w, tm_error *err)
{
    Tidemark__Column pc[4], ac[2];
    Tidemark__Column *pp[4] = {&pc[0], &pc[1], &pc[2], &pc[3]}, *ap[2] = {&ac[0], &ac[1]};
    col(&pc[0], "user_id", 23, "integer", 1);
    col(&pc[1], "key", 25, "text", 2);
    col(&pc[2], "value", 3802, "jsonb", 0);
    col(&pc[3], "updated_at", 1184, "timestamp with time zone", 0);
    col(&ac[0], "id", 20, "bigint", 1);
    col(&ac[1], "payload", 25, "text", 0);
    Tidemark__Relation r[2];
    for (int i = 0; i < 2; i++) {
        tidemark__relation__init(&r[i]);
        r[i].has_oid = r[i].has_version = r[i].has_replica_identity = 1;
        r[i].version = 1;
        r[i].namespace_ = "public";
        r[i].replica_identity = 'f';
    }
    r[0].oid = PREFS_OID;
    r[0].name = "prefs";
    r[0].n_columns = 4;
    r[0].columns = pp;
    r[1].oid = AUDIT_OID;
    r[1].name = "audit";
    r[1].n_columns = 2;
    r[1].columns = ap;
    if (bench_put_relation(w, &r[0], err) != 0 || bench_put_relation(w, &r[1], err) != 0)
        return -1;
    return 0;
}

/* The text values of prefs row (u, k) at revision rev. */
static void prefs_row(char b[4][128], tm_value v[4], uint32_t u, int k, uint32_t rev, int64_t at)
{
    static const char *themes[] = {"dark", "light", "system"};
    int n0 = snprintf(b[0], 128, "%u", u);
    int n1 = snprintf(b[1], 128, "%s", keys[k]);
    int n2 = snprintf(b[2], 128, "{\"v\": %u, \"theme\": \"%s\", \"on\": %s}", rev, themes[rev % 3],
                      rev % 2 ? "true" : "false");
    char tb[TM_TIME_BUFLEN];
    int n3 = snprintf(b[3], 128, "%s", tm_time_format(at, tb));
    int n[4] = {n0, n1, n2, n3};
    for (int i = 0; i < 4; i++)
        v[i] = (tm_value){b[i], (uint32_t)n[i], TM_KIND_TEXT};
}

static int put_change(tm_writer *w, int op, uint32_t oid, const tm_value *old, uint32_t nold,
                      const tm_value *nw, uint32_t nnew, tm_error *err)
{
    Tidemark__Tuple ot, nt;
    if (old && tm_tuple_encode(&enc_old, old, nold, NULL, 0, &ot, err) != 0)
        return -1;
    if (nw && tm_tuple_encode(&enc_new, nw, nnew, old, old ? nold : 0, &nt, err) != 0)
        return -1;
    return bench_put_change(w, op, oid, old ? &ot : NULL, nw ? &nt : NULL, err);
}

/* Key order: user_id numerically, then key bytewise. */
static int key_order[NKEYS];
static int cmp_key(const void *a, const void *b)
{
    return strcmp(keys[*(const int *)a], keys[*(const int *)b]);
}

static int write_expected(const char *path, uint32_t users)
{
    FILE *f = fopen(path, "w");
    tm_out o;
    tm_error err;
    if (!f || tm_out_init_file(&o, f, &err) != 0)
        return -1;
    static const tm_coldesc cols[4] = {{"user_id", 23, "integer"},
                                       {"key", 25, "text"},
                                       {"value", 3802, "jsonb"},
                                       {"updated_at", 1184, "timestamp with time zone"}};
    tm_csv_header(&o, cols, 4);
    for (int k = 0; k < NKEYS; k++)
        key_order[k] = k;
    qsort(key_order, NKEYS, sizeof key_order[0], cmp_key);
    for (uint32_t u = 1; u <= users; u++)
        for (int j = 0; j < NKEYS; j++) {
            const cell *c = &mid_cells[(size_t)(u - 1) * NKEYS + (size_t)key_order[j]];
            if (!c->rev)
                continue;
            tm_value v[4];
            prefs_row(buf_new, v, u, key_order[j], c->rev, c->at);
            tm_csv_row(&o, v, 4, &err);
        }
    int rc = tm_out_flush(&o, &err);
    tm_out_free(&o);
    return fclose(f) == 0 && rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: synth_journal DIR CHANGES [USERS] [SEED]\n");
        return 2;
    }
    const char *dir = argv[1];
    uint64_t nchanges = strtoull(argv[2], NULL, 10);
    uint32_t users = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 100000;
    if (argc > 4)
        rng_s = strtoull(argv[4], NULL, 10);
    cells = calloc((size_t)users * NKEYS, sizeof *cells);
    const char *expected = argc > 5 ? argv[5] : NULL;
    if (expected)
        mid_cells = calloc((size_t)users * NKEYS, sizeof *mid_cells);
    tm_writer *w;
    tm_error err;
    tm_writer_options opt = {0};
    if (!cells || tm_writer_open(dir, &opt, &w, &err) != 0) {
        fprintf(stderr, "synth_journal: %s\n", cells ? err.msg : "out of memory");
        return 1;
    }
    uint64_t lsn = 0x1000000;
    int64_t t = INT64_C(1793000000000000);
    if (put_relations(w, &err) != 0)
        goto fail;

    /* Base snapshot: half of the cells exist. */
    uint64_t nsnap = 0;
    for (size_t i = 0; i < (size_t)users * NKEYS; i++)
        if (rnd() % 2) {
            cells[i] = (cell){1, t - 1000000};
            nsnap++;
        }
    Tidemark__TxBegin hdr = TIDEMARK__TX_BEGIN__INIT;
    hdr.has_commit_lsn = hdr.has_end_lsn = hdr.has_commit_time = hdr.has_n_records = 1;
    hdr.has_snapshot = hdr.snapshot = 1;
    hdr.commit_lsn = hdr.end_lsn = lsn;
    hdr.commit_time = t;
    hdr.n_records = nsnap + 2;
    if (tm_writer_begin_tx(w, &hdr, &err) != 0)
        goto fail;
    if (put_change(w, TIDEMARK__CHANGE__OP__TRUNCATE, PREFS_OID, NULL, 0, NULL, 0, &err) != 0 ||
        put_change(w, TIDEMARK__CHANGE__OP__TRUNCATE, AUDIT_OID, NULL, 0, NULL, 0, &err) != 0)
        goto fail;
    for (size_t i = 0; i < (size_t)users * NKEYS; i++) {
        if (!cells[i].rev)
            continue;
        tm_value v[4];
        prefs_row(buf_new, v, (uint32_t)(i / NKEYS + 1), (int)(i % NKEYS), 1, cells[i].at);
        if (put_change(w, TIDEMARK__CHANGE__OP__INSERT, PREFS_OID, NULL, 0, v, 4, &err) != 0)
            goto fail;
    }
    if (tm_writer_end_tx(w, &err) != 0)
        goto fail;

    uint64_t done = 0, ntx = 0, audit_id = 0;
    int64_t mid_time = 0;
    while (done < nchanges) {
        uint32_t n = 1 + (uint32_t)(rnd() % 8);
        bool audit = ntx % 5 == 0;
        lsn += 200 + rnd() % 4000;
        t += 50 + (int64_t)(rnd() % 500);
        hdr = (Tidemark__TxBegin)TIDEMARK__TX_BEGIN__INIT;
        hdr.has_xid = hdr.has_commit_lsn = hdr.has_end_lsn = hdr.has_commit_time = 1;
        hdr.has_n_records = 1;
        hdr.xid = (uint32_t)(1000 + ntx);
        hdr.commit_lsn = lsn;
        hdr.end_lsn = lsn + 48;
        hdr.commit_time = t;
        hdr.n_records = n + (audit ? 1 : 0);
        bool at_mid = done < nchanges / 2;
        if (at_mid)
            mid_time = t;
        if (tm_writer_begin_tx(w, &hdr, &err) != 0)
            goto fail;
        for (uint32_t k = 0; k < n; k++) {
            size_t i = (size_t)(rnd() % ((uint64_t)users * NKEYS));
            uint32_t u = (uint32_t)(i / NKEYS + 1);
            int key = (int)(i % NKEYS);
            tm_value ov[4], nv[4];
            int rc;
            if (!cells[i].rev) {
                cells[i] = (cell){1, t};
                prefs_row(buf_new, nv, u, key, 1, t);
                rc = put_change(w, TIDEMARK__CHANGE__OP__INSERT, PREFS_OID, NULL, 0, nv, 4, &err);
            } else if (rnd() % 8 == 0) {
                prefs_row(buf_old, ov, u, key, cells[i].rev, cells[i].at);
                cells[i].rev = 0;
                rc = put_change(w, TIDEMARK__CHANGE__OP__DELETE, PREFS_OID, ov, 4, NULL, 0, &err);
            } else {
                prefs_row(buf_old, ov, u, key, cells[i].rev, cells[i].at);
                cells[i].rev++;
                cells[i].at = t;
                prefs_row(buf_new, nv, u, key, cells[i].rev, t);
                rc = put_change(w, TIDEMARK__CHANGE__OP__UPDATE, PREFS_OID, ov, 4, nv, 4, &err);
            }
            if (rc != 0)
                goto fail;
        }
        if (audit) {
            char idb[24], pay[64];
            int a = snprintf(idb, sizeof idb, "%" PRIu64, ++audit_id);
            int b = snprintf(pay, sizeof pay, "login from 10.0.%u.%u", (unsigned)(rnd() % 256),
                             (unsigned)(rnd() % 256));
            tm_value v[2] = {{idb, (uint32_t)a, TM_KIND_TEXT}, {pay, (uint32_t)b, TM_KIND_TEXT}};
            if (put_change(w, TIDEMARK__CHANGE__OP__INSERT, AUDIT_OID, NULL, 0, v, 2, &err) != 0)
                goto fail;
        }
        if (tm_writer_end_tx(w, &err) != 0)
            goto fail;
        if (at_mid && mid_cells)
            memcpy(mid_cells, cells, (size_t)users * NKEYS * sizeof *cells);
        done += hdr.n_records;
        ntx++;
    }
    tm_meta meta = {.format_version = TM_JOURNAL_FORMAT_VERSION,
                    .system_identifier = 7000000000000000001ull,
                    .start_lsn = 0x1000000,
                    .created_at = INT64_C(1793000000000000)};
    snprintf(meta.database, sizeof meta.database, "synth");
    snprintf(meta.slot, sizeof meta.slot, "tidemark_synth");
    snprintf(meta.publication, sizeof meta.publication, "tidemark");
    if (tm_meta_write(dir, &meta, &err) != 0)
        goto fail;
    if (tm_writer_close(w, &err) != 0) {
        fprintf(stderr, "synth_journal: %s\n", err.msg);
        return 1;
    }
    char tb[TM_TIME_BUFLEN];
    printf("%s\n", tm_time_format(mid_time, tb));
    if (expected && write_expected(expected, users) != 0) {
        fprintf(stderr, "synth_journal: cannot write %s\n", expected);
        return 1;
    }
    fprintf(stderr,
            "synth_journal: %" PRIu64 " snapshot rows, %" PRIu64 " changes in %" PRIu64
            " transactions\n",
            nsnap, done, ntx);
    tm_tuple_enc_free(&enc_old);
    tm_tuple_enc_free(&enc_new);
    free(cells);
    free(mid_cells);
    return 0;
fail:
    fprintf(stderr, "synth_journal: %s\n", err.msg);
    tm_writer_close(w, &err);
    return 1;
}
