/* Checkpoints, DIR/checkpoints/<LSN>.ckpt (replay/engine/checkpoint.c):
 * listed and loaded into a replay state as replay does, and checked as
 * verify does. The input is a flags byte and the file; bit 0 seals its
 * header and frames (fuzz.h) and names the file after the LSN its header
 * holds, so that what lies behind them is reached. Property: a checkpoint
 * verify calls sound loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/engine/checkpoint.h"
#include "replay/engine/state.h"
#include "store/common/crc32c.h"
#include "store/common/le.h"
#include "tests/fuzz/fuzz.h"

#define CK_HDR 56

static bool select_all(void *arg, const tm_version *v)
{
    (void)arg;
    (void)v;
    return true;
}

static void fuzz_checkpoint(uint8_t *img, size_t len, unsigned flags)
{
    uint64_t lsn = 0x1000300;
    if ((flags & 1) && len >= CK_HDR) {
        lsn = tm_get64(img + 8);
        tm_put32(img + CK_HDR - 4, tm_crc32c(0, img, CK_HDR - 4));
        tm_fuzz_seal_frames(img, len, CK_HDR);
    }
    tm_fuzz_clean();
    char name[64];
    snprintf(name, sizeof name, "%s/%016llx.ckpt", TM_CKPT_DIR, (unsigned long long)lsn);
    const char *path = tm_fuzz_put(name, img, len);

    tm_vresult res;
    tm_error err;
    if (tm_ckpt_verify(path, &res, &err) != 0)
        return; /* out of memory */
    TM_FUZZ_CHECK(!res.damaged || res.text[0] != '\0', "a damaged checkpoint without a reason");

    tm_ckpt *list;
    size_t n;
    TM_FUZZ_CHECK(tm_ckpt_list(tm_fuzz_dir(), &list, &n, &err) == 0 && n == 1,
                  "the checkpoint is not listed: %s", err.msg);
    if (list[0].ok) {
        tm_state *s = tm_state_new(select_all, NULL, &err);
        TM_FUZZ_CHECK(s != NULL, "out of memory");
        int rc = tm_ckpt_load(&list[0], s, &err);
        if (!res.damaged)
            TM_FUZZ_CHECK(rc == 0, "verify calls a checkpoint sound that does not load: %s",
                          err.msg);
        else if (rc != 0)
            TM_FUZZ_CHECK(err.msg[0] != '\0', "a checkpoint that does not load says nothing");
        tm_state_free(s);
    } else {
        TM_FUZZ_CHECK(res.damaged, "verify calls a checkpoint sound whose header is bad: %s",
                      list[0].why);
    }
    free(list);
}

TM_FUZZ_FLAGGED_TARGET(fuzz_checkpoint)
