/* Key summaries, DIR/NNNN.keys (replay/keys/keysum.c), which decide which
 * frames tidemark log reads: loaded and queried as log does, and checked
 * as verify does. The input is a flags byte and the file; bit 0 seals its
 * CRC. Properties: verify calls sound exactly what loads (a damaged file
 * loads empty); a loaded summary lists its relations in strictly
 * ascending order and finds each of them; every frame entry of the file
 * is found by its offset and payload CRC. */
#include <stdlib.h>
#include <string.h>

#include "replay/keys/keysum.h"
#include "store/common/le.h"
#include "tests/fuzz/fuzz.h"

static void fuzz_keysum(uint8_t *img, size_t len, unsigned flags)
{
    const char *path = tm_fuzz_put_file("0000000000000001.keys", img, len, flags & 1);

    tm_vresult res;
    tm_error err;
    if (tm_keysum_verify(path, &res, &err) != 0)
        return; /* out of memory */
    tm_keysum *ks = tm_keysum_load(tm_fuzz_dir(), 1, &err);
    if (!ks)
        return;
    size_t nrel = tm_keysum_nrelations(ks), nframes = tm_keysum_nframes(ks);
    if (res.damaged)
        TM_FUZZ_CHECK(nrel == 0 && nframes == 0, "a summary verify calls damaged is used: %s",
                      res.text);
    uint64_t prev = 0;
    for (size_t i = 0; i < nrel; i++) {
        uint32_t oid, version;
        tm_keysum_relation_at(ks, i, &oid, &version);
        uint64_t key = (uint64_t)oid << 32 | version;
        TM_FUZZ_CHECK(i == 0 || key > prev, "relation %zu is out of order", i);
        TM_FUZZ_CHECK(tm_keysum_has_relation(ks, oid, version), "relation %zu is not found", i);
        prev = key;
    }
    /* each frame entry of the file: found by offset and CRC, with its hashes */
    for (size_t i = 0; i < nframes && 32 + (i + 1) * 16 <= len; i++) {
        const uint8_t *f = img + 32 + i * 16;
        uint32_t frame;
        TM_FUZZ_CHECK(tm_keysum_covers(ks, tm_get64(f), tm_get32(f + 8), &frame),
                      "frame %zu of the summary is not covered", i);
        (void)tm_keysum_has(ks, frame, tm_keysum_hash_table(16401));
    }
    tm_keysum_free(ks);
}

TM_FUZZ_FLAGGED_TARGET(fuzz_keysum)
