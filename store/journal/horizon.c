#include "store/journal/horizon.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/crc32c.h"
#include "store/common/fsutil.h"
#include "store/common/le.h"
#include "store/common/lsn.h"
#include "store/common/tm_time.h"

#define HZ_MAGIC "TMHZ"
#define HZ_VERSION 1
#define HZ_SIZE 40

/* NULL when b is a sound horizon (then *h), else what is wrong. */
static const char *decode(const unsigned char *b, size_t len, tm_horizon *h)
{
    if (len != HZ_SIZE || memcmp(b, HZ_MAGIC, 4) != 0)
        return "it is not a retention horizon (bad magic or size)";
    if (tm_crc32c(0, b, HZ_SIZE - 4) != tm_get32(b + HZ_SIZE - 4))
        return "its checksum does not match";
    if (tm_get16(b + 4) != HZ_VERSION)
        return "its format version is not one this tidemark reads";
    h->lsn = tm_get64(b + 8);
    h->time = (int64_t)tm_get64(b + 16);
    h->first_segment = tm_get64(b + 24);
    return NULL;
}

static int load(const char *path, tm_horizon *h, const char **why, tm_error *err)
{
    unsigned char *b;
    size_t len;
    if (tm_read_file(path, 4096, &b, &len, err) != 0)
        return -1;
    *why = decode(b, len, h);
    free(b);
    return 0;
}

int tm_horizon_read(const char *dir, tm_horizon *h, tm_error *err)
{
    tm_horizon l;
    int rc = tm_horizon_read_file(dir, TM_HORIZON_FILE, h, err);
    int lrc = rc < 0 ? 0 : tm_horizon_read_file(dir, TM_LOCAL_HORIZON_FILE, &l, err);
    if (rc < 0 || lrc < 0)
        return -1;
    if (lrc == 1 && (rc == 0 || l.lsn > h->lsn))
        *h = l;
    return rc || lrc;
}

int tm_horizon_read_file(const char *dir, const char *name, tm_horizon *h, tm_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        tm_error_set(err, "journal path %s is too long", dir);
        return -1;
    }
    const char *why;
    tm_error rerr;
    if (load(path, h, &why, &rerr) != 0) {
        if (tm_error_is(&rerr, TM_ERR_NOT_FOUND))
            return 0;
        *err = rerr;
        return -1;
    }
    if (why) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the retention horizon of journal %s is damaged (%s): restore it from a "
                      "backup, or run tidemark prune again",
                      dir, why);
        tm_error_in(err, path);
        return -1;
    }
    return 1;
}

int tm_horizon_write(const char *dir, const tm_horizon *h, tm_error *err)
{
    return tm_horizon_write_file(dir, TM_HORIZON_FILE, h, err);
}

int tm_horizon_write_file(const char *dir, const char *name, const tm_horizon *h, tm_error *err)
{
    unsigned char b[HZ_SIZE] = {0};
    memcpy(b, HZ_MAGIC, 4);
    tm_put16(b + 4, HZ_VERSION);
    tm_put64(b + 8, h->lsn);
    tm_put64(b + 16, (uint64_t)h->time);
    tm_put64(b + 24, h->first_segment);
    tm_put32(b + HZ_SIZE - 4, tm_crc32c(0, b, HZ_SIZE - 4));
    return tm_write_file_atomic(dir, name, b, sizeof b, err);
}

int tm_horizon_verify(const char *path, tm_vresult *res, tm_error *err)
{
    tm_horizon h;
    const char *why;
    tm_error rerr;
    if (load(path, &h, &why, &rerr) != 0) {
        if (tm_error_is(&rerr, TM_ERR_NOMEM)) {
            *err = rerr;
            return -1;
        }
        why = rerr.msg;
    }
    char l[TM_LSN_BUFLEN], t[64];
    if (!why) {
        tm_lsn_format(h.lsn, l);
        tm_time_format(h.time, t);
    }
    tm_vresult_judge(
        res, why, "the journal starts at the checkpoint at LSN %s (%s); first segment %016" PRIx64,
        why ? "" : l, why ? "" : t, h.first_segment);
    return 0;
}

int tm_horizon_refuse(const char *dir, const tm_horizon *h, bool by_lsn, uint64_t lsn, int64_t time,
                      tm_error *err)
{
    if (by_lsn ? lsn >= h->lsn : time >= h->time)
        return 0;
    char at[TM_TIME_BUFLEN + TM_LSN_BUFLEN], ht[TM_TIME_BUFLEN], hl[TM_LSN_BUFLEN];
    if (by_lsn)
        tm_lsn_format(lsn, at);
    else
        tm_time_format(time, at);
    tm_error_set(err,
                 "%s is before the retention horizon of journal %s: it was pruned and starts at "
                 "%s (LSN %s), the oldest time it can replay",
                 at, dir, tm_time_format(h->time, ht), tm_lsn_format(h->lsn, hl));
    return -1;
}
