/* The fuzz targets' shared helpers (fuzz.h) and, outside libFuzzer builds,
 * the plain driver that runs saved inputs through a target. */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/common/crc32c.h"
#include "store/common/le.h"
#include "store/common/log.h"
#include "store/journal/frame.h"

void tm_fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    tm_log_error("%s:%d: property failed: %s: %s", file, line, cond, what);
    abort();
}

static char scratch[PATH_MAX];

static void rm_tree(const char *path, bool keep_top)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
                continue;
            struct stat st;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(sub, false);
            else
                unlink(sub);
        }
        closedir(d);
    }
    if (!keep_top)
        rmdir(path);
}

static void remove_scratch(void)
{
    if (scratch[0])
        rm_tree(scratch, false);
}

const char *tm_fuzz_dir(void)
{
    if (scratch[0])
        return scratch;
    /* run-fuzz.sh names a directory it removes, since a crash skips atexit */
    const char *base = getenv("TM_FUZZ_TMPDIR");
    if (!base || !*base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/tidemark-fuzz-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(scratch)) {
        tm_log_error("cannot make a scratch directory %s: %s", scratch, strerror(errno));
        abort();
    }
    atexit(remove_scratch);
    return scratch;
}

void tm_fuzz_clean(void)
{
    rm_tree(tm_fuzz_dir(), true);
}

const char *tm_fuzz_put(const char *name, const void *data, size_t len)
{
    static char path[PATH_MAX];
    const char *slash = strrchr(name, '/');
    if (slash && snprintf(path, sizeof path, "%s/%.*s", tm_fuzz_dir(), (int)(slash - name), name) <
                     (int)sizeof path)
        mkdir(path, 0700);
    int fd = -1;
    if (snprintf(path, sizeof path, "%s/%s", tm_fuzz_dir(), name) < (int)sizeof path)
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t done = 0;
    while (fd >= 0 && done < len) {
        ssize_t n = write(fd, (const uint8_t *)data + done, len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (fd < 0 || done != len) {
        tm_log_error("cannot write %s: %s", path, strerror(errno));
        abort();
    }
    close(fd);
    return path;
}

char *tm_fuzz_cstr(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        abort();
    if (len)
        memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

int tm_fuzz_run_flagged(const uint8_t *data, size_t size, tm_fuzz_image_fn *fn)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    uint8_t *img = malloc(len ? len : 1);
    if (!img)
        abort();
    if (len)
        memcpy(img, data + 1, len);
    fn(img, len, data[0]);
    free(img);
    return 0;
}

bool tm_fuzz_next_part(const uint8_t **data, size_t *size, const uint8_t **part, size_t *len)
{
    if (*size < 2)
        return false;
    size_t n = (size_t)(*data)[0] << 8 | (*data)[1];
    *data += 2;
    *size -= 2;
    if (n > *size)
        n = *size;
    *part = *data;
    *len = n;
    *data += n;
    *size -= n;
    return true;
}

void tm_fuzz_seal_tail_crc(uint8_t *data, size_t len)
{
    if (len >= 4)
        tm_put32(data + len - 4, tm_crc32c(0, data, len - 4));
}

const char *tm_fuzz_put_file(const char *name, uint8_t *img, size_t len, bool seal_tail)
{
    if (seal_tail)
        tm_fuzz_seal_tail_crc(img, len);
    tm_fuzz_clean();
    return tm_fuzz_put(name, img, len);
}

size_t tm_fuzz_seal_frames(uint8_t *data, size_t len, size_t off)
{
    while (off + TM_FRAME_HDR_SIZE <= len && tm_frame_has_magic(data + off)) {
        uint8_t *h = data + off;
        size_t clen = tm_get32(h + 8);
        size_t avail = len - off - TM_FRAME_HDR_SIZE;
        size_t plen = clen < avail ? clen : avail;
        tm_put32(h + 64, tm_crc32c(0, h + TM_FRAME_HDR_SIZE, plen));
        tm_put32(h + 68, tm_crc32c(0, h, 68));
        off += TM_FRAME_HDR_SIZE + plen;
    }
    return off;
}

#ifndef TM_LIBFUZZER
/* The plain driver: every file named, and every file in every directory
 * named, in name order, through the target once, each in an exact-size
 * heap copy so that ASan sees a read past its end. */
static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        tm_log_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(buf, cap);
            if (!p)
                abort();
            buf = p;
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        if (n == 0)
            break;
        len += n;
    }
    fclose(fp);
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact)
        abort();
    if (len)
        memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        tm_log_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    DIR *d = opendir(path);
    if (!d) {
        tm_log_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof *names);
            if (!p)
                abort();
            names = p;
        }
        names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
        if (!names[n])
            abort();
        sprintf(names[n++], "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n > 0) /* names is NULL for an empty directory */
        qsort(names, n, sizeof *names, cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            (*count)++;
            if (run_file(names[i]) != 0)
                rc = -1;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Usage: fuzz_TARGET NAME PATH...   (NAME only labels the summary line) */
int main(int argc, char **argv)
{
    if (argc < 2) {
        tm_log_error("usage: %s NAME [FILE|DIR]...", argv[0]);
        return 2;
    }
    size_t count = 0;
    int rc = 0;
    for (int i = 2; i < argc; i++)
        if (run_path(argv[i], &count) != 0)
            rc = 1;
    /* Reaching this line means no input crashed or failed a property. */
    printf("fuzz %s: %zu inputs replayed, crashes 0\n", argv[1], count);
    return rc;
}
#endif
