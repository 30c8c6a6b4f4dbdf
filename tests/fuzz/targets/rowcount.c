/* Row counts, DIR/rowcounts (replay/keys/rowcount.c), which tell log how
 * many rows a TRUNCATE removed: opened and asked as log asks, and checked
 * as verify does. The input is a flags byte and the file; bit 0 seals its
 * CRC. The journal beside it has no segments, so a question past what the
 * file counted fails to count on (an error, never a crash). Property:
 * every TRUNCATE the file lists up to what it counted is found, when
 * verify calls it sound. */
#include <stdlib.h>
#include <string.h>

#include "replay/keys/rowcount.h"
#include "store/common/le.h"
#include "tests/fuzz/fuzz.h"

#define RC_HDR 32

static void fuzz_rowcount(uint8_t *img, size_t len, unsigned flags)
{
    const char *path = tm_fuzz_put_file(TM_ROWCOUNT_FILE, img, len, flags & 1);

    tm_vresult res;
    tm_error err;
    if (tm_rowcount_verify(path, &res, &err) != 0)
        return; /* out of memory */
    tm_rowcount *rc = tm_rowcount_open(tm_fuzz_dir(), &err);
    if (!rc)
        return;
    if (!res.damaged && len >= RC_HDR + 4) {
        uint64_t counted = tm_get64(img + 8);
        uint64_t ntables = tm_get32(img + 16), ntrunc = tm_get32(img + 20);
        const uint8_t *t = img + RC_HDR + ntables * 16;
        /* the nth TRUNCATE of an oid in a transaction: count repeats */
        for (uint64_t i = 0; i < ntrunc && i < 64; i++) {
            const uint8_t *e = t + i * 24;
            uint64_t lsn = tm_get64(e);
            uint32_t oid = tm_get32(e + 8), nth = 0;
            for (uint64_t k = 0; k < i; k++)
                nth += tm_get64(t + k * 24) == lsn && tm_get32(t + k * 24 + 8) == oid;
            uint64_t rows;
            bool known;
            int found = tm_rowcount_truncated(rc, lsn, oid, nth, &rows, &known, &err);
            if (lsn <= counted)
                TM_FUZZ_CHECK(found == 1, "TRUNCATE %llu of a sound file is not found (%d: %s)",
                              (unsigned long long)i, found, found < 0 ? err.msg : "");
        }
    }
    uint64_t rows;
    bool known;
    (void)tm_rowcount_truncated(rc, UINT64_MAX - 1, 16401, 0, &rows, &known, &err);
    tm_rowcount_free(rc);
}

TM_FUZZ_FLAGGED_TARGET(fuzz_rowcount)
