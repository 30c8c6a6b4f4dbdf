/* The durable confirmed mark, DIR/confirmed.mark (store/journal/mark.c):
 * what capture trusts at every start about how far the journal is
 * confirmed. The input is a flags byte and the file; bit 0 seals the CRC
 * of both slots. Exercised: tm_mark_read, tm_mark_decode of each slot,
 * verify's check of the mark. Properties: a slot that decodes encodes to
 * one that decodes to the same mark; the mark read is the valid slot with
 * the highest sequence number. */
#include <string.h>

#include "store/common/crc32c.h"
#include "store/common/le.h"
#include "store/journal/mark.h"
#include "store/journal/verify.h"
#include "tests/fuzz/fuzz.h"

static bool mark_eq(const tm_mark *a, const tm_mark *b)
{
    return a->seq == b->seq && a->segment == b->segment && a->offset == b->offset &&
           a->lsn == b->lsn && a->time == b->time && a->adopted == b->adopted;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    size_t len = size - 1 < TM_MARK_FILE_SIZE * 2 ? size - 1 : TM_MARK_FILE_SIZE * 2;
    uint8_t file[TM_MARK_FILE_SIZE * 2] = {0};
    memcpy(file, data + 1, len);
    tm_mark best = {0};
    bool any = false;
    for (size_t slot = 0; slot < 2; slot++) {
        uint8_t *p = file + slot * TM_MARK_SLOT_STRIDE;
        if (slot * TM_MARK_SLOT_STRIDE + TM_MARK_SLOT_SIZE > len)
            continue;
        if (flags & 1)
            tm_put32(p + 52, tm_crc32c(0, p, 52));
        tm_mark m, back;
        if (!tm_mark_decode(p, &m))
            continue;
        uint8_t enc[TM_MARK_SLOT_SIZE];
        tm_mark_encode(&m, enc);
        TM_FUZZ_CHECK(tm_mark_decode(enc, &back) && mark_eq(&m, &back),
                      "slot %zu: a decoded mark does not encode back to itself", slot);
        if (!any || m.seq > best.seq)
            best = m;
        any = true;
    }

    tm_fuzz_clean();
    tm_fuzz_put(TM_MARK_FILE, file, len);
    tm_meta meta = {.format_version = TM_JOURNAL_FORMAT_VERSION, .system_identifier = 7};
    tm_error err;
    TM_FUZZ_CHECK(tm_meta_write(tm_fuzz_dir(), &meta, &err) == 0, "%s", err.msg);
    tm_mark m;
    int rc = tm_mark_read(tm_fuzz_dir(), &m, &err);
    TM_FUZZ_CHECK(rc == (any ? 1 : -1), "tm_mark_read says %d of a file with%s a valid slot", rc,
                  any ? "" : "out");
    if (rc == 1)
        TM_FUZZ_CHECK(mark_eq(&m, &best), "tm_mark_read does not give the latest valid slot");
    else
        TM_FUZZ_CHECK(err.msg[0] != '\0', "a damaged mark comes without a reason");
    tm_verify_opts vo = {.quiet = true};
    tm_verify_totals totals;
    (void)tm_verify_run(tm_fuzz_dir(), &vo, &totals, &err);
    return 0;
}
