/* Checkpoints: replay that starts from a checkpoint must give the same
 * bytes as replay from the base snapshot, at many LSNs and times, on random
 * journals with schema versions changing before and after checkpoints,
 * TRUNCATE, key changes, unchanged TOAST values resolved from checkpointed
 * rows, a keyless table with repeated rows, another table's changes, and
 * commit times out of LSN order (a checkpoint holding a transaction that
 * committed after T must not be used). Also: a damaged checkpoint is
 * skipped with a warning (loading it fails with TM_ERR_CORRUPT, a missing
 * one with TM_ERR_NOT_FOUND), and no checkpoint hides a gap. */
#include <check.h>
#include <lz4.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/engine/checkpoint.h"
#include "store/common/crc32c.h"
#include "replay/out/emit.h"
#include "store/journal/frame.h"
#include "store/journal/journal.h"
#include "store/common/le.h"
#include "replay/engine/rowset.h"
#include "replay/engine/runner.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "capture/decode/tuple_encode.h"
#include "tests/harness/support_journal.h"

#define PREFS 100u /* a int PRIMARY KEY, c text (dropped in v3), d int (added in v2, DEFAULT 7) */
#define BAG 200u   /* x text, y int: no key, rows repeat */
#define OTHER 300u /* never selected */
#define NA 40

static void put_rel(tm_writer *w, uint32_t oid, uint32_t version, uint64_t lsn)
{
    static const tmt_col key[] = {{"a", 23, 1, false, NULL}};
    tmt_jw_versioned_relation(w, oid, version, lsn,
                              oid == PREFS ? "prefs"
                              : oid == BAG ? "bag"
                                           : "other",
                              'f', key, oid == PREFS ? 1 : 0);
}

/* The generator's view of a prefs row. */
typedef struct prow {
    bool live, c_null, d_null;
    char c[40], d[16];
} prow;

static uint32_t prefs_vals(int a, const prow *p, int ver, char *ab, tm_value *v)
{
    uint32_t n = 0;
    snprintf(ab, 16, "%d", a);
    v[n++] = (tm_value){ab, (uint32_t)strlen(ab), 't'};
    if (ver < 3)
        v[n++] =
            p->c_null ? (tm_value){NULL, 0, 'n'} : (tm_value){p->c, (uint32_t)strlen(p->c), 't'};
    if (ver >= 2)
        v[n++] =
            p->d_null ? (tm_value){NULL, 0, 'n'} : (tm_value){p->d, (uint32_t)strlen(p->d), 't'};
    return n;
}

typedef struct txinfo {
    uint64_t lsn;
    int64_t time;
} txinfo;

#define NTX 300

/* A random journal in dir; tx[] gets each transaction's commit LSN and
 * time (tx[0] the base snapshot). Commit times jitter by up to +-2.5 ms
 * around 1 ms steps, so they are often out of LSN order. */
static void random_journal(const char *dir, uint64_t seed, txinfo *tx)
{
    tmt_rng r = {seed};
    tmt_jw j = {.lsn = 1000};
    int64_t t0 = 1700000000000000;
    tm_writer_options wo = {.frame_target = 2048};
    tmt_jw_open(&j, dir, &wo);
    prow p[NA] = {{0}};
    int bag[3] = {2, 0, 0}, version = 1;
    put_rel(j.w, PREFS, 1, j.lsn + 100);
    put_rel(j.w, BAG, 1, j.lsn + 100);
    put_rel(j.w, OTHER, 1, j.lsn + 100);
    int nsnap = 0;
    for (int a = 0; a < NA; a += 2) {
        p[a] = (prow){.live = true};
        snprintf(p[a].c, sizeof p[a].c, "base %d, \"toast\"", a);
        nsnap++;
    }
    tmt_jw_begin(&j, (uint64_t)nsnap + 2 + 2, true, t0);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, PREFS, 1, 0, NULL, 0, NULL, 0);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, BAG, 1, 0, NULL, 0, NULL, 0);
    for (int a = 0; a < NA; a++) {
        if (!p[a].live)
            continue;
        char ab[16];
        tm_value v[3];
        uint32_t n = prefs_vals(a, &p[a], 1, ab, v);
        tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, PREFS, 1, 0, NULL, 0, v, n);
    }
    for (int k = 0; k < 2; k++) {
        tm_value v[2] = {{"v0", 2, 't'}, {"0", 1, 't'}};
        tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, BAG, 1, 0, NULL, 0, v, 2);
    }
    tmt_jw_end(&j);
    tx[0] = (txinfo){j.lsn, j.time};
    for (int n = 1; n < NTX; n++) {
        if (n == 90 || n == 210) { /* schema changes between checkpoints */
            version++;
            put_rel(j.w, PREFS, (uint32_t)version, j.lsn + 100);
        }
        int nch = 1 + (int)tmt_below(&r, 4);
        int64_t t = t0 + n * 1000 + (int64_t)tmt_below(&r, 5001) - 2500;
        tmt_jw_begin(&j, (uint64_t)nch + 2, false, t);
        for (int c = 0; c < nch; c++) {
            int a = (int)tmt_below(&r, NA), what = (int)tmt_below(&r, 20);
            int dst = (int)tmt_below(&r, NA);
            prow *q = &p[a];
            char ob[16], nb[16];
            tm_value ov[3], nv[3];
            uint32_t no = prefs_vals(a, q, version, ob, ov), nn;
            if (what == 0 && n % 50 == 49) {
                tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, PREFS, (uint32_t)version, 0, NULL,
                              0, NULL, 0);
                for (int i = 0; i < NA; i++)
                    p[i].live = false;
            } else if (!q->live) {
                *q = (prow){.live = true, .c_null = what % 4 == 0, .d_null = what % 3 == 0};
                snprintf(q->c, sizeof q->c, "i%d.%d,\"x\"", n, c);
                snprintf(q->d, sizeof q->d, "%d", n);
                if (version < 2)
                    snprintf(q->d, sizeof q->d, "7"), q->d_null = false;
                nn = prefs_vals(a, q, version, nb, nv);
                tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, PREFS, (uint32_t)version, 0, NULL,
                              0, nv, nn);
            } else if (what < 4) {
                q->live = false;
                tmt_jw_change(&j, TIDEMARK__CHANGE__OP__DELETE, PREFS, (uint32_t)version, 'O', ov,
                              no, NULL, 0);
            } else if (what < 6 && !p[dst].live) { /* the key changes */
                p[dst] = *q;
                q->live = false;
                nn = prefs_vals(dst, &p[dst], version, nb, nv);
                tmt_jw_change(&j, TIDEMARK__CHANGE__OP__UPDATE, PREFS, (uint32_t)version, 'O', ov,
                              no, nv, nn);
            } else { /* d changes; c is left alone, sent as unchanged TOAST without an old image */
                bool old = what < 12;
                if (version >= 2) {
                    q->d_null = what % 5 == 0;
                    snprintf(q->d, sizeof q->d, "%d", n * 10 + c);
                } else {
                    q->c_null = false;
                    snprintf(q->c, sizeof q->c, "u%d.%d", n, c);
                }
                nn = prefs_vals(a, q, version, nb, nv);
                if (!old && version == 2 && !q->c_null)
                    nv[1] = (tm_value){NULL, 0, 'u'};
                tmt_jw_change(&j, TIDEMARK__CHANGE__OP__UPDATE, PREFS, (uint32_t)version,
                              old ? 'O' : 0, ov, no, nv, nn);
            }
        }
        int b = (int)tmt_below(&r, 3);
        char x[8], y[8];
        snprintf(x, sizeof x, "v%d", b);
        snprintf(y, sizeof y, "%d", b);
        tm_value v[2] = {{x, (uint32_t)strlen(x), 't'}, {y, (uint32_t)strlen(y), 't'}};
        if (bag[b] > 0 && tmt_below(&r, 2)) {
            bag[b]--;
            tmt_jw_change(&j, TIDEMARK__CHANGE__OP__DELETE, BAG, 1, 'O', v, 2, NULL, 0);
        } else {
            bag[b]++;
            tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, BAG, 1, 0, NULL, 0, v, 2);
        }
        tm_value ot[2] = {{"o", 1, 't'}, {"1", 1, 't'}};
        tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, OTHER, 1, 0, NULL, 0, ot, 2);
        tmt_jw_end(&j);
        tx[n] = (txinfo){j.lsn, j.time};
    }
    tmt_jw_close(&j);
}

static bool not_other(void *arg, const tm_version *v)
{
    (void)arg;
    return strcmp(v->relname, "other") != 0;
}

/* Both tables' CSV at t (one malloc'd string), and which checkpoint was
 * used; with logged, what the run logged (malloc'd). */
static char *replay_csv(const char *dir, const tm_target *t, bool ckpt, char **logged,
                        uint64_t *ckpt_lsn)
{
    tm_error err;
    tm_state *s = tm_state_new(not_other, NULL, &err);
    ck_assert_ptr_nonnull(s);
    tm_runner_opts o = {.use_checkpoints = ckpt};
    tm_run_info info;
    tmt_capture cap;
    if (logged)
        tmt_stderr_begin(&cap);
    int rc = tm_run_to_opts(dir, s, t, &o, &info, &err);
    if (logged)
        *logged = tmt_stderr_end(&cap);
    ck_assert_msg(rc == 0, "%s", err.msg);
    *ckpt_lsn = info.ckpt_lsn;
    uint64_t limit = t->by_lsn ? t->lsn + 1 : info.reached_end ? UINT64_MAX : info.stop_lsn;
    tm_out out;
    ck_assert_int_eq(tm_out_init_mem(&out, &err), 0);
    for (size_t i = 0; i < tm_state_ntables(s); i++) {
        tm_table *tab = tm_state_table(s, i);
        if (!tab->selected)
            continue;
        ck_assert_uint_eq(tab->st.missing_rows + tab->st.duplicate_keys + tab->st.unresolved, 0);
        tm_rowset rs;
        ck_assert_int_eq(tm_rowset_build(&rs, tab, tm_table_version_at(tab, limit), NULL, &err), 0);
        ck_assert_int_eq(tm_emit_table(&out, TM_FMT_CSV, &rs, false, &err), 0);
        tm_rowset_free(&rs);
        tm_out_write(&out, "\x01\n", 2); /* between tables */
    }
    size_t len;
    const char *d = tm_out_data(&out, &len);
    char *copy = malloc(len + 1);
    memcpy(copy, d, len);
    copy[len] = '\0';
    tm_out_free(&out);
    tm_state_free(s);
    return copy;
}

static void assert_same(const char *dir, const tm_target *t, uint64_t *used)
{
    uint64_t none;
    char *want = replay_csv(dir, t, false, NULL, &none);
    char *got = replay_csv(dir, t, true, NULL, used);
    ck_assert_uint_eq(none, 0);
    ck_assert_msg(!strcmp(want, got), "%s %lld (checkpoint %llx):\n--- want:\n%s\n--- got:\n%s",
                  t->by_lsn ? "LSN" : "time", t->by_lsn ? (long long)t->lsn : (long long)t->time,
                  (unsigned long long)*used, want, got);
    free(want);
    free(got);
}

/* A random journal (seed) in a new directory with a checkpoint every
 * `every` changes: the directory, its transactions in tx, its checkpoints
 * in *ck (malloc'd, ascending), at least min_ck of them. */
static char *checkpointed_journal(uint64_t seed, const char *every, txinfo *tx, tm_ckpt **ck,
                                  size_t *nck, size_t min_ck)
{
    char *dir = tmt_tempdir(), *out;
    random_journal(dir, seed, tx);
    int rc = tmt_run(&out, "checkpoint", "--journal", dir, "--every", every, NULL);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    tm_error err;
    ck_assert_int_eq(tm_ckpt_list(dir, ck, nck, &err), 0);
    ck_assert_uint_ge(*nck, min_ck);
    return dir;
}

START_TEST(checkpoints_match_full_replay)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        txinfo tx[NTX];
        tm_ckpt *ck;
        size_t nck;
        char *out, *dir = checkpointed_journal(seed, "37", tx, &ck, &nck, 10);
        ck_assert(ck[nck - 1].ok && ck[nck - 1].lsn == tx[NTX - 1].lsn);
        int used = 0, passed_over = 0;
        for (int n = 0; n < NTX; n += 3) {
            tm_target t = {.by_lsn = true, .lsn = tx[n].lsn + (uint64_t)(n % 2)};
            uint64_t u;
            assert_same(dir, &t, &u);
            used += u != 0;
            ck_assert(u <= t.lsn);
            for (int d = n ? -1 : 0; d <= 0; d++) {
                tm_target tt = {.time = tx[n].time + d};
                assert_same(dir, &tt, &u);
                for (size_t k = 0; k < nck; k++) {
                    if (ck[k].lsn == u)
                        ck_assert(ck[k].max_time <= tt.time);
                    /* Its last commit is before T, but an earlier one of
                     * its transactions committed after T: the case that
                     * comparing the checkpoint's own time would get wrong. */
                    passed_over += ck[k].last_time <= tt.time && ck[k].max_time > tt.time;
                }
            }
        }
        ck_assert_int_gt(used, 50);
        ck_assert_int_gt(passed_over, 0);
        /* Running it again keeps what is there and adds nothing. */
        int rc = tmt_run(&out, "checkpoint", "--journal", dir, "--every", "37", NULL);
        ck_assert_msg(rc == 0 && strstr(out, "0 checkpoints written"), "%s", out);
        free(out);
        free(ck);
        tmt_tempdir_remove(dir);
    }
}
END_TEST

/* Loading the damaged checkpoint c fails with TM_ERR_CORRUPT naming its
 * file and the offset of the damaged frame, which tm_ckpt_verify (tidemark
 * verify) reports too; once it is gone, with TM_ERR_NOT_FOUND. c is
 * restored. */
static void check_load_codes(const tm_ckpt *c)
{
    tm_error err;
    tm_state *s = tm_state_new(not_other, NULL, &err);
    ck_assert_msg(s, "%s", err.msg);
    ck_assert_int_eq(tm_ckpt_load(c, s, &err), -1);
    ck_assert_msg(tm_error_is(&err, TM_ERR_CORRUPT), "%s: %s", tm_errcode_name(err.code), err.msg);
    ck_assert_str_eq(err.file, c->path);
    ck_assert(err.has_offset && err.offset >= 56);
    tm_vresult vr = {0};
    ck_assert_int_eq(tm_ckpt_verify(c->path, &vr, &err), 0);
    ck_assert_msg(vr.damaged && vr.at_offset, "%s", vr.text);
    ck_assert_uint_eq(vr.offset, err.offset);
    tm_state_reset(s);
    size_t len;
    unsigned char *data = tmt_slurp(c->path, &len);
    ck_assert_int_eq(unlink(c->path), 0);
    ck_assert_int_eq(tm_ckpt_load(c, s, &err), -1);
    ck_assert_msg(tm_error_is(&err, TM_ERR_NOT_FOUND), "%s: %s", tm_errcode_name(err.code),
                  err.msg);
    tmt_spit(c->path, data, len);
    free(data);
    tm_state_free(s);
}

START_TEST(damaged_checkpoint_falls_back)
{
    txinfo tx[NTX];
    tm_ckpt *ck;
    size_t nck;
    char *out, *dir = checkpointed_journal(9, "100", tx, &ck, &nck, 3);
    tm_target t = {.by_lsn = true, .lsn = tx[NTX - 1].lsn};
    uint64_t none, u;
    char *want = replay_csv(dir, &t, false, NULL, &none);
    for (size_t k = 0; k < nck; k++) { /* sound, as tidemark verify sees them */
        tm_vresult vr = {0};
        tm_error err;
        ck_assert_int_eq(tm_ckpt_verify(ck[k].path, &vr, &err), 0);
        ck_assert_msg(!vr.damaged && strstr(vr.text, "checkpoint at LSN "), "%s", vr.text);
    }
    /* A flipped byte in a frame of the newest: the one before is used. */
    size_t len;
    unsigned char *data = tmt_slurp(ck[nck - 1].path, &len);
    data[len / 2] ^= 0x20;
    tmt_spit(ck[nck - 1].path, data, len);
    char *wbuf;
    char *got = replay_csv(dir, &t, true, &wbuf, &u);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(u, ck[nck - 2].lsn);
    ck_assert_msg(strstr(wbuf, "WARNING") && strstr(wbuf, "damaged"), "%s", wbuf);
    free(wbuf);
    free(got);
    check_load_codes(&ck[nck - 1]);
    /* A bad header, and a cut one: skipped too, down to the journal. */
    data[len / 2] ^= 0x20;
    data[9] ^= 1;
    for (size_t k = 0; k + 1 < nck; k++)
        tmt_spit(ck[k].path, data, k % 2 ? 20 : len);
    tmt_spit(ck[nck - 1].path, data, len / 3);
    got = replay_csv(dir, &t, true, NULL, &u);
    ck_assert_str_eq(got, want);
    ck_assert_uint_eq(u, 0);
    free(got);
    /* Through the command: the warning, and the same rows. */
    char l[32];
    snprintf(l, sizeof l, "%X/%X", (unsigned)(t.lsn >> 32), (unsigned)t.lsn);
    int rc = tmt_run(&out, "replay", "--journal", dir, "--lsn", l, "--table", "prefs", NULL);
    *strchr(want, '\x01') = '\0'; /* the prefs part */
    ck_assert_msg(rc == 0 && strstr(out, "WARNING: checkpoint") && strstr(out, want), "%s", out);
    free(out);
    free(data);
    free(want);
    free(ck);
    tmt_tempdir_remove(dir);
}
END_TEST

/* Rewrites the checkpoint at path as checkpoints were before they recorded
 * each table's row count: the same frames without those messages, the
 * frame headers, counts and CRCs made to match. Returns how many it took
 * out. */
static unsigned strip_row_counts(const char *path)
{
    size_t len;
    unsigned char *in = tmt_slurp(path, &len), *out = malloc(len + 4096);
    ck_assert(len >= 56);
    memcpy(out, in, 56);
    size_t ip = 56, op = 56;
    unsigned removed = 0;
    tm_buf raw = {0}, comp = {0};
    tm_error err;
    char why[256];
    while (ip < len) {
        tm_frame_hdr h;
        ck_assert_msg(tm_frame_hdr_decode(in + ip, &h, why, sizeof why), "%s", why);
        ip += TM_FRAME_HDR_SIZE;
        unsigned char *plain = malloc(h.raw_len);
        ck_assert_int_eq(
            LZ4_decompress_safe((const char *)in + ip, (char *)plain, (int)h.clen, (int)h.raw_len),
            (int)h.raw_len);
        ip += h.clen;
        raw.len = 0;
        uint32_t kept = 0;
        size_t pos = 0, rl;
        const unsigned char *rp;
        while (tm_frame_next_record(plain, h.raw_len, &pos, &rp, &rl, why, sizeof why) == 1) {
            Tidemark__Record *rec = tidemark__record__unpack(NULL, rl, rp);
            ck_assert_ptr_nonnull(rec);
            bool count = rec->body_case == TIDEMARK__RECORD__BODY_MESSAGE && rec->message->prefix &&
                         !strcmp(rec->message->prefix, TM_CKPT_ROWS_PREFIX);
            tidemark__record__free_unpacked(rec, NULL);
            if (count) {
                removed++;
                continue;
            }
            ck_assert_int_eq(tm_buf_reserve(&raw, TM_VARINT_MAX + rl, &err), 0);
            raw.len += tm_varint_put(raw.p + raw.len, rl);
            memcpy(raw.p + raw.len, rp, rl);
            raw.len += rl;
            kept++;
        }
        free(plain);
        ck_assert_int_eq(tm_frame_compress(raw.p, raw.len, &comp, &err), 0);
        h.clen = (uint32_t)comp.len;
        h.raw_len = (uint32_t)raw.len;
        h.n_records = kept;
        h.payload_crc = tm_crc32c(0, comp.p, comp.len);
        uint8_t *grown = realloc(out, op + TM_FRAME_HDR_SIZE + comp.len);
        ck_assert_ptr_nonnull(grown);
        out = grown;
        tm_frame_hdr_encode(&h, out + op);
        memcpy(out + op + TM_FRAME_HDR_SIZE, comp.p, comp.len);
        op += TM_FRAME_HDR_SIZE + comp.len;
    }
    tm_put64(out + 40, tm_get64(out + 40) - removed); /* records */
    tm_put32(out + 52, tm_crc32c(0, out, 52));
    tmt_spit(path, out, op);
    tm_buf_free(&raw);
    tm_buf_free(&comp);
    free(in);
    free(out);
    return removed;
}

/* Checkpoints written before the row-count record still load (the table
 * is then sized as rows come) and give the same rows. */
START_TEST(checkpoint_without_row_counts_loads)
{
    txinfo tx[NTX];
    tm_ckpt *ck;
    size_t nck;
    char *dir = checkpointed_journal(5, "100", tx, &ck, &nck, 2);
    for (size_t k = 0; k < nck; k++)
        ck_assert_uint_ge(strip_row_counts(ck[k].path), 1);
    tm_target t = {.by_lsn = true, .lsn = tx[NTX - 1].lsn};
    uint64_t used;
    char *logged;
    uint64_t none;
    char *want = replay_csv(dir, &t, false, NULL, &none);
    char *got = replay_csv(dir, &t, true, &logged, &used);
    ck_assert_uint_eq(used, ck[nck - 1].lsn); /* not skipped as damaged */
    ck_assert_str_eq(got, want);
    ck_assert_str_eq(logged, ""); /* and no warning */
    free(logged);
    free(got);
    free(want);
    free(ck);
    tmt_tempdir_remove(dir);
}
END_TEST

/* The checkpoint job also builds the log's key summaries: a first by-key
 * log query afterwards reads only the frames of its key. */
START_TEST(checkpoint_builds_key_summaries)
{
    char *dir = tmt_tempdir(), *out;
    txinfo tx[NTX];
    random_journal(dir, 11, tx);
    char *keys = tmt_path(dir, "0000000000000001.keys");
    ck_assert_int_ne(access(keys, F_OK), 0);
    int rc = tmt_run(&out, "checkpoint", "--journal", dir, NULL);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    ck_assert_msg(access(keys, F_OK) == 0, "no key summary after checkpoint");
    rc = tmt_run(&out, "log", "--journal", dir, "--table", "prefs", "--where", "a = 3", "--stats",
                 NULL);
    ck_assert_msg(rc == 0 && strstr(out, "frames:"), "%s", out);
    unsigned total = 0, read = 0;
    const char *p = strstr(out, "frames: ");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p, "frames: %u in the journal, %u read", &total, &read), 2);
    ck_assert_msg(read < total, "read %u of %u frames: the summaries were not used", read, total);
    free(out);
    free(keys);
    tmt_tempdir_remove(dir);
}
END_TEST

/* A Gap with no snapshot after it: no checkpoint after the gap, and replay
 * past it still refuses. */
START_TEST(no_checkpoint_hides_a_gap)
{
    char *dir = tmt_tempdir(), *out;
    tmt_jw j = {.lsn = 1000};
    tm_error err;
    tm_writer_options wo = {0};
    tmt_jw_open(&j, dir, &wo);
    put_rel(j.w, PREFS, 1, j.lsn + 100);
    int64_t t0 = 1700000000000000;
    for (int n = 0; n < 6; n++) {
        if (n == 3) {
            Tidemark__Gap gap = TIDEMARK__GAP__INIT;
            gap.reason = "slot lost";
            Tidemark__Record rec = TIDEMARK__RECORD__INIT;
            rec.body_case = TIDEMARK__RECORD__BODY_GAP;
            rec.gap = &gap;
            ck_assert_int_eq(tm_writer_put_standalone(j.w, &rec, &err), 0);
        }
        tmt_jw_begin(&j, n ? 1 : 2, n == 0, t0 + n * 1000);
        if (n == 0)
            tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, PREFS, 1, 0, NULL, 0, NULL, 0);
        char ab[16];
        prow p = {.live = true, .c = "x"};
        tm_value v[3];
        uint32_t nv = prefs_vals(n, &p, 1, ab, v);
        tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, PREFS, 1, 0, NULL, 0, v, nv);
        tmt_jw_end(&j);
    }
    uint64_t last = j.lsn;
    tmt_jw_close(&j);
    int rc = tmt_run(&out, "checkpoint", "--journal", dir, "--every", "1", NULL);
    ck_assert_msg(rc == 0 && strstr(out, "gap"), "%s", out);
    free(out);
    tm_ckpt *ck;
    size_t nck;
    ck_assert_int_eq(tm_ckpt_list(dir, &ck, &nck, &err), 0);
    ck_assert_uint_eq(nck, 2); /* after transactions 1 and 2 */
    ck_assert_uint_eq(ck[1].lsn, 1300);
    free(ck);
    char l[32];
    snprintf(l, sizeof l, "0/%X", (unsigned)last);
    rc = tmt_run(&out, "replay", "--journal", dir, "--lsn", l, NULL);
    ck_assert_msg(rc == 1 && strstr(out, "slot lost"), "%s", out);
    free(out);
    snprintf(l, sizeof l, "0/%X", 1300u);
    rc = tmt_run(&out, "replay", "--journal", dir, "--lsn", l, NULL);
    ck_assert_msg(rc == 0 && !strcmp(out, "a,c\n0,x\n1,x\n2,x\n"), "%s", out);
    free(out);
    tmt_tempdir_remove(dir);
}
END_TEST

int main(void)
{
    return tm_check_main("replay_checkpoint", "checkpoint", 120,
                         TM_TESTS(checkpoints_match_full_replay, damaged_checkpoint_falls_back,
                                  checkpoint_without_row_counts_loads,
                                  checkpoint_builds_key_summaries, no_checkpoint_hides_a_gap));
}
