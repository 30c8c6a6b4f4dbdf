/* Segments and their indexes (store/journal): the reader, verify and the
 * writer's recovery on a journal made of the input. The input is a flags
 * byte, then parts (fuzz.h: a u16 length before each) taken in turns as
 * segment 1, its index, segment 2, its index, ... (an empty part: no such
 * file). Flags: bit 0 seals every checksum (segment header, frame headers
 * and payloads, index entries and index) so that what lies behind them is
 * reached; bit 1 also opens a writer on the journal (recovery cuts a torn
 * tail); bit 2 adds a durable mark at the end of the last segment.
 * Properties: a journal verify calls sound reads to its end without error,
 * also after a seek; one that reads unpacked reads lazily too; a journal
 * the writer opened (and repaired) opens again with nothing to repair but
 * what lies above its mark; without a mark, recovery keeps exactly the
 * transactions a reader delivered before it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/common/crc32c.h"
#include "store/common/le.h"
#include "store/journal/journal.h"
#include "store/journal/mark.h"
#include "store/journal/segment.h"
#include "store/journal/verify.h"
#include "tests/fuzz/fuzz.h"

#define SEAL 1u
#define WRITER 2u
#define MARK 4u
#define MAX_SEGMENTS 8
#define MAX_RECORDS 100000

static void seal_segment(uint8_t *p, size_t len)
{
    if (len >= TM_SEG_HDR_SIZE)
        tm_put32(p + 28, tm_crc32c(0, p, 28));
    tm_fuzz_seal_frames(p, len, TM_SEG_HDR_SIZE);
}

static void seal_index(uint8_t *p, size_t len)
{
    /* entries: u64 offset + a frame header, 80 bytes each, from 32 */
    for (size_t off = 32; off + 80 + 4 <= len; off += 80)
        tm_put32(p + off + 8 + 68, tm_crc32c(0, p + off + 8, 68));
    tm_fuzz_seal_tail_crc(p, len);
}

/* What a reading delivered: its transactions' commit LSNs, summed. */
typedef struct digest {
    uint64_t ntx, sum, mix;
} digest;

/* Reads the whole journal (after a seek to a time when seek_t != 0);
 * returns 0 at its end, -1 on an error. */
static int read_all(const char *dir, int64_t seek_t, bool lazy, digest *dg)
{
    tm_reader *r;
    tm_error err;
    if (tm_reader_open(dir, &r, &err) != 0)
        return -1;
    int rc = seek_t ? tm_reader_seek_time(r, seek_t, &err) : 0;
    for (size_t n = 0; rc == 0 && n < MAX_RECORDS; n++) {
        const Tidemark__Record *rec;
        const uint8_t *change;
        size_t clen;
        int got = lazy ? tm_reader_next_lazy(r, &rec, &change, &clen, &err)
                       : tm_reader_next(r, &rec, &err);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (dg && rec && rec->body_case == TIDEMARK__RECORD__BODY_BEGIN) {
            dg->ntx++;
            dg->sum += rec->begin->commit_lsn;
            dg->mix = (dg->mix ^ rec->begin->commit_lsn) * UINT64_C(0x100000001b3);
        }
    }
    if (rc < 0)
        TM_FUZZ_CHECK(err.msg[0] != '\0', "a reader error comes without a reason");
    tm_reader_close(r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    data++;
    size--;
    tm_fuzz_clean();
    const char *dir = tm_fuzz_dir();
    tm_meta meta = {.format_version = TM_JOURNAL_FORMAT_VERSION,
                    .system_identifier = 7,
                    .start_lsn = 0x1000000,
                    .created_at = INT64_C(1767225600000000)};
    snprintf(meta.database, sizeof meta.database, "app");
    tm_error err;
    TM_FUZZ_CHECK(tm_meta_write(dir, &meta, &err) == 0, "%s", err.msg);

    const uint8_t *part;
    size_t len;
    uint64_t segno = 0, last_size = 0;
    for (int i = 0; i < 2 * MAX_SEGMENTS && tm_fuzz_next_part(&data, &size, &part, &len); i++) {
        if (i % 2 == 0)
            segno++;
        if (len == 0)
            continue;
        uint8_t *img = malloc(len);
        TM_FUZZ_CHECK(img != NULL, "out of memory");
        memcpy(img, part, len);
        char name[TM_SEG_NAME_LEN];
        if (i % 2 == 0) {
            if (flags & SEAL)
                seal_segment(img, len);
            tm_fuzz_put(tm_seg_name(segno, name), img, len);
            last_size = len;
        } else {
            if (flags & SEAL)
                seal_index(img, len);
            tm_fuzz_put(tm_idx_name(segno, name), img, len);
        }
        free(img);
    }
    if ((flags & MARK) && segno > 0) {
        tm_mark m = {.seq = 1, .segment = segno, .offset = last_size, .lsn = 0x1000000};
        uint8_t buf[TM_MARK_FILE_SIZE] = {0};
        tm_mark_encode(&m, buf + TM_MARK_SLOT_STRIDE);
        tm_fuzz_put(TM_MARK_FILE, buf, sizeof buf);
    }

    /* the frame directory of each segment, payloads checked */
    for (uint64_t s = 1; s <= segno; s++) {
        char name[TM_SEG_NAME_LEN], path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, tm_seg_name(s, name));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        tm_seg_scan scan;
        if (tm_segment_scan(fd, s, true, &scan, &err) == 0) {
            TM_FUZZ_CHECK(scan.good_end <= scan.file_size && scan.safe_end <= scan.good_end &&
                              scan.n_safe <= scan.frames.n,
                          "segment %llu: scan ends out of order", (unsigned long long)s);
            tm_seg_scan_free(&scan);
        }
        close(fd);
    }

    digest before = {0};
    int plain = read_all(dir, 0, false, NULL);
    int lazy = read_all(dir, 0, true, &before);
    /* lazily, Changes are not unpacked: only that may fail unpacked */
    TM_FUZZ_CHECK(plain != 0 || lazy == 0, "the journal reads unpacked but not lazily");
    int seeked = read_all(dir, INT64_C(1767225600000000) + 5000, true, NULL);

    tm_verify_opts vo = {.quiet = true};
    tm_verify_totals totals;
    int v = tm_verify_run(dir, &vo, &totals, &err);
    if (v == 0)
        TM_FUZZ_CHECK(plain == 0 && seeked == 0,
                      "verify calls the journal sound but reading it fails (%d, after a seek %d)",
                      plain, seeked);

    if (flags & WRITER) {
        tm_recovery rep = {0}, again = {0};
        tm_writer_options o = {.report = &rep};
        tm_writer *w;
        if (tm_writer_open(dir, &o, &w, &err) == 0) {
            TM_FUZZ_CHECK(tm_writer_close(w, &err) == 0, "closing a writer: %s", err.msg);
            o.report = &again;
            TM_FUZZ_CHECK(tm_writer_open(dir, &o, &w, &err) == 0,
                          "a journal the writer opened does not open again: %s", err.msg);
            /* with a mark, what the last open wrote above it (a preamble)
             * is cut again: it was never confirmed */
            TM_FUZZ_CHECK(!again.repaired || again.above_mark,
                          "the writer repairs a journal it repaired already: %s", again.why);
            TM_FUZZ_CHECK(tm_writer_close(w, &err) == 0, "closing a writer: %s", err.msg);
            /* without a mark, recovery cuts exactly what readers leave out */
            digest after = {0};
            if (!(flags & MARK) && lazy == 0 && read_all(dir, 0, true, &after) == 0)
                TM_FUZZ_CHECK(before.ntx == after.ntx && before.sum == after.sum &&
                                  before.mix == after.mix,
                              "recovery changed the transactions read: %llu before, %llu after",
                              (unsigned long long)before.ntx, (unsigned long long)after.ntx);
        } else {
            TM_FUZZ_CHECK(err.msg[0] != '\0', "a writer that cannot open says nothing");
        }
    }
    return 0;
}
