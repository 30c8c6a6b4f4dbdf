/* tidemark log on journals of known content written with the real writer:
 * the listing (keys, diffs, jsonb paths, unchanged TOAST), context attached
 * to the right transaction only, every filter, --transactions and --top,
 * JSON Lines validity, and quoting of awkward names and values. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "support_log.h"
#include "tm_check.h"

#define PREFS 16400
#define USERS 16401

/* users(id int4 pk, email text, big text), prefs(user_id int4 pk, key text
 * pk, value jsonb) and a small history:
 *   tx 100 (t0):     insert user 1, 2; context {"user":"alice"}
 *   tx 101 (t0+1s):  update user 1 email; update prefs (1,'ui') jsonb
 *   tx 102 (t0+2s):  delete user 2 (whole old row); other-prefix message
 *   tx 103 (t0+3s):  update user 1 without an old image, big unchanged TOAST
 *   tx 104 (t0+4s):  truncate prefs; context {"user":"bob"} */
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

    tlj_begin(j, 101);
    tlj_update(j, USERS, 1, 'O', 3, (const char *[]){"1", "a@x.org", "bigvalue"},
               (const char *[]){"1", "a2@x.org", "bigvalue"});
    tlj_update(j, PREFS, 1, 'O', 3,
               (const char *[]){"1", "ui", "{\"theme\": \"light\", \"notifications\": true}"},
               (const char *[]){"1", "ui", "{\"lang\": \"fr\", \"theme\": \"dark\"}"});
    tlj_commit(j, 1000000);

    tlj_begin(j, 102);
    tlj_delete(j, USERS, 1, 'O', 3, (const char *[]){"2", "b@x.org", NULL});
    tlj_message(j, "audit", "deleted by cron");
    tlj_commit(j, 1000000);

    tlj_begin(j, 103);
    tlj_update(j, USERS, 1, 0, 3, NULL, (const char *[]){"1", "a3@x.org", TLJ_U});
    tlj_commit(j, 1000000);

    tlj_begin(j, 104);
    tlj_truncate(j, PREFS, 1, 1);
    tlj_message(j, "tidemark", "{\"user\":\"bob\"}");
    tlj_commit(j, 1000000);
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
    ck_assert_msg(strstr(out, "  public.prefs  TRUNCATE CASCADE\n"), "%s", out);
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

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, listing);
    tcase_add_test(tc, context);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
