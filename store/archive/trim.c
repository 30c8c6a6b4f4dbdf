/* Retention in the archive: see trim.h. */
#include "store/archive/trim.h"

#include <stdlib.h>
#include <string.h>

#include "store/journal/horizon.h"
#include "store/journal/segment.h"

/* Whether the journal file name lies below horizon h. */
static bool below(const tm_horizon *h, const char *name)
{
    uint64_t n;
    if (tm_name_numbered(name, ".seg", &n) || tm_name_numbered(name, ".idx", &n) ||
        tm_name_numbered(name, ".keys", &n))
        return n < h->first_segment;
    if (strncmp(name, "checkpoints/", 12) == 0 && tm_name_numbered(name + 12, ".ckpt", &n))
        return n < h->lsn;
    return false;
}

long tm_archive_trim_state(const char *dir, tm_archive_state *st, tm_error *err)
{
    tm_horizon h;
    int hz = tm_horizon_read_file(dir, TM_HORIZON_FILE, &h, err);
    if (hz <= 0)
        return hz;
    size_t k = 0;
    for (size_t i = 0; i < st->n_files; i++)
        if (!below(&h, st->files[i].name))
            st->files[k++] = st->files[i];
    long dropped = (long)(st->n_files - k);
    st->n_files = k;
    return dropped;
}

typedef struct doomed {
    const tm_horizon *h;
    const tm_archive_state *st;
    size_t plen;
    char (*keys)[1200];
    size_t n, cap;
} doomed;

static int collect(const tm_s3_entry *e, void *arg, tm_error *err)
{
    doomed *d = arg;
    const char *name = e->key + d->plen;
    if (e->is_prefix || strlen(e->key) >= sizeof d->keys[0] || !below(d->h, name))
        return 0;
    for (size_t i = 0; i < d->st->n_files; i++)
        if (strcmp(d->st->files[i].name, name) == 0)
            return 0;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        char(*v)[1200] = realloc(d->keys, cap * sizeof *v);
        if (!v) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return -1;
        }
        d->keys = v;
        d->cap = cap;
    }
    strcpy(d->keys[d->n++], e->key);
    return 0;
}

long tm_archive_trim_store(tm_s3 *s3, const char *dir, const char *prefix,
                           const tm_archive_state *st, tm_error *err)
{
    tm_horizon h;
    int hz = tm_horizon_read_file(dir, TM_HORIZON_FILE, &h, err);
    if (hz <= 0)
        return hz;
    /* Listed first, deleted after: no deletes under a paginated listing. */
    doomed d = {.h = &h, .st = st, .plen = strlen(prefix)};
    long rc = tm_s3_list(s3, prefix, NULL, 0, collect, &d, err) < 0 ? -1 : 0;
    for (size_t i = 0; rc >= 0 && i < d.n; i++)
        rc = tm_s3_delete(s3, d.keys[i], err) < 0 ? -1 : rc + 1;
    free(d.keys);
    return rc;
}
