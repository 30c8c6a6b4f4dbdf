/* Row counts (replay/keys/rowcount.h): the rows each TRUNCATE removed are
 * the rows the state engine holds for the table just before it, on seeded
 * random workloads (a keyed table and one without a key whose equal rows
 * repeat; inserts, updates, deletes, TRUNCATEs, snapshots); counting
 * resumes from the saved file; a damaged file is counted again; verify's
 * check names what is wrong. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/engine/runner.h"
#include "replay/keys/rowcount.h"
#include "tests/harness/support_log.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

#define KEYED 16500
#define BAG 16501
#define MAXLIVE 64

typedef struct truncation {
    uint64_t lsn;
    uint32_t oid;
} truncation;

typedef struct workload {
    tlj j;
    tmt_rng rng;
    int keyed[MAXLIVE], nkeyed, next_id;
    int bag[MAXLIVE], nbag; /* values 0..3: equal rows repeat */
    truncation tr[256];
    size_t ntr;
} workload;

static void val(char *buf, size_t len, int v)
{
    snprintf(buf, len, "%d", v);
}

static void keyed_op(workload *w)
{
    char id[16];
    uint64_t r = tmt_below(&w->rng, 10);
    if (w->nkeyed == 0 || (r < 5 && w->nkeyed < MAXLIVE)) {
        val(id, sizeof id, ++w->next_id);
        tlj_insert(&w->j, KEYED, 1, 2, (const char *[]){id, "x"});
        w->keyed[w->nkeyed++] = w->next_id;
        return;
    }
    int i = (int)tmt_below(&w->rng, (uint64_t)w->nkeyed);
    val(id, sizeof id, w->keyed[i]);
    if (r < 8) {
        tlj_update(&w->j, KEYED, 1, 'O', 2, (const char *[]){id, "x"}, (const char *[]){id, "x"});
        return;
    }
    tlj_delete(&w->j, KEYED, 1, 'O', 2, (const char *[]){id, "x"});
    w->keyed[i] = w->keyed[--w->nkeyed];
}

static void bag_op(workload *w)
{
    char v[16];
    if (w->nbag == 0 || (tmt_below(&w->rng, 3) > 0 && w->nbag < MAXLIVE)) {
        int x = (int)tmt_below(&w->rng, 4);
        val(v, sizeof v, x);
        tlj_insert(&w->j, BAG, 1, 1, (const char *[]){v});
        w->bag[w->nbag++] = x;
        return;
    }
    int i = (int)tmt_below(&w->rng, (uint64_t)w->nbag);
    val(v, sizeof v, w->bag[i]);
    tlj_delete(&w->j, BAG, 1, 'O', 1, (const char *[]){v});
    w->bag[i] = w->bag[--w->nbag];
}

/* A TRUNCATE first in its transaction, so that the state just before it
 * is the state at the commit before. */
static void truncate_first(workload *w, uint32_t oid)
{
    tlj_truncate(&w->j, oid, 1, 0);
    w->tr[w->ntr++] = (truncation){w->j.lsn + 0x100, oid}; /* tlj_commit's LSN */
    if (oid == KEYED)
        w->nkeyed = 0;
    else
        w->nbag = 0;
}

static void transactions(workload *w, uint32_t xid0, int n)
{
    for (int t = 0; t < n; t++) {
        tlj_begin(&w->j, xid0 + (uint32_t)t);
        if (w->ntr < 256 && tmt_below(&w->rng, 12) == 0)
            truncate_first(w, tmt_below(&w->rng, 2) ? KEYED : BAG);
        int changes = 1 + (int)tmt_below(&w->rng, 6);
        for (int c = 0; c < changes; c++)
            if (tmt_below(&w->rng, 2))
                keyed_op(w);
            else
                bag_op(w);
        tlj_commit(&w->j, 1000);
        if (tmt_below(&w->rng, 8) == 0)
            tlj_sync(&w->j);
    }
}

static void start(workload *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    w->rng.s = seed;
    tlj_open(&w->j, 0);
    tlj_relation(&w->j, KEYED, 1, "public", "keyed", "id:int4:pk,v:text");
    tlj_relation(&w->j, BAG, 1, "public", "bag", "v:int4");
    tlj_begin(&w->j, 1);
    tlj_snapshot(&w->j);
    tlj_truncate(&w->j, KEYED, 1, 0);
    tlj_truncate(&w->j, BAG, 1, 0);
    tlj_commit(&w->j, 1000);
}

static bool select_all(void *arg, const tm_version *v)
{
    (void)arg;
    (void)v;
    return true;
}

/* The state engine's rows of oid after every transaction committed before
 * lsn. */
static uint64_t state_rows(const char *dir, uint64_t lsn, uint32_t oid)
{
    tm_error err;
    tm_state *s = tm_state_new(select_all, NULL, &err);
    ck_assert_ptr_nonnull(s);
    tm_target t = {.by_lsn = true, .lsn = lsn - 1};
    tm_run_info info;
    ck_assert_msg(tm_run_to(dir, s, &t, NULL, &info, &err) == 0, "%s", err.msg);
    uint64_t n = 0;
    for (size_t i = 0; i < tm_state_ntables(s); i++)
        if (tm_state_table(s, i)->oid == oid)
            n = tm_state_table(s, i)->nrows;
    tm_state_free(s);
    return n;
}

static void check_all(workload *w)
{
    tm_error err;
    tm_rowcount *rc = tm_rowcount_open(w->j.dir, &err);
    ck_assert_ptr_nonnull(rc);
    for (size_t i = 0; i < w->ntr; i++) {
        uint64_t rows = 0;
        bool known = false;
        int found = tm_rowcount_truncated(rc, w->tr[i].lsn, w->tr[i].oid, 0, &rows, &known, &err);
        ck_assert_msg(found == 1, "truncate %zu: %d %s", i, found, found < 0 ? err.msg : "");
        ck_assert(known);
        ck_assert_uint_eq(rows, state_rows(w->j.dir, w->tr[i].lsn, w->tr[i].oid));
    }
    tm_rowcount_free(rc);
}

START_TEST(truncate_counts_equal_the_state)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        workload w;
        start(&w, seed);
        transactions(&w, 10, 150);
        tlj_close(&w.j);
        check_all(&w);
        /* The journal grows; the saved counts go on from where they were. */
        size_t before = w.ntr;
        tlj_open2(&w.j, 0, 0, w.j.dir);
        transactions(&w, 1000, 150);
        tlj_close(&w.j);
        ck_assert_uint_gt(w.ntr, before);
        check_all(&w);
        tlj_destroy(&w.j);
    }
}
END_TEST

START_TEST(saved_damaged_and_verified)
{
    workload w;
    start(&w, 99);
    transactions(&w, 10, 100);
    tlj_close(&w.j);
    ck_assert_uint_gt(w.ntr, 2);
    tm_error err;
    tm_rowcount *rc = tm_rowcount_open(w.j.dir, &err);
    ck_assert_int_eq(tm_rowcount_update(rc, &err), 0);
    tm_rowcount_free(rc);
    char *path = tmt_path(w.j.dir, "rowcounts");
    tm_vresult res;
    ck_assert_int_eq(tm_rowcount_verify(path, &res, &err), 0);
    ck_assert_msg(!res.damaged && strstr(res.text, "row counts of 2 tables"), "%s", res.text);
    /* Only the workload's TRUNCATEs: a snapshot's are not. */
    char want[64];
    snprintf(want, sizeof want, ", %zu TRUNCATEs", w.ntr);
    ck_assert_msg(strstr(res.text, want), "%s (want %s)", res.text, want);

    /* A flipped byte: damaged for verify, counted again by readers. */
    size_t len;
    unsigned char *b = tmt_slurp(path, &len);
    b[40] ^= 1;
    tmt_spit(path, b, len);
    ck_assert_int_eq(tm_rowcount_verify(path, &res, &err), 0);
    ck_assert_msg(res.damaged && strstr(res.text, "checksum"), "%s", res.text);
    check_all(&w);
    /* Cut short. */
    tmt_spit(path, b, len / 2);
    ck_assert_int_eq(tm_rowcount_verify(path, &res, &err), 0);
    ck_assert(res.damaged);
    free(b);
    check_all(&w);
    /* A TRUNCATE the journal does not hold. */
    rc = tm_rowcount_open(w.j.dir, &err);
    uint64_t rows;
    bool known;
    ck_assert_int_eq(tm_rowcount_truncated(rc, w.tr[0].lsn, w.tr[0].oid, 1, &rows, &known, &err),
                     0);
    ck_assert_int_eq(tm_rowcount_truncated(rc, UINT64_MAX - 1, KEYED, 0, &rows, &known, &err), 0);
    tm_rowcount_free(rc);
    free(path);
    tlj_destroy(&w.j);
}
END_TEST

/* A transaction that the journal ends in the middle of (its last frame
 * torn) is not counted: not its TRUNCATE, not its rows. */
START_TEST(unfinished_transaction_not_counted)
{
    workload w;
    start(&w, 5);
    tlj_close(&w.j);
    tlj_open2(&w.j, 512, 0, w.j.dir); /* small frames: the big transaction spans several */
    transactions(&w, 10, 20);
    tlj_sync(&w.j);
    tlj_begin(&w.j, 500);
    truncate_first(&w, KEYED);
    for (int i = 0; i < 400; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", 100000 + i);
        tlj_insert(&w.j, KEYED, 1, 2, (const char *[]){id, "a longer value to fill frames"});
    }
    tlj_commit(&w.j, 1000);
    tlj_close(&w.j);
    char *seg = tmt_seg_path(w.j.dir, 1);
    size_t len;
    unsigned char *b = tmt_slurp(seg, &len);
    tmt_spit(seg, b, len - 64);
    free(b);
    free(seg);
    truncation big = w.tr[--w.ntr];
    check_all(&w);
    tm_error err;
    tm_rowcount *rc = tm_rowcount_open(w.j.dir, &err);
    uint64_t rows;
    bool known;
    ck_assert_int_eq(tm_rowcount_truncated(rc, big.lsn, KEYED, 0, &rows, &known, &err), 0);
    tm_rowcount_free(rc);
    char *path = tmt_path(w.j.dir, "rowcounts");
    tm_vresult res;
    ck_assert_int_eq(tm_rowcount_verify(path, &res, &err), 0);
    char want[64];
    snprintf(want, sizeof want, ", %zu TRUNCATEs", w.ntr);
    ck_assert_msg(strstr(res.text, want), "%s (want %s)", res.text, want);
    free(path);
    tlj_destroy(&w.j);
}
END_TEST

int main(void)
{
    return tm_check_main("rowcount", "core", 0,
                         TM_TESTS(truncate_counts_equal_the_state, saved_damaged_and_verified,
                                  unfinished_transaction_not_counted));
}
