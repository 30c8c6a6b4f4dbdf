/* tidemark log on journals of known content written with the real writer:
 * the listing (keys, diffs, jsonb paths, unchanged TOAST), context attached
 * to the right transaction only, every filter, --transactions and --top,
 * JSON Lines validity, and quoting of awkward names and values. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/query/jsonscan.h"
#include "replay/log/log_tx.h"
#include "tests/harness/support_log.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

#define PREFS 16400
#define USERS 16401

/* users(id int4 pk, email text, big text), prefs(user_id int4 pk, key text
 * pk, value jsonb) and a small history:
 *   tx 100 (t0):     insert user 1, 2; context {"user":"alice"}
 *   tx 101 (t0+1s):  update user 1 email; update prefs (1,'ui') jsonb
 *   tx 102 (t0+2s):  delete user 2 (whole old row); other-prefix message
 *   tx 103 (t0+3s):  update user 1 without an old image, big unchanged TOAST
 *   tx 104 (t0+4s):  truncate prefs; context {"user":"bob"}
 * each in a frame of its own. */
static void history(tlj *j)
{
    tlj_open(j, 0);
    tlj_relation(j, USERS, 1, "public", "users", "id:int4:pk,email:text,big:text");
    tlj_relation(j, PREFS, 1, "public", "prefs", "user_id:int4:pk,key:text:pk,value:jsonb");

    tlj_begin(j, 100);
    tlj_message(j, "tidemark", "{\"user\":\"alice\"}");
    tlj_insert(j, USERS, 1, 3, (const char *[]){"1", "a@x.org", "bigvalue"});
    tlj_insert(j, USERS, 1, 3, (const char *[]){"2", "b@x.org", NULL});
    tlj_insert(j, PREFS, 1, 3,
               (const char *[]){"1", "ui", "{\"theme\": \"light\", \"notifications\": true}"});
    tlj_commit(j, 1000000);
    tlj_sync(j);

    tlj_begin(j, 101);
    tlj_update(j, USERS, 1, 'O', 3, (const char *[]){"1", "a@x.org", "bigvalue"},
               (const char *[]){"1", "a2@x.org", "bigvalue"});
    tlj_update(j, PREFS, 1, 'O', 3,
               (const char *[]){"1", "ui", "{\"theme\": \"light\", \"notifications\": true}"},
               (const char *[]){"1", "ui", "{\"lang\": \"fr\", \"theme\": \"dark\"}"});
    tlj_commit(j, 1000000);
    tlj_sync(j);

    tlj_begin(j, 102);
    tlj_delete(j, USERS, 1, 'O', 3, (const char *[]){"2", "b@x.org", NULL});
    tlj_message(j, "audit", "deleted by cron");
    tlj_commit(j, 1000000);
    tlj_sync(j);

    tlj_begin(j, 103);
    tlj_update(j, USERS, 1, 0, 3, NULL, (const char *[]){"1", "a3@x.org", TLJ_U});
    tlj_commit(j, 1000000);
    tlj_sync(j);

    tlj_begin(j, 104);
    tlj_truncate(j, PREFS, 1, 1);
    tlj_message(j, "tidemark", "{\"user\":\"bob\"}");
    tlj_commit(j, 1000000);
    tlj_sync(j);
    tlj_close(j);
}

/* Runs log with 1 to 8 arguments; fails the test on an error. */
#define LOG(j, ...) run_log(j, (const char *[]){__VA_ARGS__, NULL})

static char *run_log(tlj *j, const char *const *args)
{
    const char *a[9] = {0};
    for (int i = 0; i < 8 && args[i]; i++)
        a[i] = args[i];
    char *out, err[1100];
    int rc = tlj_log(j, &out, NULL, err, sizeof err, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
                     (const char *)NULL);
    ck_assert_msg(rc == 0, "log failed: %s", err);
    if (getenv("TLJ_SHOW"))
        fprintf(stderr, "---\n%s", out);
    return out;
}

START_TEST(listing)
{
    tlj j;
    history(&j);
    char *out = LOG(&j, "--format", "text");
    /* Transaction headers, in commit order, with time, xid and LSN. */
    const char *h100 = strstr(out, "2026-01-01 00:00:00+00  xid 100  lsn ");
    const char *h101 = strstr(out, "2026-01-01 00:00:01+00  xid 101  lsn ");
    const char *h104 = strstr(out, "2026-01-01 00:00:04+00  xid 104  lsn ");
    ck_assert_msg(h100 && h101 && h104 && h100 < h101 && h101 < h104, "%s", out);
    /* Inserts show the new row; the key in the header. */
    ck_assert_msg(strstr(out, "  public.users  INSERT  id=1\n    email: \"a@x.org\"\n"
                              "    big: \"bigvalue\"\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "  public.users  INSERT  id=2\n    email: \"b@x.org\"\n"
                              "    big: NULL\n"),
                  "%s", out);
    /* Updates: only what changed. */
    ck_assert_msg(strstr(out, "  public.users  UPDATE  id=1\n    email: \"a@x.org\" -> "
                              "\"a2@x.org\"\n  public.prefs"),
                  "%s", out);
    /* jsonb: the changed paths. */
    ck_assert_msg(strstr(out, "  public.prefs  UPDATE  user_id=1, key=\"ui\"\n"), "%s", out);
    ck_assert_msg(strstr(out, "    value.theme: \"light\" -> \"dark\"\n"), "%s", out);
    ck_assert_msg(strstr(out, "    value.notifications: true -> (removed)\n"), "%s", out);
    ck_assert_msg(strstr(out, "    value.lang: (absent) -> \"fr\"\n"), "%s", out);
    /* Deletes show the old row. */
    ck_assert_msg(strstr(out, "  public.users  DELETE  id=2\n    email: \"b@x.org\"\n"
                              "    big: NULL\n"),
                  "%s", out);
    /* No old image: values not recorded; unchanged TOAST is "unchanged". */
    ck_assert_msg(strstr(out, "  public.users  UPDATE  id=1  (old values not recorded: "
                              "REPLICA IDENTITY was not FULL)\n"
                              "    email: (not recorded) -> \"a3@x.org\"\n"
                              "    big: (unchanged)\n"),
                  "%s", out);
    /* A TRUNCATE with the rows it removed (prefs had one). */
    ck_assert_msg(strstr(out, "  public.prefs  TRUNCATE CASCADE  (1 row)\n"), "%s", out);
    /* Other prefixes only with --all-messages. */
    ck_assert_ptr_null(strstr(out, "cron"));
    free(out);
    out = LOG(&j, "--all-messages");
    ck_assert_msg(strstr(out, "  message audit: \"deleted by cron\"\n"), "%s", out);
    free(out);
    tlj_destroy(&j);
}
END_TEST

/* Context goes with every change of its own transaction, and no other. */
START_TEST(context)
{
    tlj j;
    history(&j);
    char *out = LOG(&j, "--format", "text");
    ck_assert_uint_eq(tlj_count(out, "context: {\"user\":\"alice\"}"), 1);
    ck_assert_uint_eq(tlj_count(out, "context: {\"user\":\"bob\"}"), 1);
    const char *alice = strstr(out, "context: {\"user\":\"alice\"}");
    const char *h101 = strstr(out, "xid 101");
    const char *bob = strstr(out, "context: {\"user\":\"bob\"}");
    const char *h104 = strstr(out, "xid 104");
    ck_assert(alice < h101 && bob > h104);
    free(out);

    out = LOG(&j, "--format", "jsonl");
    ck_assert_uint_eq(tlj_check_jsonl(out), 8);
    /* Each line: context exactly when its xid is 100 or 104. */
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        const char *vp, *ve;
        ck_assert(tm_json_get(line, nl, "xid", 3, &vp, &ve));
        long xid = strtol(vp, NULL, 10);
        bool has = tm_json_get(line, nl, "context", 7, &vp, &ve);
        ck_assert_msg(has == (xid == 100 || xid == 104), "xid %ld: %.*s", xid, (int)(nl - line),
                      line);
        if (has) {
            const char *up, *ue;
            ck_assert(tm_json_get(vp, ve, "user", 4, &up, &ue));
            ck_assert_int_eq(
                tm_json_strcmp(up + 1, ue - 1, xid == 100 ? "alice" : "bob", xid == 100 ? 5 : 3),
                0);
        }
    }
    free(out);
    tlj_destroy(&j);
}
END_TEST

/* The xids of the transaction blocks of a text listing, in order, as a
 * string like "100 101 104". */
static char *xids_of(const char *out)
{
    static char buf[512];
    size_t n = 0;
    buf[0] = '\0';
    for (const char *p = out; (p = strstr(p, "  xid ")) != NULL; p += 6) {
        long x = strtol(p + 6, NULL, 10);
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%ld", n ? " " : "", x);
    }
    return buf;
}

/* Lines of a text listing that start with the given text after the
 * indentation ("public.users  UPDATE"): how many. */
static size_t changes_of(const char *out, const char *what)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\n  %s", what);
    return tlj_count(out, needle);
}

/* Runs log with the arguments and checks the xids it lists. */
static void expect_xids(tlj *j, const char *want, const char *const *args)
{
    char *out = run_log(j, args);
    ck_assert_msg(!strcmp(xids_of(out), want), "log %s ...: xids \"%s\", expected \"%s\"", args[0],
                  xids_of(out), want);
    free(out);
}
#define XIDS(j, want, ...) expect_xids(j, want, (const char *[]){__VA_ARGS__, NULL})

START_TEST(filters)
{
    tlj j;
    history(&j);
    char *out = LOG(&j, "--table", "public.prefs");
    ck_assert_str_eq(xids_of(out), "100 101 104");
    ck_assert_uint_eq(changes_of(out, "public.users"), 0);
    free(out);
    XIDS(&j, "100 101 102 103 104", "--table", "prefs", "--table", "users");

    /* --where on either image; tables without the column are left out. */
    out = LOG(&j, "--where", "id = 2");
    ck_assert_str_eq(xids_of(out), "100 102");
    ck_assert_uint_eq(changes_of(out, "public.users  INSERT  id=2"), 1);
    ck_assert_uint_eq(changes_of(out, "public.users  INSERT  id=1"), 0);
    ck_assert_uint_eq(changes_of(out, "public.prefs"), 0);
    free(out);
    XIDS(&j, "100 101", "--where", "email = 'a@x.org'"); /* new image, then old image */
    XIDS(&j, "103", "--where", "email IN ('a3@x.org', 'zzz')");
    /* the update; and the TRUNCATE */
    XIDS(&j, "101 104", "--table", "prefs", "--where", "value->>'theme' = 'dark'");

    /* --from/--to, inclusive; in UTC or in --tz. */
    XIDS(&j, "101 102", "--from", "2026-01-01 00:00:01", "--to", "2026-01-01 00:00:02Z");
    out = LOG(&j, "--from", "2026-01-01 01:00:01", "--to", "2026-01-01 01:00:02", "--tz",
              "Europe/Paris");
    ck_assert_str_eq(xids_of(out), "101 102");
    ck_assert_msg(strstr(out, "2026-01-01 01:00:01+01  xid 101"), "%s", out);
    free(out);
    XIDS(&j, "104", "--from", "2026-01-01 00:00:03.5");

    XIDS(&j, "102 104", "--xid", "102", "--xid", "104");

    /* --column: changes that touched the column. */
    out = LOG(&j, "--column", "email");
    ck_assert_str_eq(xids_of(out), "100 101 102 103");
    ck_assert_uint_eq(changes_of(out, "public.prefs"), 0);
    free(out);
    XIDS(&j, "", "--column", "BIG", "--xid", "103"); /* big is unchanged TOAST there */
    XIDS(&j, "100 101 104", "--column", "value");
    tlj_destroy(&j);
}
END_TEST

START_TEST(transactions)
{
    tlj j;
    tlj_open(&j, 0);
    tlj_relation(&j, USERS, 1, "public", "users", "id:int4:pk,email:text,big:text");
    tlj_relation(&j, PREFS, 1, "public", "prefs", "user_id:int4:pk,key:text:pk,value:jsonb");
    tlj_begin(&j, 1);
    tlj_snapshot(&j);
    tlj_insert(&j, USERS, 1, 3, (const char *[]){"1", "a", NULL});
    tlj_insert(&j, PREFS, 1, 3, (const char *[]){"1", "k", "{}"});
    tlj_commit(&j, 1000000);
    /* xid 10: 3 prefs updates and a delete; xid 11: one insert; xid 12: a
     * flagged mass change of 5 rows; xid 13: 3 rows. */
    char id[8][8];
    for (int i = 0; i < 8; i++)
        snprintf(id[i], sizeof id[i], "%d", i + 1);
    tlj_begin(&j, 10);
    tlj_message(&j, "tidemark", "{\"who\":\"carol\"}");
    for (int i = 0; i < 3; i++)
        tlj_update(&j, PREFS, 1, 'O', 3, (const char *[]){id[i], "k", "{}"},
                   (const char *[]){id[i], "k", "{\"a\": 1}"});
    tlj_delete(&j, PREFS, 1, 'O', 3, (const char *[]){"9", "k", "{}"});
    tlj_commit(&j, 1000000);
    tlj_begin(&j, 11);
    tlj_insert(&j, USERS, 1, 3, (const char *[]){"7", "x", NULL});
    tlj_commit(&j, 1000000);
    tlj_begin(&j, 12);
    tlj_large(&j, 5);
    tlj_message(&j, "tidemark", "{\"who\":\"mallory\",\"why\":\"migration\"}");
    for (int i = 0; i < 5; i++)
        tlj_delete(&j, USERS, 1, 'O', 3, (const char *[]){id[i], "a", NULL});
    tlj_commit(&j, 1000000);
    tlj_begin(&j, 13);
    for (int i = 0; i < 3; i++)
        tlj_insert(&j, USERS, 1, 3, (const char *[]){id[i], "b", NULL});
    tlj_commit(&j, 1000000);
    tlj_close(&j);

    char *out = LOG(&j, "--transactions");
    const char *lines[] = {
        "2026-01-01 00:00:00+00  lsn 0/1000100  base snapshot of 2 tables\n",
        "2026-01-01 00:00:01+00  xid 10  lsn 0/1000200  4 rows  public.prefs: 3 update, 1 "
        "delete  context: {\"who\":\"carol\"}\n",
        "2026-01-01 00:00:02+00  xid 11  lsn 0/1000300  1 row  public.users: 1 insert\n",
        "2026-01-01 00:00:03+00  xid 12  lsn 0/1000400  5 rows  public.users: 5 delete  MASS "
        "CHANGE (5 rows of one table)  context: {\"who\":\"mallory\",\"why\":\"migration\"}\n",
        "2026-01-01 00:00:04+00  xid 13  lsn 0/1000500  3 rows  public.users: 3 insert\n",
    };
    char want[2048] = "";
    for (size_t i = 0; i < 5; i++)
        strcat(want, lines[i]);
    ck_assert_str_eq(out, want);
    free(out);

    out = LOG(&j, "--transactions", "--top", "2");
    char top[1024];
    snprintf(top, sizeof top, "%s%s", lines[3], lines[1]);
    ck_assert_str_eq(out, top);
    free(out);
    /* Only rows of the selected tables count. */
    out = LOG(&j, "--transactions", "--top", "3", "--table", "users");
    snprintf(top, sizeof top, "%s%s%s", lines[3],
             "2026-01-01 00:00:04+00  xid 13  lsn 0/1000500  3 rows  public.users: 3 insert\n",
             lines[2]);
    ck_assert_str_eq(out, top);
    free(out);

    out = LOG(&j, "--transactions", "--format", "jsonl");
    ck_assert_uint_eq(tlj_check_jsonl(out), 5);
    ck_assert_msg(strstr(out, "{\"time\":\"2026-01-01 00:00:03+00\",\"xid\":12,\"lsn\":"
                              "\"0/1000400\",\"rows\":5,\"tables\":{\"public.users\":{"
                              "\"delete\":5}},\"mass_change\":5,\"context\":{\"who\":"
                              "\"mallory\",\"why\":\"migration\"}}\n"),
                  "%s", out);
    ck_assert_msg(strstr(out, "\"snapshot\":true,\"tables\":2}"), "%s", out);
    free(out);
    /* The listing leaves the snapshot out: it is no change. */
    out = LOG(&j, "--format", "text");
    ck_assert_str_eq(xids_of(out), "10 11 12 13");
    ck_assert_msg(strstr(out, "xid 12  lsn 0/1000400  MASS CHANGE (5 rows of one table)\n"), "%s",
                  out);
    free(out);
    tlj_destroy(&j);
}
END_TEST

static void put_gap(tlj *j)
{
    Tidemark__Gap g = TIDEMARK__GAP__INIT;
    g.has_lsn = g.has_time = 1;
    g.lsn = j->lsn + 1;
    g.time = j->time;
    g.reason = "slot lost";
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_GAP;
    rec.gap = &g;
    tm_error err;
    ck_assert_msg(tm_writer_put_standalone(j->w, &rec, &err) == 0, "%s", err.msg);
}

/* A snapshot of prefs with rows 1..n (its TRUNCATE first, as capture
 * writes it). */
static void prefs_snapshot(tlj *j, uint32_t xid, int n)
{
    tlj_begin(j, xid);
    tlj_snapshot(j);
    tlj_truncate(j, PREFS, 1, 0);
    for (int i = 1; i <= n; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        tlj_insert(j, PREFS, 1, 3, (const char *[]){id, "k", "{}"});
    }
    tlj_commit(j, 1000000);
}

/* TRUNCATE counts the rows it removed: the table's rows just before it
 * (snapshot, inserts and deletes, also earlier in its own transaction),
 * so --top ranks a big TRUNCATE above a small update; after a gap the
 * count is not known until the next snapshot. */
START_TEST(truncate_rows)
{
    tlj j;
    tlj_open(&j, 0);
    tlj_relation(&j, USERS, 1, "public", "users", "id:int4:pk,email:text,big:text");
    tlj_relation(&j, PREFS, 1, "public", "prefs", "user_id:int4:pk,key:text:pk,value:jsonb");
    prefs_snapshot(&j, 1, 50);
    tlj_begin(&j, 10); /* a 2-row update */
    for (int i = 1; i <= 2; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", i);
        tlj_update(&j, PREFS, 1, 'O', 3, (const char *[]){id, "k", "{}"},
                   (const char *[]){id, "k", "{\"a\": 1}"});
    }
    tlj_commit(&j, 1000000);
    tlj_begin(&j, 11); /* 50 - 1 + 2 = 51 rows, then 1 more in its own transaction */
    tlj_delete(&j, PREFS, 1, 'O', 3, (const char *[]){"3", "k", "{}"});
    tlj_insert(&j, PREFS, 1, 3, (const char *[]){"100", "k", "{}"});
    tlj_insert(&j, PREFS, 1, 3, (const char *[]){"101", "k", "{}"});
    tlj_commit(&j, 1000000);
    tlj_begin(&j, 12);
    tlj_insert(&j, PREFS, 1, 3, (const char *[]){"102", "k", "{}"});
    tlj_truncate(&j, PREFS, 1, 0);
    tlj_insert(&j, PREFS, 1, 3, (const char *[]){"1", "k", "{}"});
    tlj_truncate(&j, PREFS, 1, 2); /* the second TRUNCATE of it: 1 row */
    tlj_commit(&j, 1000000);
    tlj_sync(&j);
    tlj_close(&j);

    char *out = LOG(&j, "--transactions", "--top", "1");
    ck_assert_str_eq(out, "2026-01-01 00:00:03+00  xid 12  lsn 0/1000400  55 rows  public.prefs: "
                          "2 insert, truncate (53 rows)\n");
    free(out);
    out = LOG(&j, "--xid", "12");
    ck_assert_msg(strstr(out, "  public.prefs  TRUNCATE  (52 rows)\n") &&
                      strstr(out, "  public.prefs  TRUNCATE RESTART IDENTITY  (1 row)\n"),
                  "%s", out);
    free(out);
    out = LOG(&j, "--xid", "12", "--format", "jsonl");
    ck_assert_msg(strstr(out, "\"op\":\"truncate\",\"cascade\":false,\"restart_identity\":false,"
                              "\"rows\":52"),
                  "%s", out);
    free(out);
    out = LOG(&j, "--transactions", "--xid", "12", "--format", "jsonl");
    ck_assert_msg(strstr(out, "\"rows\":55,\"tables\":{\"public.prefs\":{\"insert\":2,"
                              "\"truncate\":53}}"),
                  "%s", out);
    free(out);

    /* The counts are kept (DIR/rowcounts); a damaged file is counted again. */
    char *path = tmt_path(j.dir, "rowcounts");
    size_t len;
    unsigned char *saved = tmt_slurp(path, &len);
    ck_assert_uint_gt(len, 32);
    saved[len / 2] ^= 0x40;
    tmt_spit(path, saved, len);
    free(saved);
    out = LOG(&j, "--transactions", "--top", "1");
    ck_assert_msg(strstr(out, "truncate (53 rows)"), "%s", out);
    free(out);

    /* The journal grows: counting goes on from where it was. A gap makes
     * the count unknown, until the next snapshot. */
    tlj_open2(&j, 0, 0, j.dir);
    tlj_begin(&j, 13);
    tlj_insert(&j, PREFS, 1, 3, (const char *[]){"7", "k", "{}"});
    tlj_commit(&j, 1000000);
    tlj_begin(&j, 14);
    tlj_truncate(&j, PREFS, 1, 0);
    tlj_commit(&j, 1000000);
    put_gap(&j);
    tlj_begin(&j, 15);
    tlj_truncate(&j, PREFS, 1, 0);
    tlj_commit(&j, 1000000);
    prefs_snapshot(&j, 16, 4);
    tlj_begin(&j, 17);
    tlj_truncate(&j, PREFS, 1, 0);
    tlj_commit(&j, 1000000);
    tlj_close(&j);
    out = LOG(&j, "--transactions", "--from", "2026-01-01 00:00:04");
    ck_assert_msg(strstr(out, "xid 14  lsn 0/1000600  1 row  public.prefs: truncate (1 row)\n") &&
                      strstr(out, "xid 15  lsn 0/1000700  0 rows  public.prefs: truncate (rows not "
                                  "known)\n") &&
                      strstr(out, "xid 17  lsn 0/1000900  4 rows  public.prefs: truncate (4 "
                                  "rows)\n"),
                  "%s", out);
    free(out);
    out = LOG(&j, "--transactions", "--xid", "15", "--format", "jsonl");
    ck_assert_msg(strstr(out, "{\"public.prefs\":{\"truncate\":null}}"), "%s", out);
    free(out);
    free(path);
    tlj_destroy(&j);
}
END_TEST

/* The decoded JSON string at key (a decoded name) of object [p, e). */
static char *json_field(const char *p, const char *e, const char *key)
{
    const char *vp, *ve;
    ck_assert_msg(tm_json_get(p, e, key, strlen(key), &vp, &ve), "no key %s in %.*s", key,
                  (int)(e - p), p);
    ck_assert_msg(*vp == '"', "%s is not a string", key);
    char *s = calloc(1, (size_t)(ve - vp));
    tm_json_unescape(vp + 1, ve - 1, s);
    return s;
}

/* Names and values with quotes, backslashes, newlines, control characters,
 * unicode and SQL come out unchanged and unambiguous. */
START_TEST(quoting)
{
    static const char *schema = "S p\"q", *table = "We\"ird\nname";
    static const char *vals[] = {
        "it's \"quoted\" \\ back\\slash",
        "line1\nline2\ttab\r\x01"
        "end",
        "'; DROP TABLE users; --",
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe2\x9c\x93",
    };
    tlj j;
    tlj_open(&j, 0);
    tlj_relation(&j, USERS, 1, schema, table,
                 "id:int4:pk,Na\"me:text,new\nline:text,\xc3\xbcn\xc3\xaf:text,sel:text");
    tlj_begin(&j, 5);
    tlj_message(&j, "tidemark", "not json: \"x\"\n{");
    tlj_insert(&j, USERS, 1, 5, (const char *[]){"1", vals[0], vals[1], vals[2], vals[3]});
    tlj_update(&j, USERS, 1, 'O', 5, (const char *[]){"1", vals[0], vals[1], vals[2], vals[3]},
               (const char *[]){"1", vals[3], vals[2], vals[1], vals[0]});
    tlj_commit(&j, 1000);
    tlj_close(&j);

    char *out = LOG(&j, "--format", "text");
    const char *want =
        "2026-01-01 00:00:00+00  xid 5  lsn 0/1000100\n"
        "  context: \"not json: \\\"x\\\"\\n{\"\n"
        "  \"S p\\\"q\".\"We\\\"ird\\nname\"  INSERT  id=1\n"
        "    \"Na\\\"me\": \"it's \\\"quoted\\\" \\\\ back\\\\slash\"\n"
        "    \"new\\nline\": \"line1\\nline2\\ttab\\r\\u0001end\"\n"
        "    \"\xc3\xbcn\xc3\xaf\": \"'; DROP TABLE users; --\"\n"
        "    sel: \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe2\x9c\x93\"\n"
        "  \"S p\\\"q\".\"We\\\"ird\\nname\"  UPDATE  id=1\n"
        "    \"Na\\\"me\": \"it's \\\"quoted\\\" \\\\ back\\\\slash\" -> "
        "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe2\x9c\x93\"\n"
        "    \"new\\nline\": \"line1\\nline2\\ttab\\r\\u0001end\" -> \"'; DROP TABLE users; --\"\n"
        "    \"\xc3\xbcn\xc3\xaf\": \"'; DROP TABLE users; --\" -> "
        "\"line1\\nline2\\ttab\\r\\u0001end\"\n"
        "    sel: \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe2\x9c\x93\" -> "
        "\"it's \\\"quoted\\\" \\\\ back\\\\slash\"\n"
        "\n";
    ck_assert_str_eq(out, want);
    free(out);

    out = LOG(&j, "--format", "jsonl");
    ck_assert_uint_eq(tlj_check_jsonl(out), 2);
    char *nl = strchr(out, '\n');
    char *f = json_field(out, nl, "schema");
    ck_assert_str_eq(f, schema);
    free(f);
    f = json_field(out, nl, "name");
    ck_assert_str_eq(f, table);
    free(f);
    f = json_field(out, nl, "context");
    ck_assert_str_eq(f, "not json: \"x\"\n{");
    free(f);
    const char *np, *ne;
    ck_assert(tm_json_get(out, nl, "new", 3, &np, &ne));
    const char *names[] = {"Na\"me", "new\nline", "\xc3\xbcn\xc3\xaf", "sel"};
    for (int i = 0; i < 4; i++) {
        f = json_field(np, ne, names[i]);
        ck_assert_str_eq(f, vals[i]);
        free(f);
    }
    /* The update's changes: old and new of each column, decoded back. */
    const char *cp, *ce;
    ck_assert(tm_json_get(nl + 1, nl + strlen(nl), "changes", 7, &cp, &ce));
    for (int i = 0; i < 4; i++) {
        const char *ip, *ie;
        ck_assert(tm_json_index(cp, ce, i, false, &ip, &ie));
        f = json_field(ip, ie, "column");
        ck_assert_str_eq(f, names[i]);
        free(f);
        f = json_field(ip, ie, "old");
        ck_assert_str_eq(f, vals[i]);
        free(f);
        f = json_field(ip, ie, "new");
        ck_assert_str_eq(f, vals[3 - i]);
        free(f);
    }
    free(out);

    /* --where and --table with the awkward names. */
    out = LOG(&j, "--table", "\"S p\"\"q\".\"We\"\"ird\nname\"", "--where",
              "\"Na\"\"me\" = 'it''s \"quoted\" \\ back\\slash'");
    ck_assert_str_eq(xids_of(out), "5");
    ck_assert_uint_eq(tlj_count(out, "INSERT"), 1);
    ck_assert_uint_eq(tlj_count(out, "UPDATE"), 1); /* its old image matches */
    free(out);
    tlj_destroy(&j);
}
END_TEST

/* Runs the binary; checks the exit status and that stderr says `says`. */
static void expect_exit(int status, const char *says, const char *const *args)
{
    tm_run_result r;
    tm_tidemarkv(&r, NULL, args);
    tm_assert_exit(&r, status);
    ck_assert_msg(strstr(r.err, says), "stderr does not say \"%s\":\n%s", says, r.err);
    ck_assert_msg(r.out_len == 0, "printed to stdout on error: %s", r.out);
    tm_run_result_free(&r);
}

/* A usage error (2, said in the one shape). */
static void expect_usage(const char *says, const char *const *args)
{
    expect_exit(2, says, args);
}

/* A failure while working (1). */
static void expect_error(const char *says, const char *const *args)
{
    expect_exit(1, says, args);
}

START_TEST(errors)
{
    tlj j;
    history(&j);
    const char *d = j.dir;
    tm_run_result r;
    tm_tidemark(&r, NULL, "log", "--help", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Usage: tidemark log --journal DIR"));
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "log", "--journal", d, "--table", "users", "--format", "jsonl", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_uint_eq(tlj_check_jsonl(r.out), 5);
    tm_run_result_free(&r);

    expect_usage("--journal DIR is required", (const char *[]){"log", NULL});
    expect_usage("unknown option '--colour'",
                 (const char *[]){"log", "--journal", d, "--colour", NULL});
    expect_usage("--from: ", (const char *[]){"log", "--journal", d, "--from", "yesterday", NULL});
    expect_usage("--to: ", (const char *[]){"log", "--journal", d, "--to", "2026-13-45", NULL});
    expect_usage("--tz: ", (const char *[]){"log", "--journal", d, "--tz", "Mars/Olympus", NULL});
    expect_usage("--top goes with --transactions",
                 (const char *[]){"log", "--journal", d, "--top", "3", NULL});
    expect_usage("--top needs a number",
                 (const char *[]){"log", "--journal", d, "--transactions", "--top", "0", NULL});
    expect_usage("--xid must be a transaction id (a whole number up to 4294967295), not 'x1'",
                 (const char *[]){"log", "--journal", d, "--xid", "x1", NULL});
    expect_usage("--format must be text or jsonl, not 'xml'",
                 (const char *[]){"log", "--journal", d, "--format", "xml", NULL});
    expect_usage("--from is later than --to",
                 (const char *[]){"log", "--journal", d, "--from", "2026-02-01", "--to",
                                  "2026-01-01", NULL});
    expect_usage("--where given twice", (const char *[]){"log", "--journal", d, "--where", "id = 1",
                                                         "--where", "id = 2", NULL});
    expect_error("table public.nope is not in the journal",
                 (const char *[]){"log", "--journal", d, "--table", "nope", NULL});
    expect_error("its tables are: public.users, public.prefs",
                 (const char *[]){"log", "--journal", d, "--table", "nope", NULL});
    expect_error("no table in the journal has a column \"nope\"; the columns are: id, email, "
                 "big, user_id, key, value",
                 (const char *[]){"log", "--journal", d, "--where", "nope = 1", NULL});
    expect_error(
        "no selected table has a column \"email\"; the columns are: user_id, key, value",
        (const char *[]){"log", "--journal", d, "--table", "prefs", "--column", "email", NULL});
    expect_error("is not a valid integer value",
                 (const char *[]){"log", "--journal", d, "--where", "id = '1x'", NULL});
    expect_usage("OR is not supported",
                 (const char *[]){"log", "--journal", d, "--where", "id = 1 OR id = 2", NULL});

    char *missing = tmt_path(d, "nothing-here");
    expect_error("cannot open journal", (const char *[]){"log", "--journal", missing, NULL});
    free(missing);
    char *empty = tmt_tempdir();
    expect_error("is not a tidemark journal", (const char *[]){"log", "--journal", empty, NULL});
    tmt_tempdir_remove(empty);

    /* A damaged segment: an error naming it, not a crash or a partial
     * success. */
    char *seg = tmt_seg_path(d, 1);
    size_t len;
    unsigned char *b = tmt_slurp(seg, &len);
    /* The first frame's header: good frames follow, so this is damage,
     * not a torn tail. */
    for (size_t i = 40; i < 48; i++)
        b[i] ^= 0x5a;
    tmt_spit(seg, b, len);
    free(b);
    free(seg);
    expect_error("damaged", (const char *[]){"log", "--journal", d, NULL});
    tlj_destroy(&j);
}
END_TEST

/* A transaction whose formatted changes outgrow memory goes through a
 * temporary file, with its context still on every change. */
START_TEST(large_transaction)
{
    log_tx_spill_at = 4096;
    tlj j;
    tlj_open(&j, 0);
    tlj_relation(&j, USERS, 1, "public", "users", "id:int4:pk,email:text,big:text");
    tlj_begin(&j, 77);
    char id[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "%d", i);
        tlj_insert(&j, USERS, 1, 3, (const char *[]){id, "someone@example.org", NULL});
    }
    tlj_message(&j, "tidemark", "{\"late\":true}"); /* after the changes */
    tlj_commit(&j, 1000);
    tlj_close(&j);
    char *out = LOG(&j, "--format", "jsonl");
    ck_assert_uint_eq(tlj_check_jsonl(out), 3000);
    ck_assert_uint_eq(tlj_count(out, ",\"context\":{\"late\":true}}\n"), 3000);
    ck_assert_ptr_nonnull(strstr(out, "\"key\":{\"id\":2999}"));
    free(out);
    out = LOG(&j, "--format", "text");
    ck_assert_uint_eq(tlj_count(out, "  public.users  INSERT  id="), 3000);
    ck_assert_uint_eq(tlj_count(out, "  context: {\"late\":true}\n"), 1);
    free(out);
    tlj_destroy(&j);
}
END_TEST

/* A transaction with messages and no row changes (DDL with
 * scripts/ddl-messages.sql, a lone context) shows with --all-messages when
 * no rows were asked for; messages outside transactions at their place. */
START_TEST(message_only_transactions)
{
    tlj j;
    tlj_open(&j, 0);
    tlj_relation(&j, USERS, 1, "public", "users", "id:int4:pk,email:text,big:text");
    tlj_begin(&j, 300);
    tlj_insert(&j, USERS, 1, 3, (const char *[]){"1", "a", NULL});
    tlj_commit(&j, 1000000);
    tlj_begin(&j, 301);
    tlj_message(&j, "tidemark.ddl", "{\"tag\": \"ALTER TABLE\", \"user\": \"dba\"}");
    tlj_commit(&j, 1000000);
    tlj_standalone_message(&j, "ops", "deploy\n42");
    tlj_begin(&j, 302);
    tlj_delete(&j, USERS, 1, 'O', 3, (const char *[]){"1", "a", NULL});
    tlj_commit(&j, 1000000);
    tlj_close(&j);

    char *out = LOG(&j, "--format", "text");
    ck_assert_str_eq(xids_of(out), "300 302");
    free(out);
    out = LOG(&j, "--all-messages");
    ck_assert_str_eq(xids_of(out), "300 301 302");
    ck_assert_msg(strstr(out, "xid 301  lsn 0/1000200\n  message tidemark.ddl: {\"tag\": \"ALTER "
                              "TABLE\", \"user\": \"dba\"}\n\n"),
                  "%s", out);
    const char *ops = strstr(out, "  message (outside a transaction) ops: \"deploy\\n42\"\n");
    ck_assert_msg(ops && ops > strstr(out, "xid 301") && ops < strstr(out, "xid 302"), "%s", out);
    free(out);
    out = LOG(&j, "--all-messages", "--table", "users");
    ck_assert_str_eq(xids_of(out), "300 302");
    free(out);
    out = LOG(&j, "--all-messages", "--format", "jsonl");
    ck_assert_uint_eq(tlj_check_jsonl(out), 4);
    ck_assert_ptr_nonnull(strstr(out, "\"xid\":301,\"lsn\":\"0/1000200\",\"messages\":[{\"prefix\":"
                                      "\"tidemark.ddl\",\"content\":{\"tag\": \"ALTER TABLE\", "
                                      "\"user\": \"dba\"}}]}\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"message\":{\"prefix\":\"ops\",\"content\":\"deploy\\n42\","
                                      "\"transactional\":false}}\n"));
    free(out);
    out = LOG(&j, "--all-messages", "--transactions");
    ck_assert_uint_eq(tlj_count(out, "\n"), 3);
    ck_assert_ptr_nonnull(strstr(out, "xid 301  lsn 0/1000200  0 rows    message tidemark.ddl:"));
    free(out);
    tlj_destroy(&j);
}
END_TEST

int main(void)
{
    return tm_check_main("log", "log", 0,
                         TM_TESTS(listing, context, filters, transactions, truncate_rows, quoting,
                                  errors, message_only_transactions, large_transaction));
}
