/* The durable confirmed mark (mark.h): encoding its two slots, reading the
 * newest valid one, creating the file and storing a new mark. */
#include "store/journal/mark.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/common/crc32c.h"
#include "store/common/fsutil.h"
#include "store/common/le.h"

#define MARK_MAGIC "TMCM"
#define MARK_VERSION 1
#define MARK_ADOPTED 1

void tm_mark_encode(const tm_mark *m, unsigned char out[TM_MARK_SLOT_SIZE])
{
    memset(out, 0, TM_MARK_SLOT_SIZE);
    memcpy(out, MARK_MAGIC, 4);
    tm_put16(out + 4, MARK_VERSION);
    tm_put16(out + 6, m->adopted ? MARK_ADOPTED : 0);
    tm_put64(out + 8, m->seq);
    tm_put64(out + 16, m->segment);
    tm_put64(out + 24, m->offset);
    tm_put64(out + 32, m->lsn);
    tm_put64(out + 40, (uint64_t)m->time);
    tm_put32(out + 52, tm_crc32c(0, out, 52));
}

bool tm_mark_decode(const unsigned char in[TM_MARK_SLOT_SIZE], tm_mark *m)
{
    if (memcmp(in, MARK_MAGIC, 4) != 0 || tm_get16(in + 4) != MARK_VERSION ||
        tm_get32(in + 52) != tm_crc32c(0, in, 52) || tm_get64(in + 8) == 0)
        return false;
    memset(m, 0, sizeof *m);
    m->adopted = (tm_get16(in + 6) & MARK_ADOPTED) != 0;
    m->seq = tm_get64(in + 8);
    m->segment = tm_get64(in + 16);
    m->offset = tm_get64(in + 24);
    m->lsn = tm_get64(in + 32);
    m->time = (int64_t)tm_get64(in + 40);
    return true;
}

static int mark_path(const char *dir, char *buf, size_t len, tm_error *err)
{
    if (snprintf(buf, len, "%s/%s", dir, TM_MARK_FILE) >= (int)len) {
        tm_error_set(err, "path %s/%s is too long", dir, TM_MARK_FILE);
        return -1;
    }
    return 0;
}

int tm_mark_read(const char *dir, tm_mark *m, tm_error *err)
{
    char path[PATH_MAX];
    if (mark_path(dir, path, sizeof path, err) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        tm_error_errno(err, "cannot open %s", path);
        return -1;
    }
    unsigned char buf[TM_MARK_FILE_SIZE] = {0};
    ssize_t n = tm_pread_full(fd, buf, sizeof buf, 0, path, err);
    close(fd);
    if (n < 0)
        return -1;
    bool found = false;
    for (int i = 0; i < 2; i++) {
        tm_mark slot;
        if ((size_t)n >= (size_t)i * TM_MARK_SLOT_STRIDE + TM_MARK_SLOT_SIZE &&
            tm_mark_decode(buf + i * TM_MARK_SLOT_STRIDE, &slot) && (!found || slot.seq > m->seq)) {
            *m = slot;
            found = true;
        }
    }
    if (!found) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "journal %s: %s is damaged (neither of its two copies is valid), so it is "
                      "not known how much of the journal was confirmed to the server; run "
                      "'tidemark verify --journal %s', then remove %s to open the journal as one "
                      "without a mark",
                      dir, TM_MARK_FILE, dir, path);
        tm_error_in(err, path);
        return -1;
    }
    return 1;
}

int tm_mark_create(const char *dir, const tm_mark *m, int *fd, tm_error *err)
{
    unsigned char buf[TM_MARK_FILE_SIZE] = {0};
    tm_mark_encode(m, buf + (m->seq & 1) * TM_MARK_SLOT_STRIDE);
    if (tm_write_file_atomic(dir, TM_MARK_FILE, buf, sizeof buf, err) != 0)
        return -1;
    return tm_mark_open(dir, fd, err);
}

int tm_mark_open(const char *dir, int *fd, tm_error *err)
{
    char path[PATH_MAX];
    if (mark_path(dir, path, sizeof path, err) != 0)
        return -1;
    *fd = open(path, O_RDWR | O_CLOEXEC);
    if (*fd < 0) {
        tm_error_errno(err, "cannot open %s", path);
        return -1;
    }
    return 0;
}

int tm_mark_store(int fd, const char *dir, const tm_mark *m, tm_error *err)
{
    char path[PATH_MAX];
    if (mark_path(dir, path, sizeof path, err) != 0)
        return -1;
    unsigned char slot[TM_MARK_SLOT_SIZE];
    tm_mark_encode(m, slot);
    if (tm_pwrite_full(fd, slot, sizeof slot, (m->seq & 1) * TM_MARK_SLOT_STRIDE, path, err) != 0)
        return -1;
    if (fdatasync(fd) != 0) {
        tm_error_errno(err, "cannot fdatasync %s", path);
        return -1;
    }
    return 0;
}
