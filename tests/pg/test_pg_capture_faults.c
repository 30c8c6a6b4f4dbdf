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
#include "tests/harness/support_proxy.h"
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
    /* Replay past the gap's start refuses; at its start it is known. */
    uint64_t from, to;
    char *reason, at[32], *now = tmc_current_lsn(c);
    ck_assert(tmc_last_gap(j, &from, &to, &reason));
    free(reason);
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--lsn", now, "--table", "events", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.err, "the journal has a gap at"), "%s", r.err);
    tm_run_result_free(&r);
    snprintf(at, sizeof at, "%X/%X", (unsigned)(from >> 32), (unsigned)from);
    tm_tidemark(&r, NULL, "replay", "--journal", j, "--lsn", at, "--table", "events", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(now);
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
        pid_t pid = tm_fork_child();
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
            execv(TM_BINARY, (char *const *)argv);
            _exit(127);
        }
        if (round == 0) {
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
            usleep(round == 1 ? 100000 : 400000);
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
        ck_assert_msg(round < 2 || strcmp(n, "0"), "the last kill left no slot behind: the test "
                                                   "proves nothing");
        free(n);
    }
    ck_assert_int_ge(orphans, 2);
    tm_pg_exec(c, "TRUNCATE expected");
    char *lsn = tmc_current_lsn(c);
    tm_run_result r;
    tm_run_opts o = {.timeout_ms = 300000};
    tm_tidemark(&r, &o, "capture", "--journal", j, "--source", ci, "--table", "events", "--table",
                "big", "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "was interrupted after it created replication slot "
                                "\"tidemark_capf_first\": dropped the slot") &&
                      strstr(r.err, "starting the first run over"),
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

/* A journal written before the durable mark existed (no confirmed.mark)
 * opens as before and gets a mark; nothing is lost or duplicated. */
START_TEST(journal_without_mark_adopted)
{
    PGconn *c;
    char *ci = tmc_setup_db(tm_pg_shared(), "capf_adopt", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_commit(c, 3);
    free(tmc_capture_to_now(c, j, ci, 0));
    char *mark = tmt_path(j, "confirmed.mark");
    ck_assert(unlink(mark) == 0);
    tmc_commit(c, 3);
    free(tmc_capture_to_now(c, j, ci, 0));
    ck_assert_msg(access(mark, F_OK) == 0, "no mark was made");
    tmc_commit(c, 2);
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_check_exactly_once(c, j);
    free(mark);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* What ps shows of a process: /proc/PID/cmdline, NULs as spaces. */
static char *cmdline_of(pid_t pid)
{
    char path[64], *text = malloc(65536);
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    long len = tm_read_small_file(path, text, 65536);
    ck_assert_msg(len > 0, "cannot read %s", path);
    for (long i = 0; i < len; i++)
        if (text[i] == '\0')
            text[i] = ' ';
    return text;
}

/* A running capture given a password on the command line: ps must not
 * show it (after a moment), and it is warned about once. */
static void password_hidden_in_ps(PGconn *c, const char *j, const char *source, const char *secret)
{
    char log_path[4096];
    snprintf(log_path, sizeof log_path, "%s.log", j);
    close(open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)); /* this run's lines only */
    pid_t pid = tmc_spawn(j, source, NULL);
    tmc_wait_slot_active(c, "tidemark_capf_secret", true);
    char *cmd = cmdline_of(pid);
    ck_assert_msg(!strstr(cmd, secret), "ps shows the password: %s", cmd);
    ck_assert_msg(strstr(cmd, "--source"), "%s", cmd);
    free(cmd);
    tmc_stop(pid, j);
    const char *log = tmc_log(j);
    ck_assert_msg(!strstr(log, secret), "%s", log);
    const char *w = strstr(log, "WARNING: a password was given in --source");
    ck_assert_msg(w && !strstr(w + 1, "WARNING: a password was given in --source"),
                  "warned not exactly once:\n%s", log);
    tmc_wait_slot_active(c, "tidemark_capf_secret", false);
}

/* Passwords never show: not in ps for a password in --source (key=value
 * or URI), not in the message for a malformed URI (libpq's own text), not
 * in any message when read from --source-file (which warns when others may
 * read it). */
START_TEST(password_exposure)
{
    tm_pg *pg = tm_pg_shared();
    PGconn *c;
    char *ci = tmc_setup_db(pg, "capf_secret", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_wait_slot_active(c, "tidemark_capf_secret", false);
    char src[1024];
    snprintf(src, sizeof src, "%s password=SuperSecret123", ci);
    password_hidden_in_ps(c, j, src, "SuperSecret123");
    snprintf(src, sizeof src, "postgresql://postgres:UriSecret99@127.0.0.1:%d/capf_secret",
             pg->port);
    password_hidden_in_ps(c, j, src, "UriSecret99");

    const char *bad[][2] = {{"postgresql://u:Pa%zzword@host/db", "zzword"},
                            {"postgresql://u:TopSecret@[::1/db", "TopSecret"},
                            {"host=h password=Leaky99 bogus=1", "Leaky99"}};
    for (size_t i = 0; i < 3; i++) {
        tm_run_result r;
        tm_tidemark(&r, NULL, "capture", "--journal", j, "--source", bad[i][0], NULL);
        tm_assert_exit(&r, 1);
        ck_assert_msg(strstr(r.err, "invalid connection string") && !strstr(r.err, bad[i][1]), "%s",
                      r.err);
        tm_run_result_free(&r);
    }

    char *file = tmt_path(j, "../source.conninfo");
    snprintf(src, sizeof src, "%s password=FileSecret77\n", ci);
    tmt_spit(file, src, strlen(src));
    chmod(file, 0644);
    char *lsn = tmc_current_lsn(c);
    tm_run_result r;
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source-file", file, "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(strstr(r.err, "can be read by group or others (mode 0644)") &&
                      !strstr(r.err, "FileSecret77"),
                  "%s", r.err);
    tm_run_result_free(&r);
    chmod(file, 0600);
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source-file", file, "--endpos", lsn, NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(!strstr(r.err, "WARNING"), "%s", r.err);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "capture", "--journal", j, "--source-file", file, "--source", ci, NULL);
    tm_assert_exit(&r, 2);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "capture", "--journal", j, NULL);
    tm_assert_exit(&r, 2);
    ck_assert_msg(strstr(r.err, "--source-file FILE"), "%s", r.err);
    tm_run_result_free(&r);
    free(lsn);
    free(file);
    PQfinish(c);
    free(ci);
    tmt_journal_remove(j);
}
END_TEST

/* The largest "lag=...B/N.Ns" seconds in a capture log. */
static double max_lag_seconds(const char *log)
{
    double most = 0;
    for (const char *p = log; (p = strstr(p, "lag=")) != NULL; p++) {
        unsigned long long bytes;
        double sec;
        if (sscanf(p, "lag=%lluB/%lfs", &bytes, &sec) == 2 && sec > most)
            most = sec;
    }
    return most;
}

/* A frozen network (packets dropped, no reset) between capture and the
 * server: capture must notice within its receive timeout, say so, show the
 * silence as lag meanwhile (never 0), and once the network is back come
 * back and lose nothing. */
START_TEST(frozen_network)
{
    tm_pg pg;
    char err[256];
    /* the walsender of the frozen connection lets go of the slot soon */
    ck_assert_msg(tm_pg_start(&pg, "wal_sender_timeout = 3s", err, sizeof err) == 0, "%s", err);
    PGconn *c;
    char *ci = tmc_setup_db(&pg, "capf_frozen", &c);
    char *j = tmt_journal_path();
    free(tmc_capture_to_now(c, j, ci, 0));
    tmc_wait_slot_active(c, "tidemark_capf_frozen", false);
    tm_proxy px;
    tm_proxy_start(&px, pg.port);
    char via[256];
    snprintf(via, sizeof via, "host=127.0.0.1 port=%d user=postgres dbname=capf_frozen", px.port);
    pid_t pid = tmc_spawn(j, via, "--receive-timeout", "4", "--status-interval", "1", NULL);
    tmc_wait_slot_active(c, "tidemark_capf_frozen", true);
    tmc_commit(c, 2);
    char *lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, "tidemark_capf_frozen", lsn, 60000), "%s", tmc_log(j));
    free(lsn);

    tm_proxy_set(&px, TM_PROXY_FREEZE);
    long long frozen_at = tm_now_ms();
    tmc_commit(c, 3);
    bool noticed = false;
    while (!noticed && tm_now_ms() - frozen_at < 12000) {
        usleep(200000);
        noticed = strstr(tmc_log(j), "nothing came from the server for 4 s") != NULL;
    }
    ck_assert_msg(noticed, "capture did not notice the dead link in 12 s; its log:\n%s",
                  tmc_log(j));
    ck_assert_msg(max_lag_seconds(tmc_log(j)) >= 2.0, "the status lines hid the silence:\n%s",
                  tmc_log(j));
    usleep(2000000); /* it tries to come back while the network is still frozen */
    tm_proxy_set(&px, TM_PROXY_PASS);
    lsn = tmc_current_lsn(c);
    ck_assert_msg(tmc_wait_confirmed(c, "tidemark_capf_frozen", lsn, 90000), "%s", tmc_log(j));
    free(lsn);
    ck_assert_msg(strstr(tmc_log(j), "reconnected"), "%s", tmc_log(j));
    tmc_stop(pid, j);
    tm_proxy_stop(&px);
    tmc_check_exactly_once(c, j);
    PQfinish(c);
    tm_pg_stop(&pg);
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
    tcase_add_test(tc, frozen_network);
    tcase_add_test(tc, password_exposure);
    tcase_add_test(tc, journal_without_mark_adopted);
    suite_add_tcase(s, tc);
    return tm_check_run(s);
}
