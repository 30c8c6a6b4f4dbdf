/* Writes the journal the seed corpus is made from (make-corpus.sh), through
 * the test harness and the real writer: three tables (a keyed one with
 * json, a composite key, one without a key), a base snapshot, inserts,
 * updates with whole old rows and keys only, unchanged TOAST values, NULLs,
 * deletes, a TRUNCATE, messages, a mass change, over segments of 4 kB and
 * frames of 512 bytes, then a durable mark. Prints the journal's
 * directory ("journal: DIR"). With FRAMEDIR, also writes each of the first frames of every
 * segment twice there, after a flags byte of 1 (fuzz target frame): as
 * stored (header, LZ4 payload) and with its payload decompressed.
 *
 * Usage: fuzz_corpus_journal [FRAMEDIR] */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/journal/frame.h"
#include "store/journal/journal.h"
#include "store/journal/segment.h"
#include "tests/harness/support_log.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

enum { PREFS = 16401, MEMBERS = 16410, BAG = 16420 };

static void workload(tlj *j)
{
    tlj_relation(j, PREFS, 1, "public", "prefs", "id:int4:pk,email:text,settings:jsonb,on:bool");
    tlj_relation(j, MEMBERS, 1, "app", "members",
                 "org:int8:pk,uid:uuid:pk,since:timestamptz,score:numeric,code:bpchar");
    tlj_relation(j, BAG, 1, "public", "bag", "v:int4,note:text");
    tlj_begin(j, 700);
    tlj_snapshot(j);
    tlj_truncate(j, PREFS, 1, 0);
    tlj_truncate(j, MEMBERS, 1, 0);
    tlj_truncate(j, BAG, 1, 0);
    tlj_insert(j, PREFS, 1, 4,
               (const char *[]){"1", "a@example.com", "{\"theme\": \"dark\"}", "t"});
    tlj_insert(j, MEMBERS, 1, 5,
               (const char *[]){"42", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                                "2026-11-22 14:03:12+00", "1.50", "ab "});
    tlj_insert(j, BAG, 1, 2, (const char *[]){"3", NULL});
    tlj_commit(j, 1000);
    for (int t = 0; t < 40; t++) {
        char id[16], email[64], json[96], v[16];
        snprintf(id, sizeof id, "%d", t + 2);
        snprintf(email, sizeof email, "user%d@example.com", t);
        snprintf(json, sizeof json, "{\"n\": %d, \"ui\": {\"lang\": \"fr\"}, \"list\": [1, 2]}", t);
        snprintf(v, sizeof v, "%d", t % 4);
        tlj_begin(j, 701 + (uint32_t)t);
        if (t == 30)
            tlj_large(j, 3);
        tlj_insert(j, PREFS, 1, 4, (const char *[]){id, email, json, t % 2 ? "t" : "f"});
        if (t % 3 == 0)
            tlj_update(j, PREFS, 1, 'O', 4, (const char *[]){id, email, json, "t"},
                       (const char *[]){id, email, TLJ_U, NULL});
        if (t % 5 == 1)
            tlj_update(j, PREFS, 1, 'K', 4, (const char *[]){id, NULL, NULL, NULL},
                       (const char *[]){id, "changed@example.com", json, "f"});
        if (t % 4 == 2)
            tlj_update(j, MEMBERS, 1, 0, 5, NULL,
                       (const char *[]){"42", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                                        "2026-11-23 00:00:00+01", v, "xy"});
        if (t % 7 == 3)
            tlj_delete(j, PREFS, 1, 'O', 4, (const char *[]){id, email, json, "f"});
        tlj_insert(j, BAG, 1, 2, (const char *[]){v, t % 2 ? "note" : NULL});
        if (t % 6 == 5)
            tlj_delete(j, BAG, 1, 'O', 2, (const char *[]){v, NULL});
        if (t == 20)
            tlj_truncate(j, BAG, 1, 1);
        if (t % 10 == 4)
            tlj_message(j, "app.audit", "changed by migration 42");
        tlj_commit(j, 1000);
        if (t % 9 == 8)
            tlj_standalone_message(j, "app.note", "not in a transaction");
    }
}

static void put_frame(const char *framedir, const char *what, uint64_t segno, size_t k,
                      const unsigned char *hdr, const unsigned char *payload, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%llu-%zu", framedir, what, (unsigned long long)segno, k);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f && fputc(1, f) != EOF &&
                      fwrite(hdr, 1, TM_FRAME_HDR_SIZE, f) == TM_FRAME_HDR_SIZE &&
                      fwrite(payload, 1, len, f) == len && fclose(f) == 0,
                  "cannot write %s", path);
}

/* The first frames of each segment, stored and decompressed. */
static void frames(const char *dir, const char *framedir)
{
    uint64_t *segs;
    size_t nsegs;
    tm_error err;
    ck_assert_msg(tm_segment_list(dir, &segs, &nsegs, &err) == 0, "%s", err.msg);
    for (size_t s = 0; s < nsegs; s++) {
        char name[TM_SEG_NAME_LEN], path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, tm_seg_name(segs[s], name));
        int fd = open(path, O_RDONLY);
        tm_seg_scan scan;
        if (fd < 0 || tm_segment_scan(fd, segs[s], true, &scan, &err) != 0) {
            ck_abort_msg("cannot scan %s", path);
        }
        for (size_t k = 0; k < scan.frames.n && k < 3; k++) {
            const tm_frame_entry *e = &scan.frames.v[k];
            tm_buf io = {0}, raw = {0};
            tm_frame_hdr h;
            char why[256];
            if (tm_frame_read(fd, e->offset, &e->h, &h, &io, &raw, why, sizeof why, &err) != 0) {
                ck_abort_msg("cannot read a frame of %s: %s", path, why);
            }
            unsigned char hdr[TM_FRAME_HDR_SIZE];
            tm_frame_hdr_encode(&h, hdr);
            put_frame(framedir, "frame", segs[s], k, hdr, io.p, h.clen);
            put_frame(framedir, "payload", segs[s], k, hdr, raw.p, raw.len);
            tm_buf_free(&io);
            tm_buf_free(&raw);
        }
        tm_seg_scan_free(&scan);
        close(fd);
    }
    free(segs);
}

static const char *framedir;

/* The harness asserts as a Check test does, so the work runs as one. */
START_TEST(generate)
{
    tlj j;
    tlj_open2(&j, 512, 4096, NULL);
    workload(&j);
    tlj_close(&j);
    /* a durable mark at the end, as capture keeps it */
    tm_writer_options o = {.frame_target = 512, .segment_size = 4096, .keep_mark = true};
    tm_writer *w;
    tm_error err;
    ck_assert_msg(tm_writer_open(j.dir, &o, &w, &err) == 0 && tm_writer_sync(w, &err) == 0 &&
                      tm_writer_confirm(w, j.lsn, &err) == 0 && tm_writer_close(w, &err) == 0,
                  "%s", err.msg);
    if (framedir)
        frames(j.dir, framedir);
    printf("journal: %s\n", j.dir);
    free(j.dir);
}
END_TEST

int main(int argc, char **argv)
{
    framedir = argc > 1 ? argv[1] : NULL;
    return tm_check_main("corpus_journal", "core", 0, TM_TESTS(generate));
}
