/* Key summaries and the lookups of tidemark log that use them: canonical
 * forms agree with the comparison --where uses; summaries survive a save and
 * load and are ignored when damaged; and a query answers the same with and
 * without summaries while reading only the frames it needs, also after the
 * journal grew past what a summary covers. Time windows read only their
 * frames. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/keys/keysum.h"
#include "tests/harness/support_log.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "replay/query/typecmp.h"

#define USERS 16401
#define PREFS 16402
#define SETTINGS 16403

START_TEST(canonical_forms)
{
    char buf[64];
    const char *out;
    size_t len;
    struct {
        tm_tclass cls;
        const char *in, *want; /* want NULL: no canonical form */
    } cases[] = {
        {TM_TC_INT, "42", "42"},
        {TM_TC_INT, "+0042", "42"},
        {TM_TC_INT, "-007", "-7"},
        {TM_TC_INT, "-0", "0"},
        {TM_TC_INT, "000", "0"},
        {TM_TC_INT, "123456789012345678901234567890", "123456789012345678901234567890"},
        {TM_TC_INT, "1e3", NULL},
        {TM_TC_INT, " 42", NULL},
        {TM_TC_INT, "", NULL},
        {TM_TC_INT, "-", NULL},
        {TM_TC_UUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc999c0b4ef8bb6d6bb9bd380a11"},
        {TM_TC_UUID, "{a0eebc999c0b4ef8bb6d6bb9bd380a11}", "a0eebc999c0b4ef8bb6d6bb9bd380a11"},
        {TM_TC_UUID, "a0eebc99-9c0b", NULL},
        {TM_TC_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11ff", NULL},
        {TM_TC_BPCHAR, "ab  ", "ab"},
        {TM_TC_TEXT, "ab  ", "ab  "},
        {TM_TC_NUMERIC, "1.0", NULL},
        {TM_TC_TIMESTAMPTZ, "2026-01-01 00:00:00+00", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool ok = tm_keysum_canon(cases[i].cls, cases[i].in, strlen(cases[i].in), buf, &out, &len);
        if (!cases[i].want) {
            ck_assert_msg(!ok, "%s has a canonical form", cases[i].in);
            continue;
        }
        ck_assert_msg(ok, "%s has none", cases[i].in);
        ck_assert_uint_eq(len, strlen(cases[i].want));
        ck_assert_msg(!memcmp(out, cases[i].want, len), "%s -> %.*s", cases[i].in, (int)len, out);
    }
    /* Canonical forms are equal exactly when the comparison says equal. */
    tmt_rng r = {3};
    for (int i = 0; i < 4000; i++) {
        char a[32], b[32], ca[64], cb[64];
        long long x = (long long)tmt_below(&r, 2000) - 1000;
        long long y = tmt_below(&r, 3) == 0 ? x : (long long)tmt_below(&r, 2000) - 1000;
        snprintf(a, sizeof a, "%s%0*lld", tmt_below(&r, 4) == 0 && x >= 0 ? "+" : "",
                 (int)tmt_below(&r, 6), x);
        snprintf(b, sizeof b, "%lld", y);
        const char *oa, *ob;
        size_t la, lb;
        ck_assert(tm_keysum_canon(TM_TC_INT, a, strlen(a), ca, &oa, &la));
        ck_assert(tm_keysum_canon(TM_TC_INT, b, strlen(b), cb, &ob, &lb));
        bool same = la == lb && !memcmp(oa, ob, la);
        ck_assert_msg(same == (tm_typecmp(TM_TC_INT, a, strlen(a), b, strlen(b)) == 0), "%s %s", a,
                      b);
    }
}
END_TEST

START_TEST(save_and_load)
{
    char *dir = tmt_tempdir();
    tm_error err;
    tm_keysum *ks = tm_keysum_new(3, &err);
    ck_assert_ptr_nonnull(ks);
    ck_assert_int_eq(tm_keysum_begin_frame(ks, 32, 0xabc, &err), 0);
    ck_assert_int_eq(tm_keysum_add(ks, 32, 7, &err), 0);
    ck_assert_int_eq(tm_keysum_add(ks, 32, 5, &err), 0);
    ck_assert_int_eq(tm_keysum_add(ks, 32, 7, &err), 0);
    ck_assert_int_eq(tm_keysum_begin_frame(ks, 5000, 0xdef, &err), 0);
    ck_assert_int_eq(tm_keysum_add(ks, 5000, 9, &err), 0);
    ck_assert_int_eq(tm_keysum_begin_frame(ks, 900, 0x123, &err), 0); /* out of order */
    ck_assert_int_eq(tm_keysum_add(ks, 900, 11, &err), 0);
    ck_assert_int_eq(tm_keysum_begin_frame(ks, 7000, 0x1, &err), 0);
    tm_keysum_drop_frame(ks, 7000); /* unfinished: not saved */
    ck_assert_int_eq(tm_keysum_add_relation(ks, 16401, 2, &err), 0);
    ck_assert_int_eq(tm_keysum_add_relation(ks, 16400, 1, &err), 0);
    ck_assert_int_eq(tm_keysum_save(ks, dir, &err), 0);
    tm_keysum_free(ks);

    ks = tm_keysum_load(dir, 3, &err);
    uint32_t f;
    ck_assert(tm_keysum_covers(ks, 32, 0xabc, &f));
    ck_assert(tm_keysum_has(ks, f, 5) && tm_keysum_has(ks, f, 7) && !tm_keysum_has(ks, f, 9));
    ck_assert(!tm_keysum_covers(ks, 32, 0xabd, &f)); /* another CRC: another frame */
    ck_assert(tm_keysum_covers(ks, 900, 0x123, &f) && tm_keysum_has(ks, f, 11));
    ck_assert(tm_keysum_covers(ks, 5000, 0xdef, &f) && tm_keysum_has(ks, f, 9));
    ck_assert(!tm_keysum_covers(ks, 7000, 0x1, &f));
    ck_assert_uint_eq(tm_keysum_nframes(ks), 3);
    ck_assert(tm_keysum_has_relation(ks, 16401, 2) && !tm_keysum_has_relation(ks, 16401, 1));
    uint32_t oid, version;
    tm_keysum_relation_at(ks, 0, &oid, &version);
    ck_assert(oid == 16400 && version == 1);
    tm_keysum_free(ks);

    /* Another segment number, or any flipped byte: treated as absent. */
    ks = tm_keysum_load(dir, 4, &err);
    ck_assert_uint_eq(tm_keysum_nframes(ks), 0);
    tm_keysum_free(ks);
    char *path = tmt_path(dir, "0000000000000003.keys");
    size_t len;
    unsigned char *b = tmt_slurp(path, &len);
    /* tidemark verify's check agrees: sound as saved, damaged whenever a
     * load does without the file. */
    tm_vresult vr = {0};
    ck_assert_int_eq(tm_keysum_verify(path, &vr, &err), 0);
    ck_assert_msg(!vr.damaged && strstr(vr.text, "frames=3 relations=2"), "%s", vr.text);
    for (size_t i = 0; i < len; i += 7) {
        b[i] ^= 0x40;
        tmt_spit(path, b, len);
        ks = tm_keysum_load(dir, 3, &err);
        ck_assert_msg(tm_keysum_nframes(ks) == 0, "damage at byte %zu went unnoticed", i);
        tm_keysum_free(ks);
        ck_assert_int_eq(tm_keysum_verify(path, &vr, &err), 0);
        ck_assert_msg(vr.damaged, "verify missed damage at byte %zu", i);
        b[i] ^= 0x40;
    }
    tmt_spit(path, b, len - 1); /* truncated */
    ks = tm_keysum_load(dir, 3, &err);
    ck_assert_uint_eq(tm_keysum_nframes(ks), 0);
    tm_keysum_free(ks);
    ck_assert_int_eq(tm_keysum_verify(path, &vr, &err), 0);
    ck_assert(vr.damaged);
    char *other = tmt_path(dir, "0000000000000004.keys"); /* segment 3's, under 4's name */
    tmt_spit(other, b, len);
    ck_assert_int_eq(tm_keysum_verify(other, &vr, &err), 0);
    ck_assert_msg(vr.damaged && strstr(vr.text, "another segment"), "%s", vr.text);
    free(other);
    free(b);
    free(path);
    tmt_tempdir_remove(dir);
}
END_TEST

/* A workload: users(id int8 pk, email text), prefs(user_id int4, key
 * text, value jsonb, pk (user_id, key)); each transaction its own frame,
 * small segments. */
static void workload(tlj *j, tmt_rng *r, int first_xid, int ntx)
{
    static const char *keys[] = {"ui", "mail", "ai"};
    for (int t = 0; t < ntx; t++) {
        tlj_begin(j, (uint32_t)(first_xid + t));
        int n = 1 + (int)tmt_below(r, 4);
        for (int k = 0; k < n; k++) {
            char id[16], email[32], val[48], old[48];
            long u = (long)tmt_below(r, 60);
            snprintf(id, sizeof id, "%ld", u);
            switch (tmt_below(r, 4)) {
            case 0:
                snprintf(email, sizeof email, "u%ld-%d@x.org", u, t);
                tlj_update(j, USERS, 1, 'O', 2, (const char *[]){id, "old@x.org"},
                           (const char *[]){id, email});
                break;
            case 1:
                tlj_insert(j, USERS, 1, 2, (const char *[]){id, "new@x.org"});
                break;
            case 2: {
                const char *key = keys[tmt_below(r, 3)];
                snprintf(old, sizeof old, "{\"v\": %d}", t - 1);
                snprintf(val, sizeof val, "{\"v\": %d}", t);
                tlj_update(j, PREFS, 1, 'O', 3, (const char *[]){id, key, old},
                           (const char *[]){id, key, val});
                break;
            }
            default:
                tlj_delete(j, PREFS, 1, 'K', 3, (const char *[]){id, keys[tmt_below(r, 3)], NULL});
            }
            /* settings(id pk, user_id fk, token unique): found by user_id
             * and token through their own summary entries */
            char sid[16], tok[32];
            snprintf(sid, sizeof sid, "%d", t * 10 + k);
            snprintf(tok, sizeof tok, "t%ld-%d", u, t % 3);
            tlj_insert(j, SETTINGS, 1, 3, (const char *[]){sid, id, tok});
        }
        if (tmt_below(r, 10) == 0)
            tlj_message(j, "tidemark", "{\"who\":\"x\"}");
        tlj_commit(j, 1000000);
        tlj_sync(j); /* a frame per transaction */
    }
}

static void build(tlj *j)
{
    tlj_open2(j, 0, 16 * 1024, NULL);
    tlj_relation(j, USERS, 1, "public", "users", "id:int8:pk,email:text");
    tlj_relation(j, PREFS, 1, "public", "prefs", "user_id:int4:pk,key:text:pk,value:jsonb");
    tlj_relation(j, SETTINGS, 1, "public", "settings",
                 "id:int8:pk,user_id:int4:fk,token:text:uniq");
    tmt_rng r = {11};
    workload(j, &r, 1000, 600);
    tlj_close(j);
}

/* Runs log with args (NULL-terminated, at most 6). */
static char *query(tlj *j, log_run_stats *st, const char *const *args)
{
    const char *a[7] = {0};
    for (int i = 0; i < 6 && args[i]; i++)
        a[i] = args[i];
    char *out, err[1100];
    int rc = tlj_log(j, &out, st, err, sizeof err, a[0], a[1], a[2], a[3], a[4], a[5],
                     (const char *)NULL);
    ck_assert_msg(rc == 0, "log failed: %s", err);
    return out;
}

static void remove_summaries(const char *dir)
{
    for (int seg = 1; seg < 200; seg++) {
        char name[32];
        snprintf(name, sizeof name, "%016x.keys", seg);
        char *p = tmt_path(dir, name);
        remove(p);
        free(p);
    }
}

static size_t count_summaries(const char *dir)
{
    size_t n = 0;
    for (int seg = 1; seg < 200; seg++) {
        char name[32];
        snprintf(name, sizeof name, "%016x.keys", seg);
        char *p = tmt_path(dir, name);
        FILE *f = fopen(p, "r");
        n += f != NULL;
        if (f)
            fclose(f);
        free(p);
    }
    return n;
}

/* Queries, each with at most 6 arguments. */
static const char *const queries[][7] = {
    {"--where", "id = 17"},
    {"--where", "id = 0017", "--table", "users"},
    {"--table", "prefs", "--where", "user_id = 3"},
    {"--where", "user_id = 3 AND key = 'ui'"},
    {"--where", "user_id IN (4, 5) AND key IN ('mail', 'ai')"},
    {"--where", "id IN (1, 2, 59)", "--format", "jsonl"},
    {"--xid", "1200", "--xid", "1301"},
    {"--xid", "1250", "--format", "jsonl"},
    {"--where", "email = 'new@x.org'"}, /* no key column: table level */
    {"--table", "users", "--transactions"},
    {"--where", "user_id = 3", "--column", "value"},
    {"--where", "key = 'ai'", "--table", "prefs"}, /* not the leading column: table level */
    {"--where", "user_id = +03 AND key = 'ai' AND value->>'v' IS NOT NULL"},
    {"--table", "settings", "--where", "user_id = 7"},    /* a foreign-key column */
    {"--table", "settings", "--where", "token = 't9-1'"}, /* a unique column */
};

START_TEST(lookups_read_only_what_they_need)
{
    tlj j;
    build(&j);
    size_t nq = sizeof queries / sizeof queries[0];
    char **first = calloc(nq, sizeof *first);
    log_run_stats st;
    /* First runs build the summaries (and read everything). */
    for (size_t q = 0; q < nq; q++) {
        remove_summaries(j.dir);
        first[q] = query(&j, &st, queries[q]);
        ck_assert_uint_eq(st.frames_skipped, 0);
        ck_assert_uint_gt(st.indexed, 0);
    }
    ck_assert_uint_gt(count_summaries(j.dir), 3);
    ck_assert_uint_ge(st.frames_total, 600);
    for (size_t q = 0; q < nq; q++) {
        char *again = query(&j, &st, queries[q]);
        ck_assert_msg(!strcmp(first[q], again), "query %zu answers differently with summaries", q);
        ck_assert_uint_eq(st.indexed, 0);
        ck_assert_msg(st.frames_skipped > 0, "query %zu skipped nothing", q);
        if (q != 8 && q != 9 && q != 11) /* key and xid lookups read a few frames */
            ck_assert_msg(
                st.frames_decoded < st.frames_total / 4, "query %zu read %llu of %llu frames", q,
                (unsigned long long)st.frames_decoded, (unsigned long long)st.frames_total);
        ck_assert_msg(strlen(again) > 0, "query %zu found nothing", q);
        free(again);
    }
    /* Damaged summaries are ignored (and rebuilt). */
    for (int seg = 1; seg < 4; seg++) {
        char name[32];
        snprintf(name, sizeof name, "%016x.keys", seg);
        char *p = tmt_path(j.dir, name);
        size_t len;
        unsigned char *b = tmt_slurp(p, &len);
        b[len / 2] ^= 1;
        tmt_spit(p, b, len);
        free(b);
        free(p);
    }
    char *again = query(&j, &st, queries[0]);
    ck_assert_str_eq(again, first[0]);
    ck_assert_uint_gt(st.indexed, 0);
    free(again);

    /* The journal grows: new frames are read (and indexed), old ones
     * still skipped. */
    tlj_open2(&j, 0, 16 * 1024, j.dir);
    tmt_rng r = {99};
    workload(&j, &r, 5000, 50);
    tlj_close(&j);
    for (size_t q = 0; q < nq; q++) {
        char *grown = query(&j, &st, queries[q]);
        remove_summaries(j.dir);
        char *reference = query(&j, &st, queries[q]);
        ck_assert_msg(!strcmp(grown, reference), "query %zu after growth differs", q);
        free(grown);
        free(reference);
    }
    for (size_t q = 0; q < nq; q++)
        free(first[q]);
    free(first);
    tlj_destroy(&j);
}
END_TEST

START_TEST(time_window_reads_its_frames)
{
    tlj j;
    build(&j);
    log_run_stats all, win;
    char *out = query(&j, &all, (const char *const[]){"--transactions", NULL});
    free(out);
    /* 600 transactions one second apart from 2026-01-01 00:00:00: a window
     * of 20 of them. */
    out = query(&j, &win,
                (const char *const[]){"--from", "2026-01-01 00:05:00", "--to",
                                      "2026-01-01 00:05:19", "--transactions", NULL});
    ck_assert_uint_eq(tlj_count(out, "\n"), 20);
    ck_assert_msg(win.frames_decoded <= 20 + 4, "the window read %llu frames",
                  (unsigned long long)win.frames_decoded);
    ck_assert_uint_ge(all.frames_decoded, 600);
    free(out);
    tlj_destroy(&j);
}
END_TEST

int main(void)
{
    return tm_check_main("log_keysum", "keysum", 300,
                         TM_TESTS(canonical_forms, save_and_load, lookups_read_only_what_they_need,
                                  time_window_reads_its_frames));
}
