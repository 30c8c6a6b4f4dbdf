/* tidemark verify names every damaged file of a journal, whatever its kind,
 * through the binary and without a server: a journal of several segments
 * (indexes), journal.meta, checkpoints, key summaries and row counts (made
 * by tidemark checkpoint) is clean (exit 0, a line per file, no damage); one damaged
 * byte in a segment, an index, journal.meta, a checkpoint or a key summary
 * gives exit 1 and one BAD line naming that file (with the offset where it
 * applies, and for the caches what damage means: replay or log will not use
 * it, remove it or run tidemark checkpoint again), counted in the totals;
 * an unknown file or directory is reported as unknown, not as damage;
 * temporary files are listed, not counted as damage; the durable mark is
 * checked against the segment it names. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/journal/journal.h"
#include "store/journal/segment.h"
#include "tests/harness/support_journal.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

#define T0 INT64_C(1767225600000000)
#define CKPT_ADVICE "damaged; replay will not use it"
#define KEYS_ADVICE "damaged; tidemark log will not use it"
#define CACHE_TODO "remove it or run tidemark checkpoint again"

static char *journal;
static char ckpt_name[64]; /* "checkpoints/<LSN>.ckpt", the first one */

/* public.prefs (id int PRIMARY KEY, v text): a snapshot and 300 small
 * transactions over segments of 8 kB, then checkpoints every 200 changes. */
static void make_journal(void)
{
    journal = tmt_tempdir();
    tmt_jw j = {.time = T0};
    tm_writer_options o = {.segment_size = 8192, .frame_target = 1024};
    tmt_jw_open(&j, journal, &o);
    const tmt_col cols[] = {{"id", 23, 1, false, NULL}, {"v", 25, 0, false, NULL}};
    tmt_jw_relation(j.w, 500, 1, 100, "prefs", 'f', cols, 2);
    tmt_jw_begin(&j, 1, true, T0);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__TRUNCATE, 500, 1, 0, NULL, 0, NULL, 0);
    tmt_jw_end(&j);
    for (int i = 0; i < 300; i++) {
        char id[16], v[40];
        snprintf(id, sizeof id, "%d", i);
        snprintf(v, sizeof v, "value number %d of the test", i);
        tm_value row[2] = {{id, (uint32_t)strlen(id), TM_KIND_TEXT},
                           {v, (uint32_t)strlen(v), TM_KIND_TEXT}};
        tmt_jw_begin(&j, 1, false, T0 + (i + 1) * 1000);
        tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, 500, 1, 0, NULL, 0, row, 2);
        tmt_jw_end(&j);
    }
    tmt_jw_close(&j);
    tm_run_result r;
    tm_tidemark(&r, NULL, "checkpoint", "--journal", journal, "--every", "200", "--quiet", NULL);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);

    char *cdir = tmt_path(journal, "checkpoints");
    DIR *d = opendir(cdir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    ckpt_name[0] = '\0';
    while ((e = readdir(d)))
        if (strlen(e->d_name) == 21 && strstr(e->d_name, ".ckpt") &&
            (!ckpt_name[0] || strcmp(e->d_name, ckpt_name + 12) < 0))
            snprintf(ckpt_name, sizeof ckpt_name, "checkpoints/%s", e->d_name);
    closedir(d);
    free(cdir);
    ck_assert_msg(ckpt_name[0], "tidemark checkpoint wrote no checkpoint");
}

static void setup(void)
{
    make_journal();
}

static void teardown(void)
{
    tmt_rmtree(journal);
    free(journal);
}

static void verify(tm_run_result *r)
{
    tm_tidemark(r, NULL, "verify", "--journal", journal, NULL);
}

/* The line of file name in out ("" when none). */
static const char *line_of(const char *out, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = out; *p;) {
        size_t l = strcspn(p, "\n");
        if (l > n + 1 && !strncmp(p, name, n) && p[n] == ' ') {
            snprintf(buf, len, "%.*s", (int)l, p);
            return buf;
        }
        p += l + (p[l] == '\n');
    }
    buf[0] = '\0';
    return buf;
}

START_TEST(clean_journal_is_clean)
{
    tm_run_result r;
    verify(&r);
    tm_assert_exit(&r, 0);
    char l[2048];
    const char *must[] = {"journal.meta",
                          "0000000000000001.seg",
                          "0000000000000001.idx",
                          "0000000000000002.seg",
                          "0000000000000001.keys",
                          ckpt_name,
                          "rowcounts"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        ck_assert_msg(strstr(line_of(r.out, must[i], l, sizeof l), "  ok"),
                      "no ok line for %s:\n%s", must[i], r.out);
    ck_assert_msg(!strstr(r.out, "BAD") && !strstr(r.out, "unknown  ") &&
                      strstr(r.out, " damaged=0 unknown=0  sound\n"),
                  "%s", r.out);
    tm_run_result_free(&r);
}
END_TEST

/* Flips one byte of file name (at `at`, or in its middle when at < 0),
 * checks that verify names it, then puts it back. */
static void damage_one(const char *name, long at, const char *want_status, const char *want)
{
    char *path = tmt_path(journal, name);
    size_t len;
    unsigned char *b = tmt_slurp(path, &len);
    size_t off = at < 0 ? len / 2 : (size_t)at;
    ck_assert_uint_lt(off, len);
    b[off] ^= 0x20;
    tmt_spit(path, b, len);

    tm_run_result r;
    verify(&r);
    tm_assert_exit(&r, 1);
    char l[2048], head[128];
    line_of(r.out, name, l, sizeof l);
    snprintf(head, sizeof head, "%s  %s", name, want_status);
    ck_assert_msg(!strncmp(l, head, strlen(head)), "no '%s' line:\n%s", head, r.out);
    ck_assert_msg(!want || strstr(l, want), "'%s' lacks '%s'", l, want);
    ck_assert_msg(strstr(r.out, " damaged=1 ") && strstr(r.out, "  DAMAGED\n"), "%s", r.out);
    int bad = 0;
    for (const char *p = r.out; (p = strstr(p, "  BAD")); p++)
        bad++;
    ck_assert_msg(bad == 1, "%d BAD lines for one damaged file:\n%s", bad, r.out);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "verify", "--journal", journal, "--quiet", NULL);
    tm_assert_exit(&r, 1);
    ck_assert_msg(!strncmp(r.out, head, strlen(head)), "--quiet:\n%s", r.out);
    tm_run_result_free(&r);

    b[off] ^= 0x20;
    tmt_spit(path, b, len);
    verify(&r);
    tm_assert_exit(&r, 0);
    tm_run_result_free(&r);
    free(b);
    free(path);
}

START_TEST(each_damaged_file_is_named)
{
    damage_one("0000000000000001.seg", -1, "BAD at offset ", NULL);
    damage_one("0000000000000001.idx", -1, "BAD: ", "readers find the segment's frames without it");
    damage_one("journal.meta", 0, "BAD: ", "restored from a backup");
    damage_one(ckpt_name, -1, "BAD at offset ", CKPT_ADVICE);
    damage_one(ckpt_name, 0, "BAD at offset 0: ", CACHE_TODO); /* its header */
    damage_one("0000000000000001.keys", -1, "BAD: ", KEYS_ADVICE);
    damage_one("0000000000000002.keys", 0, "BAD: ", CACHE_TODO);
    damage_one("rowcounts", -1, "BAD: ", KEYS_ADVICE);
}
END_TEST

/* Runs verify: it must exit with code, and the line of file name must
 * hold want (and also, unless NULL). */
static void verify_line(int code, const char *name, const char *want, const char *also)
{
    tm_run_result r;
    char l[2048];
    verify(&r);
    tm_assert_exit(&r, code);
    line_of(r.out, name, l, sizeof l);
    ck_assert_msg(strstr(l, want) && (!also || strstr(l, also)), "%s", r.out);
    tm_run_result_free(&r);
}

/* A checkpoint or a key summary cut short is damage too. */
START_TEST(cut_caches)
{
    char *ck = tmt_path(journal, ckpt_name);
    size_t len;
    unsigned char *b = tmt_slurp(ck, &len);
    tmt_spit(ck, b, len - 7);
    verify_line(1, ckpt_name, "BAD at offset", NULL);
    tmt_spit(ck, b, len);
    free(b);
    free(ck);

    char *keys = tmt_path(journal, "0000000000000001.keys");
    b = tmt_slurp(keys, &len);
    tmt_spit(keys, b, 20);
    verify_line(1, "0000000000000001.keys", "BAD: it is not", NULL);
    free(b);
    free(keys);
}
END_TEST

START_TEST(unknown_and_temporary_files)
{
    char *stray = tmt_path(journal, "notes.txt"), *spool = tmt_path(journal, "spool.tmp");
    char *mark = tmt_path(journal, "init.pending"), *dir = tmt_path(journal, "old");
    char *cstray = tmt_path(journal, "checkpoints/copy.ckpt");
    char *ctmp = tmt_path(journal, "checkpoints/00000000000000ff.ckpt.tmp");
    tmt_spit(stray, "hello\n", 6);
    tmt_spit(spool, "x", 1);
    tmt_spit(mark, "0/0\n", 4);
    tmt_spit(cstray, "x", 1);
    tmt_spit(ctmp, "x", 1);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    tm_run_result r;
    verify(&r);
    tm_assert_exit(&r, 0);
    char l[2048];
    ck_assert_msg(strstr(line_of(r.out, "notes.txt", l, sizeof l), "  unknown  "), "%s", r.out);
    ck_assert_msg(strstr(line_of(r.out, "old/", l, sizeof l), "  unknown  "), "%s", r.out);
    ck_assert_msg(strstr(line_of(r.out, "checkpoints/copy.ckpt", l, sizeof l), "  unknown  "), "%s",
                  r.out);
    ck_assert_msg(strstr(line_of(r.out, "spool.tmp", l, sizeof l), "  temporary  capture's spool"),
                  "%s", r.out);
    ck_assert_msg(strstr(line_of(r.out, "checkpoints/00000000000000ff.ckpt.tmp", l, sizeof l),
                         "  temporary  "),
                  "%s", r.out);
    ck_assert_msg(strstr(line_of(r.out, "init.pending", l, sizeof l), "  known  "), "%s", r.out);
    ck_assert_msg(strstr(r.out, " damaged=0 unknown=3  sound\n"), "%s", r.out);
    tm_run_result_free(&r);
    tm_tidemark(&r, NULL, "verify", "--journal", journal, "--quiet", NULL);
    tm_assert_exit(&r, 0);
    ck_assert_msg(!strncmp(r.out, "total  ", 7) && strchr(r.out, '\n')[1] == '\0',
                  "--quiet prints more than the totals:\n%s", r.out);
    tm_run_result_free(&r);
    free(stray);
    free(spool);
    free(mark);
    free(dir);
    free(cstray);
    free(ctmp);
}
END_TEST

/* An index whose segment is not in the journal would be taken for the
 * index of the next segment capture creates: damage. */
START_TEST(orphan_index)
{
    char *idx = tmt_idx_path(journal, 1), *far = tmt_idx_path(journal, 0x99);
    size_t len;
    unsigned char *b = tmt_slurp(idx, &len);
    tmt_spit(far, b, len);
    verify_line(1, "0000000000000099.idx",
                "BAD: it indexes segment 0000000000000099.seg, which is not", NULL);
    free(b);
    free(idx);
    free(far);
}
END_TEST

/* The fixture's journal reopened as capture opens it (with a durable mark),
 * one more transaction made durable and confirmed; returns the mark. */
static tm_mark confirm_all(void)
{
    tm_writer_options o = {.keep_mark = true};
    tmt_jw j = {.time = T0 + 1000000000};
    tm_error err;
    ck_assert_msg(tm_writer_open(journal, &o, &j.w, &err) == 0, "%s", err.msg);
    j.lsn = tm_writer_last_commit_lsn(j.w) + 100;
    char id[] = "1000", v[] = "confirmed";
    tm_value row[2] = {{id, 4, TM_KIND_TEXT}, {v, 9, TM_KIND_TEXT}};
    tmt_jw_begin(&j, 1, false, j.time);
    tmt_jw_change(&j, TIDEMARK__CHANGE__OP__INSERT, 500, 1, 0, NULL, 0, row, 2);
    tmt_jw_end(&j);
    ck_assert_int_eq(tm_writer_sync(j.w, &err), 0);
    ck_assert_msg(tm_writer_confirm(j.w, tm_writer_durable_end_lsn(j.w), &err) == 0, "%s", err.msg);
    tmt_jw_close(&j);
    tm_mark m;
    ck_assert_int_eq(tm_mark_read(journal, &m, &err), 1);
    return m;
}

/* The durable mark is checked: sound, unreadable, or naming more than its
 * segment holds; damage below it is called confirmed data, not a torn tail. */
START_TEST(durable_mark)
{
    tm_mark m = confirm_all();
    verify_line(0, "confirmed.mark", "  ok", "confirmed ");

    /* A bit flipped in the last frame below the mark. */
    char *seg = tmt_seg_path(journal, m.segment), *mark = tmt_path(journal, "confirmed.mark");
    size_t len, mlen;
    unsigned char *b = tmt_slurp(seg, &len), *mb = tmt_slurp(mark, &mlen);
    ck_assert_uint_ge(len, m.offset);
    b[m.offset - 3] ^= 0x10;
    tmt_spit(seg, b, len);
    tm_run_result r;
    verify(&r);
    tm_assert_exit(&r, 1);
    ck_assert_msg(strstr(r.out, "below the durable mark"), "%s", r.out);
    tm_run_result_free(&r);

    /* The segment cut short of the mark. */
    b[m.offset - 3] ^= 0x10;
    tmt_spit(seg, b, (size_t)m.offset - 10);
    verify_line(1, "confirmed.mark", "BAD", "holds less than");

    /* Both copies of the mark damaged. */
    tmt_spit(seg, b, len);
    for (size_t i = 0; i < mlen; i++)
        mb[i] ^= 0x5a;
    tmt_spit(mark, mb, mlen);
    verify_line(1, "confirmed.mark", "BAD", NULL);
    free(b);
    free(mb);
    free(seg);
    free(mark);
}
END_TEST

/* ---- damage everywhere ------------------------------------------------------ */

static long damage_runs, damage_found;

/* verify exits 1 and the line of name says BAD (at an offset when
 * at_offset); with name ending in '.', the line of some file whose name
 * starts so (a segment or its index). Unless harmless_ok and verify calls
 * the journal sound: then returns false. */
static bool verify_names(const char *name, bool at_offset, bool harmless_ok, const char *what)
{
    tm_run_result r;
    verify(&r);
    damage_runs++;
    if (harmless_ok && r.status == 0) {
        tm_run_result_free(&r);
        return false;
    }
    char l[2048] = "";
    const char *want = at_offset ? "  BAD at offset " : "  BAD";
    if (name[strlen(name) - 1] == '.') {
        for (const char *p = r.out; (p = strstr(p, name)) != NULL; p++)
            if ((p == r.out || p[-1] == '\n') && strstr(p, want) &&
                strstr(p, want) < p + strcspn(p, "\n"))
                snprintf(l, sizeof l, "%.*s", (int)strcspn(p, "\n"), p);
    } else {
        line_of(r.out, name, l, sizeof l);
    }
    ck_assert_msg(r.status == 1 && strstr(l, want), "%s: verify exit %d, %s's line '%s'\n%s%s",
                  what, r.status, name, l, r.out, r.err);
    damage_found++;
    tm_run_result_free(&r);
    return true;
}

/* The reader ends in TM_ERR_CORRUPT naming seg; capture's open of the
 * journal refuses it too when seg is the last segment (damage below the
 * mark), and else changes nothing. */
static void readers_refuse(uint64_t seg, bool last, const unsigned char *bytes, size_t len,
                           const char *what)
{
    tm_reader *rd;
    tm_error err;
    const Tidemark__Record *rec;
    int rc = tm_reader_open(journal, &rd, &err);
    if (rc == 0) {
        while ((rc = tm_reader_next(rd, &rec, &err)) == 1)
            ;
        tm_reader_close(rd);
    }
    char *p = tmt_seg_path(journal, seg);
    ck_assert_msg(rc < 0 && tm_error_is(&err, TM_ERR_CORRUPT) && !strcmp(err.file, p),
                  "%s: the reader did not refuse (%d): %s", what, rc, rc < 0 ? err.msg : "");
    tm_writer *w;
    tm_writer_options o = {.keep_mark = true};
    if (tm_writer_open(journal, &o, &w, &err) == 0) {
        ck_assert_msg(!last, "%s: capture's open accepted damage in the last segment", what);
        ck_assert_int_eq(tm_writer_close(w, &err), 0);
    } else {
        ck_assert_msg(tm_error_is(&err, TM_ERR_CORRUPT) && !strcmp(err.file, p) && err.has_offset,
                      "%s: capture's open: %s", what, err.msg);
    }
    size_t now;
    unsigned char *after = tmt_slurp(p, &now);
    ck_assert_msg(now == len && !memcmp(after, bytes, len), "%s: the open changed %s", what, p);
    free(after);
    free(p);
}

/* The number of the journal's last segment. */
static uint64_t last_segment(void)
{
    uint64_t n = 0;
    for (;;) {
        char *p = tmt_seg_path(journal, n + 1);
        bool there = access(p, F_OK) == 0;
        free(p);
        if (!there)
            return n;
        n++;
    }
}

/* A bit flipped in the header, the middle of the payload and the last byte
 * of every frame of the last two segments, and each segment cut in the
 * middle and at the start of every one of them: verify names the segment
 * and an offset, the reader refuses, and capture's open refuses damage in
 * the last segment (below the durable mark) and changes nothing. */
START_TEST(every_frame_of_the_last_two_segments)
{
    tm_mark m = confirm_all();
    uint64_t last = last_segment();
    ck_assert_uint_ge(last, 2);
    ck_assert_uint_eq(m.segment, last);
    long flips = 0, cuts = 0;
    for (uint64_t seg = last - 1; seg <= last; seg++) {
        char *path = tmt_seg_path(journal, seg), name[32];
        snprintf(name, sizeof name, "%016llx.seg", (unsigned long long)seg);
        int fd = open(path, O_RDONLY);
        tm_seg_scan sc;
        tm_error err;
        ck_assert(fd >= 0 && tm_segment_scan(fd, seg, true, &sc, &err) == 0);
        close(fd);
        ck_assert(!sc.damaged && sc.frames.n >= 2);
        size_t len;
        unsigned char *orig = tmt_slurp(path, &len), *bad = malloc(len);
        for (size_t f = 0; f < sc.frames.n; f++) {
            const tm_frame_entry *fr = &sc.frames.v[f];
            uint64_t at[] = {fr->offset + 5, fr->offset + TM_FRAME_HDR_SIZE + fr->h.clen / 2,
                             tm_frame_end(fr) - 1};
            char what[96];
            for (size_t i = 0; i < 3; i++) {
                memcpy(bad, orig, len);
                bad[at[i]] ^= 0x08;
                tmt_spit(path, bad, len);
                snprintf(what, sizeof what, "%s: bit flipped at %llu", name,
                         (unsigned long long)at[i]);
                verify_names(name, true, false, what);
                readers_refuse(seg, seg == last, bad, len, what);
                flips++;
            }
            uint64_t cut[] = {fr->offset + TM_FRAME_HDR_SIZE + fr->h.clen / 2, fr->offset};
            for (size_t i = 0; i < 2; i++) {
                tmt_spit(path, orig, (size_t)cut[i]);
                snprintf(what, sizeof what, "%s: cut at %llu", name, (unsigned long long)cut[i]);
                /* the last segment cut short of the mark: the mark's line says it; a
                 * sealed one cut at a frame boundary: its index's line */
                char prefix[32];
                snprintf(prefix, sizeof prefix, "%016llx.", (unsigned long long)seg);
                verify_names(seg == last ? "confirmed.mark" : prefix, false, false, what);
                readers_refuse(seg, seg == last, orig, (size_t)cut[i], what);
                cuts++;
            }
        }
        tmt_spit(path, orig, len);
        tm_seg_scan_free(&sc);
        free(orig);
        free(bad);
        free(path);
    }
    printf("fault-matrix: %-44s injected %5ld | detected by verify, reader and open %5ld | "
           "missed 0\n",
           "journal: bit flips in the last two segments", flips, flips);
    printf("fault-matrix: %-44s injected %5ld | detected by verify, reader and open %5ld | "
           "missed 0\n",
           "journal: last two segments cut", cuts, cuts);
    fflush(stdout);
}
END_TEST

/* Every other file of the journal (metadata, index, durable mark,
 * checkpoint, key summaries, row counts) with a bit flipped at up to 48
 * places spread over its bytes (the mark: over its two copies, both at
 * once), and cut to 0, 1 and half its length (the mark: 40 bytes): verify
 * names it as damaged every time. */
START_TEST(every_other_file)
{
    confirm_all();
    const char *names[] = {"journal.meta", "0000000000000001.idx",  "confirmed.mark",
                           ckpt_name,      "0000000000000001.keys", "rowcounts"};
    long flips = 0, cuts = 0, harmless = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        bool is_mark = !strcmp(names[k], "confirmed.mark");
        char *path = tmt_path(journal, names[k]);
        size_t len;
        unsigned char *orig = tmt_slurp(path, &len), *bad = malloc(len);
        /* the mark's bytes are its two copies of 56 bytes at 0 and 512 */
        size_t span = is_mark ? 56 : len, places = span < 48 ? span : 48;
        for (size_t i = 0; i < places; i++) {
            size_t at = i * span / places;
            memcpy(bad, orig, len);
            bad[at] ^= 0x02;
            if (is_mark)
                bad[512 + at] ^= 0x02;
            tmt_spit(path, bad, len);
            char what[128];
            snprintf(what, sizeof what, "%s: bit flipped at %zu", names[k], at);
            /* a flip in the key of journal.meta's checksum line leaves an
             * older file without a checksum whose lines are all intact */
            bool crc_key = k == 0 && at >= len - 16 && at < len - 9;
            bool found = verify_names(names[k], false, crc_key, what);
            flips += found;
            harmless += !found;
        }
        /* (the mark cut to its first copy is a torn write of the second one:
         * cut inside the first) */
        size_t cut[] = {0, 1, is_mark ? 40 : len / 2};
        for (size_t i = 0; i < 3; i++) {
            tmt_spit(path, orig, cut[i]);
            char what[128];
            snprintf(what, sizeof what, "%s: cut to %zu bytes", names[k], cut[i]);
            verify_names(names[k], false, false, what);
            cuts++;
        }
        tmt_spit(path, orig, len);
        free(orig);
        free(bad);
        free(path);
    }
    printf("fault-matrix: %-44s injected %5ld | detected by verify %5ld | missed 0\n",
           "journal: bit flips in every other file", flips + harmless, flips);
    printf("(%ld flips in the key of journal.meta's checksum line leave its data intact)\n",
           harmless);
    printf("fault-matrix: %-44s injected %5ld | detected by verify %5ld | missed 0\n",
           "journal: every other file cut", cuts, cuts);
    fflush(stdout);
}
END_TEST

int main(void)
{
    return tm_check_main_fixture("verify_files", "core", 120,
                                 TM_TESTS(clean_journal_is_clean, each_damaged_file_is_named,
                                          cut_caches, unknown_and_temporary_files, orphan_index,
                                          durable_mark, every_frame_of_the_last_two_segments,
                                          every_other_file),
                                 setup, teardown);
}
