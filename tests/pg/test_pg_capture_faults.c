/* tidemark capture when things go wrong, against a real PostgreSQL 15: the
 * ways a trial lost data or hung, each of which must now be caught or
 * survived without losing or duplicating a transaction. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "store/journal/segment.h"
#include "tests/harness/pg_harness.h"
#include "tests/harness/support_capture.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"
#include "tests/harness/tm_sys.h"

/* The number of the journal's last segment. */
static uint64_t last_segment(const char *journal)
{
    uint64_t last = 0;
    for (;;) {
        char *p = tmt_seg_path(journal, last + 1);
        bool there = access(p, F_OK) == 0;
        free(p);
        if (!there)
            return last;
        last++;
    }
}

/* Bit rot in the last frame of the last segment, which was fsynced and
 * confirmed to the server: the server never sends those transactions
 * again, so capture must refuse to start (naming segment and offset)
 * rather than cut the frame as if it were a torn write. */
START_TEST(bit_rot_in_last_frame)
{
    PGconn *c;
    char *ci = tmc_setup_db(tm_pg_shared(), "capf_rot", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_commit(c, 5);
    free(tmc_capture_to_now(c, j, ci, 0));
    char *confirmed = tm_pg_query_value(c, "SELECT confirmed_flush_lsn FROM pg_replication_slots "
                                           "WHERE slot_name = 'tidemark_capf_rot'");

    uint64_t segno = last_segment(j);
    char *seg = tmt_seg_path(j, segno);
    int fd = open(seg, O_RDONLY);
    tm_seg_scan sc;
    tm_error err;
    ck_assert(tm_segment_scan(fd, segno, true, &sc, &err) == 0);
    close(fd);
    ck_assert(!sc.damaged && sc.frames.n > 0);
    tm_frame_entry last = sc.frames.v[sc.frames.n - 1];
    tm_seg_scan_free(&sc);
    size_t len;
    unsigned char *data = tmt_slurp(seg, &len);
    ck_assert_uint_eq(len, tm_frame_end(&last));
    data[last.offset + TM_FRAME_HDR_SIZE + last.h.clen / 2] ^= 0x04;
    tmt_spit(seg, data, len);

    char *out = tmc_capture_to_now(c, j, ci, 1);
    char at[64];
    snprintf(at, sizeof at, "damaged at offset %llu", (unsigned long long)last.offset);
    ck_assert_msg(strstr(out, at) && strstr(out, "below the durable mark") &&
                      strstr(out, "restore the journal from a backup"),
                  "%s", out);
    ck_assert_msg(!strstr(out, "cut "), "cut a confirmed frame: %s", out);
    free(out);
    size_t now;
    unsigned char *after = tmt_slurp(seg, &now);
    ck_assert_msg(now == len && memcmp(after, data, len) == 0, "capture changed the segment");
    char *still = tm_pg_query_value(c, "SELECT confirmed_flush_lsn FROM pg_replication_slots "
                                       "WHERE slot_name = 'tidemark_capf_rot'");
    ck_assert_str_eq(still, confirmed);
    free(still);
    free(after);
    free(data);
    free(seg);
    free(confirmed);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* Transactions of the journal that are not base snapshots. */
static int journal_tx_count(const char *journal)
{
    tm_reader *r;
    tm_error err;
    ck_assert_msg(tm_reader_open(journal, &r, &err) == 0, "%s", err.msg);
    const Tidemark__Record *rec;
    int n = 0, rc;
    while ((rc = tm_reader_next(r, &rec, &err)) == 1)
        n += rec->body_case == TIDEMARK__RECORD__BODY_BEGIN && !rec->begin->snapshot;
    ck_assert_msg(rc == 0, "%s", err.msg);
    tm_reader_close(r);
    return n;
}

/* The journal ends with a gap whose reason says why; the range is sane. */
static void check_gap_recorded(const char *journal, const char *why)
{
    uint64_t from = 0, to = 0;
    char *reason;
    ck_assert_msg(tmc_last_gap(journal, &from, &to, &reason), "no Gap record in the journal");
    ck_assert_msg(strstr(reason, why), "gap reason: %s", reason);
    ck_assert_msg(from > 0 && to > from, "gap range %llx..%llx", (unsigned long long)from,
                  (unsigned long long)to);
    free(reason);
}

/* A later start sees the unhealed gap and refuses with the same reason. */
static void check_gap_refused(PGconn *c, const char *journal, const char *ci, const char *why)
{
    char *out = tmc_capture_to_now(c, journal, ci, 1);
    ck_assert_msg(strstr(out, "ends with a gap from") && strstr(out, why) &&
                      strstr(out, "Start a new journal in an empty directory"),
                  "%s", out);
    free(out);
}

/* The slot is dropped and created again with the same name while capture
 * is stopped: the transactions committed in between are not in the slot.
 * Capture must say so, record the gap, and stop, also at every later
 * start; it must not resume from the new slot's position. */
START_TEST(slot_recreated_while_stopped)
{
    PGconn *c;
    char *ci = tmc_setup_db(tm_pg_shared(), "capf_recreate", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_commit(c, 3);
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_wait_slot_active(c, "tidemark_capf_recreate", false);
    tm_pg_exec(c, "SELECT pg_drop_replication_slot('tidemark_capf_recreate')");
    tmc_commit(c, 4); /* lost: no slot kept them */
    tm_pg_exec(c, "SELECT pg_create_logical_replication_slot('tidemark_capf_recreate', "
                  "'pgoutput')");
    tmc_commit(c, 2);

    char *out = tmc_capture_to_now(c, j, ci, 1);
    ck_assert_msg(strstr(out, "is ahead of the journal") && strstr(out, "a gap from") &&
                      strstr(out, "dropped and created again") &&
                      strstr(out, "Start a new journal in an empty directory"),
                  "%s", out);
    free(out);
    check_gap_recorded(j, "is ahead of the journal");
    ck_assert_int_eq(journal_tx_count(j), 3); /* nothing appended across the gap */
    check_gap_refused(c, j, ci, "is ahead of the journal");
    ck_assert_int_eq(journal_tx_count(j), 3);
    tm_run_result r;
    tm_tidemark(&r, NULL, "verify", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* The slot is dropped while capture streams (its walsender terminated)
 * and created again before capture gets back: capture must not resume on
 * the new slot, but record the gap and stop. Connections to the database
 * are refused meanwhile, so that capture cannot come back too early. */
START_TEST(slot_dropped_while_streaming)
{
    tm_pg *pg = tm_pg_shared();
    PGconn *c;
    char *ci = tmc_setup_db(pg, "capf_stream", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_wait_slot_active(c, "tidemark_capf_stream", false);
    pid_t pid = tmc_spawn(j, ci, NULL);
    tmc_wait_slot_active(c, "tidemark_capf_stream", true);
    tmc_commit(c, 3);
    char *lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, "tidemark_capf_stream", lsn, 60000), "%s", tmc_log(j));
    free(lsn);

    PGconn *admin = tm_pg_connect(pg, NULL);
    tm_pg_exec(admin, "ALTER DATABASE capf_stream ALLOW_CONNECTIONS false");
    tm_pg_exec(c, "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                  "WHERE datname = 'capf_stream' AND pid <> pg_backend_pid()");
    tmc_wait_slot_active(c, "tidemark_capf_stream", false);
    tm_pg_exec(c, "SELECT pg_drop_replication_slot('tidemark_capf_stream')");
    tmc_commit(c, 4); /* lost */
    tm_pg_exec(c, "SELECT pg_create_logical_replication_slot('tidemark_capf_stream', "
                  "'pgoutput')");
    tmc_commit(c, 2);
    tm_pg_exec(admin, "ALTER DATABASE capf_stream ALLOW_CONNECTIONS true");
    PQfinish(admin);

    int status = tmc_wait_exit(pid, 90000);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("capture went on across the gap; its log:\n%s", tmc_log(j));
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d; log:\n%s", status,
                  tmc_log(j));
    const char *log = tmc_log(j);
    ck_assert_msg(strstr(log, "is ahead of the journal") && strstr(log, "a gap from"), "%s", log);
    check_gap_recorded(j, "is ahead of the journal");
    ck_assert_int_eq(journal_tx_count(j), 3);
    check_gap_refused(c, j, ci, "is ahead of the journal");
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* Restart right after kill -9: the server may still show the slot active
 * (the dead capture's walsender has not noticed). Capture must wait for it
 * instead of exiting. Held for a few seconds here by a walsender of the
 * test's own; then kill -9 and an immediate restart, three times. */
START_TEST(slot_held_after_kill)
{
    tm_pg *pg = tm_pg_shared();
    PGconn *c;
    char *ci = tmc_setup_db(pg, "capf_held", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_wait_slot_active(c, "tidemark_capf_held", false);
    PGconn *holder = tm_pg_connect_replication(pg, "capf_held");
    PGresult *r = PQexec(holder, "START_REPLICATION SLOT tidemark_capf_held LOGICAL 0/0 "
                                 "(proto_version '1', publication_names 'tidemark')");
    ck_assert_msg(PQresultStatus(r) == PGRES_COPY_BOTH, "%s", PQerrorMessage(holder));
    PQclear(r);
    tmc_wait_slot_active(c, "tidemark_capf_held", true);

    pid_t pid = tmc_spawn(j, ci, NULL);
    tmc_commit(c, 2);
    ck_assert_msg(tmc_wait_exit(pid, 4000) == -1, "capture gave up on a held slot:\n%s",
                  tmc_log(j));
    ck_assert_msg(strstr(tmc_log(j), "is in use by process"), "%s", tmc_log(j));
    PQfinish(holder);
    char *lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, "tidemark_capf_held", lsn, 60000), "%s", tmc_log(j));
    free(lsn);
    ck_assert_msg(strstr(tmc_log(j), "was released; going on"), "%s", tmc_log(j));
    for (int round = 0; round < 3; round++) {
        tmc_commit(c, 2);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = tmc_spawn(j, ci, NULL); /* at once: the walsender may still hold the slot */
        tmc_commit(c, 1);
        ck_assert_msg(tmc_wait_exit(pid, 1500) == -1, "capture exited:\n%s", tmc_log(j));
    }
    lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, "tidemark_capf_held", lsn, 60000), "%s", tmc_log(j));
    free(lsn);
    tmc_stop(pid, j);
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_check_exactly_once(c, j);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* After an abrupt server stop (pg_ctl stop -m immediate) capture must not
 * spin while the server stays down: its CPU time over five seconds is
 * next to nothing. Then the server comes back and nothing is lost. */
START_TEST(no_busy_loop_while_server_down)
{
    tm_pg pg;
    char err[256];
    ck_assert_msg(tm_pg_start(&pg, NULL, err, sizeof err) == 0, "%s", err);
    PGconn *c;
    char *ci = tmc_setup_db(&pg, "capf_down", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_wait_slot_active(c, "tidemark_capf_down", false);
    pid_t pid = tmc_spawn(j, ci, NULL);
    tmc_wait_slot_active(c, "tidemark_capf_down", true);
    tmc_commit(c, 3);
    char *lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, "tidemark_capf_down", lsn, 60000), "%s", tmc_log(j));
    free(lsn);
    PQfinish(c);

    tmc_server_down(&pg, "immediate");
    usleep(300000);
    long cpu0 = tmc_cpu_ms(pid);
    sleep(5);
    long cpu1 = tmc_cpu_ms(pid);
    ck_assert_msg(cpu0 >= 0 && cpu1 >= 0, "capture is gone:\n%s", tmc_log(j));
    ck_assert_msg(cpu1 - cpu0 <= 150, "capture used %ld ms of CPU in 5 s with the server down",
                  cpu1 - cpu0);
    tmc_server_up(&pg);

    c = tm_pg_connect(&pg, "capf_down");
    tmc_commit(c, 3);
    lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, "tidemark_capf_down", lsn, 90000), "%s", tmc_log(j));
    free(lsn);
    tmc_stop(pid, j);
    tmc_check_exactly_once(c, j);
    PQfinish(c);
    tm_pg_stop(&pg);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* kill -9 during the first run, after the slot was created and before the
 * base snapshot is complete (a COPY of a few hundred MB): the slot left
 * behind must not block the rerun, nor stay to hold WAL. The rerun drops
 * it, says so, and makes a complete journal. Also a kill before the slot
 * exists. */
START_TEST(crash_during_first_run)
{
    tm_pg *pg = tm_pg_shared();
    PGconn *c;
    char *ci = tmc_setup_db(pg, "capf_first", &c);
    tm_pg_exec(c, "CREATE TABLE big (id int PRIMARY KEY, v text);"
                  "ALTER TABLE big REPLICA IDENTITY FULL;"
                  "INSERT INTO big SELECT g, repeat(md5(g::text), 3000) FROM "
                  "generate_series(1, 3000) g");
    char *j = tmt_journal_path();
    int orphans = 0;
    for (int round = 0; round < 3; round++) {
        const char *argv[] = {TM_BINARY, "capture", "--journal", j,     "--source", ci,
                              "--table", "events",  "--table",   "big", NULL};
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
            execv(TM_BINARY, (char *const *)argv);
            _exit(127);
        }
        if (round == 2) {
            usleep(20000); /* most likely before the slot exists */
        } else {
            for (int i = 0; i < 2000; i++) {
                char *n = tm_pg_query_value(c, "SELECT count(*) FROM pg_replication_slots WHERE "
                                               "slot_name = 'tidemark_capf_first'");
                bool there = n && strcmp(n, "0");
                free(n);
                if (there)
                    break;
                usleep(5000);
            }
            usleep(round == 0 ? 100000 : 400000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        char *meta = tmt_path(j, "journal.meta");
        bool finished = access(meta, F_OK) == 0;
        free(meta);
        ck_assert_msg(!finished, "round %d: the first run finished before it was killed", round);
        char *n = tm_pg_query_value(c, "SELECT count(*) FROM pg_replication_slots WHERE "
                                       "slot_name = 'tidemark_capf_first'");
        orphans += strcmp(n, "0") != 0;
        free(n);
    }
    ck_assert_msg(orphans > 0, "no kill left a slot behind: the test proves nothing");
    tm_pg_exec(c, "TRUNCATE expected");
    char *lsn = tmc_current_lsn(c);
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 300000};
    tm_tidemark(&r, &o, "capture", "--journal", j, "--source", ci, "--table", "events", "--table",
                "big", "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "dropped the slot") || strstr(r.err, "starting the first run "
                                                                     "over"),
                  "%s", r.err);
    tm_run_result_free(&r);
    free(lsn);
    char *n = tm_pg_query_value(c, "SELECT count(*) FROM pg_replication_slots WHERE slot_name "
                                   "LIKE 'tidemark_capf_first%%'");
    ck_assert_str_eq(n, "1");
    free(n);
    char *pending = tmt_path(j, "init.pending");
    ck_assert_msg(access(pending, F_OK) != 0, "init.pending left behind");
    free(pending);
    tmc_commit(c, 3);
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_check_exactly_once(c, j);
    tm_tidemark(&r, NULL, "verify", "--journal", j, NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_capture_faults");
    TCase *tc = tcase_create("faults");
    tm_pg_fixture_add(tc);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, bit_rot_in_last_frame);
    tcase_add_test(tc, slot_recreated_while_stopped);
    tcase_add_test(tc, slot_dropped_while_streaming);
    tcase_add_test(tc, slot_held_after_kill);
    tcase_add_test(tc, no_busy_loop_while_server_down);
    tcase_add_test(tc, crash_during_first_run);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
