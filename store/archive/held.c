/* Whether the archive holds a journal file: see held.h. */
#include "store/archive/held.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int tm_archive_held_load(tm_archive_held *h, const char *dir, tm_error *err)
{
    memset(h, 0, sizeof *h);
    h->dir = dir;
    int rc = tm_archive_state_read(dir, &h->st, err);
    if (rc < 0)
        return -1;
    h->complete = rc == 1 && h->st.success_us > 0 && h->st.success_us >= h->st.pass_us;
    return 0;
}

bool tm_archive_held_has(void *arg, const char *name)
{
    const tm_archive_held *h = arg;
    if (!h->complete)
        return false;
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", h->dir, name) >= (int)sizeof path ||
        stat(path, &st) != 0)
        return false;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    for (size_t i = 0; i < h->st.n_files; i++) {
        const tm_archive_file *f = &h->st.files[i];
        if (strcmp(f->name, name) == 0)
            return f->sha256[0] && f->size == (uint64_t)st.st_size && f->mtime_ns == mtime;
    }
    return false;
}

void tm_archive_held_free(tm_archive_held *h)
{
    tm_archive_state_free(&h->st);
}
