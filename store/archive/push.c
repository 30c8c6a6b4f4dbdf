/* One archive pass: see push.h. */
#include "store/archive/push.h"

#include "store/archive/sealed.h"
#include "store/common/fsutil.h"
#include "store/common/tm_time.h"
#include "store/journal/journal.h"
#include "store/journal/seg_index.h"
#include "store/journal/segment.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAGIC "tidemark-archive-state 1"
#define MANIFEST_MAGIC "tidemark-archive 1"
#define CKPT_DIR "checkpoints"
#define STATE_MAX (64u << 20)
#define SEAL_TMP "archive.seal.tmp" /* a file sealed for upload */

void tm_archive_state_free(tm_archive_state *st)
{
    free(st->files);
    memset(st, 0, sizeof *st);
}

static tm_archive_file *find(tm_archive_state *st, const char *name)
{
    for (size_t i = 0; i < st->n_files; i++)
        if (strcmp(st->files[i].name, name) == 0)
            return &st->files[i];
    return NULL;
}

static tm_archive_file *add(tm_archive_state *st, const char *name, tm_error *err)
{
    tm_archive_file *f = find(st, name);
    if (f)
        return f;
    if (st->n_files == st->cap_files) {
        size_t cap = st->cap_files ? 2 * st->cap_files : 64;
        tm_archive_file *p = realloc(st->files, cap * sizeof *p);
        if (!p) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return NULL;
        }
        st->files = p;
        st->cap_files = cap;
    }
    f = &st->files[st->n_files++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    return f;
}

/* Parses the lines of a state file or manifest (their "file" lines differ
 * by the mtime field). */
static int parse(char *text, bool manifest, tm_archive_state *st, uint64_t *sysid, char *db,
                 size_t dblen, const char *what, tm_error *err)
{
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (!line || strcmp(line, manifest ? MANIFEST_MAGIC : STATE_MAGIC) != 0) {
        tm_error_setc(err, TM_ERR_CORRUPT, "%s is not a tidemark archive %s", what,
                      manifest ? "manifest" : "state file");
        return -1;
    }
    while ((line = strtok_r(NULL, "\n", &save))) {
        char name[128], sha[65], kid[TM_KEY_ID_MAX + 1] = "", osha[65] = "";
        unsigned long long size, a, b, osize = 0;
        long long mtime;
        bool ok = true;
        if (strncmp(line, "file ", 5) == 0) {
            /* The key id and the stored object's size and SHA-256 only for
             * a sealed file; the manifest's SIZE and SHA256 are the object's. */
            int n = manifest ? sscanf(line, "file %127s %llu %64s %32s", name, &size, sha, kid)
                             : sscanf(line, "file %127s %llu %lld %64s %32s %llu %64s", name, &size,
                                      &mtime, sha, kid, &osize, osha);
            ok = manifest ? n == 3 || n == 4 : n == 4 || n == 7;
            tm_archive_file *f = ok ? add(st, name, err) : NULL;
            if (ok && !f)
                return -1;
            if (f) {
                f->size = size;
                f->mtime_ns = manifest ? 0 : mtime;
                snprintf(f->sha256, sizeof f->sha256, "%s", sha);
                snprintf(f->key_id, sizeof f->key_id, "%s", kid);
                f->obj_size = n == 7 ? osize : size;
                snprintf(f->obj_sha256, sizeof f->obj_sha256, "%s", n == 7 ? osha : sha);
            }
        } else if (!manifest && strncmp(line, "url ", 4) == 0) {
            snprintf(st->url, sizeof st->url, "%s", line + 4);
        } else if (!manifest && sscanf(line, "pass %llu", &a) == 1) {
            st->pass_us = (int64_t)a;
        } else if (!manifest && sscanf(line, "success %llu", &a) == 1) {
            st->success_us = (int64_t)a;
        } else if (!manifest && sscanf(line, "pending %llu %llu", &a, &b) == 2) {
            st->pending_files = a;
            st->pending_bytes = b;
        } else if (!manifest && strncmp(line, "error ", 6) == 0) {
            snprintf(st->error, sizeof st->error, "%s", line + 6);
        } else if (manifest && strncmp(line, "source ", 7) == 0) {
            char d[256];
            ok = sscanf(line, "source %llu %255s", &a, d) == 2;
            if (ok && sysid)
                *sysid = a;
            if (ok && db)
                snprintf(db, dblen, "%s", d);
        } else if (manifest && strncmp(line, "range ", 6) == 0) {
            long long lo, hi;
            ok = sscanf(line, "range %lld %lld %llu", &lo, &hi, &a) == 3;
            st->min_time = lo;
            st->max_time = hi;
            st->last_lsn = a;
        } else if (manifest && strncmp(line, "updated ", 8) == 0) {
            ok = sscanf(line, "updated %llu", &a) == 1;
            st->success_us = (int64_t)a;
        }
        if (!ok) {
            tm_error_setc(err, TM_ERR_CORRUPT, "%s: a line does not parse: %.80s", what, line);
            return -1;
        }
    }
    return 0;
}

int tm_archive_state_read(const char *dir, tm_archive_state *st, tm_error *err)
{
    memset(st, 0, sizeof *st);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, TM_ARCHIVE_STATE);
    unsigned char *data = NULL;
    size_t len = 0;
    if (tm_read_file(path, STATE_MAX, &data, &len, err) < 0) {
        if (tm_error_is(err, TM_ERR_NOT_FOUND)) {
            tm_error_clear(err);
            return 0;
        }
        return -1;
    }
    char *text = malloc(len + 1);
    if (!text) {
        free(data);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    free(data);
    int rc = parse(text, false, st, NULL, NULL, 0, path, err);
    free(text);
    if (rc < 0) {
        tm_archive_state_free(st);
        return -1;
    }
    return 1;
}

/* Text of the state (manifest false) or the manifest, malloc'd. */
static char *render(const tm_archive_state *st, bool manifest, const tm_meta *meta)
{
    tm_buf b = {0};
    size_t cap = 1024 + st->n_files * 450 + strlen(st->error);
    if (tm_buf_reserve(&b, cap, NULL) < 0)
        return NULL;
    char *p = (char *)b.p;
    size_t n = 0;
    if (manifest) {
        n += (size_t)snprintf(p + n, cap - n,
                              "%s\nsource %" PRIu64 " %s\nupdated %" PRId64 "\nrange %" PRId64
                              " %" PRId64 " %" PRIu64 "\n",
                              MANIFEST_MAGIC, meta->system_identifier, meta->database,
                              tm_time_now(), st->min_time, st->max_time, st->last_lsn);
    } else {
        n += (size_t)snprintf(p + n, cap - n,
                              "%s\nurl %s\npass %" PRId64 "\nsuccess %" PRId64 "\npending %" PRIu64
                              " %" PRIu64 "\n",
                              STATE_MAGIC, st->url, st->pass_us, st->success_us, st->pending_files,
                              st->pending_bytes);
        if (st->error[0])
            n += (size_t)snprintf(p + n, cap - n, "error %s\n", st->error);
    }
    for (size_t i = 0; i < st->n_files; i++) {
        const tm_archive_file *f = &st->files[i];
        if (manifest)
            n += (size_t)snprintf(p + n, cap - n, "file %s %" PRIu64 " %s%s%s\n", f->name,
                                  f->obj_size, f->obj_sha256, f->key_id[0] ? " " : "", f->key_id);
        else
            n += (size_t)snprintf(p + n, cap - n, "file %s %" PRIu64 " %" PRId64 " %s", f->name,
                                  f->size, f->mtime_ns, f->sha256);
        if (!manifest && f->key_id[0])
            n += (size_t)snprintf(p + n, cap - n, " %s %" PRIu64 " %s", f->key_id, f->obj_size,
                                  f->obj_sha256);
        if (!manifest)
            n += (size_t)snprintf(p + n, cap - n, "\n");
    }
    return p;
}

/* The commit times and last commit LSN of the archived segments, from
 * their local indexes (frame headers). */
static void commit_range(const char *dir, tm_archive_state *st)
{
    st->min_time = st->max_time = 0;
    st->last_lsn = 0;
    tm_frame_dir fd = {0};
    for (size_t i = 0; i < st->n_files; i++) {
        uint64_t no;
        if (!tm_name_numbered(st->files[i].name, ".seg", &no))
            continue;
        char why[256];
        tm_error e = {0};
        if (tm_index_read(dir, no, st->files[i].size, &fd, why, sizeof why, &e) != TM_IDX_OK)
            continue;
        for (size_t k = 0; k < fd.n; k++) {
            const tm_frame_hdr *h = &fd.v[k].h;
            if (!h->first_lsn)
                continue; /* no transaction in it */
            if (!st->min_time || h->min_time < st->min_time)
                st->min_time = h->min_time;
            if (h->max_time > st->max_time)
                st->max_time = h->max_time;
            if (h->last_lsn > st->last_lsn)
                st->last_lsn = h->last_lsn;
        }
    }
    tm_frame_dir_free(&fd);
}

static int state_write(const char *dir, const tm_archive_state *st, tm_error *err)
{
    char *text = render(st, false, NULL);
    if (!text) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    int rc = tm_write_file_atomic(dir, TM_ARCHIVE_STATE, text, strlen(text), err);
    free(text);
    return rc;
}

/* ---- what is to be archived -------------------------------------------- */

typedef struct cand {
    char name[128];
    uint64_t size;
    int64_t mtime_ns;
    int order; /* segments, then indexes, then the rest */
} cand;

typedef struct cands {
    cand *v;
    size_t n, cap;
    uint64_t live_bytes; /* segments without an index: not archived yet */
} cands;

static int cand_add(cands *c, const char *dir, const char *name, int order, tm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT) /* removed meanwhile (a prune): nothing to archive */
            return 0;
        tm_error_errno(err, "cannot stat %s", path);
        return -1;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        cand *p = realloc(c->v, cap * sizeof *p);
        if (!p) {
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
            return -1;
        }
        c->v = p;
        c->cap = cap;
    }
    cand *x = &c->v[c->n++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->size = (uint64_t)st.st_size;
    x->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    x->order = order;
    return 0;
}

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->order != y->order)
        return x->order - y->order;
    return strcmp(x->name, y->name);
}

static int scan(const char *dir, cands *c, tm_error *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        tm_error_errno(err, "cannot read journal directory %s", dir);
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        const char *n = e->d_name;
        uint64_t no;
        if (tm_name_numbered(n, ".seg", &no)) {
            char idx[TM_SEG_NAME_LEN], path[4096];
            tm_idx_name(no, idx);
            snprintf(path, sizeof path, "%s/%s", dir, idx);
            struct stat st;
            if (access(path, F_OK) == 0)
                rc = cand_add(c, dir, n, 0, err);
            else if (snprintf(path, sizeof path, "%s/%s", dir, n) > 0 && stat(path, &st) == 0)
                c->live_bytes += (uint64_t)st.st_size;
        } else if (tm_name_numbered(n, ".idx", NULL)) {
            rc = cand_add(c, dir, n, 1, err);
        } else if (tm_name_numbered(n, ".keys", NULL) || strcmp(n, "rowcounts") == 0 ||
                   strcmp(n, "journal.meta") == 0 || strcmp(n, "horizon") == 0) {
            rc = cand_add(c, dir, n, 2, err);
        }
    }
    closedir(d);
    if (rc < 0)
        return -1;
    char ck[4096];
    snprintf(ck, sizeof ck, "%s/%s", dir, CKPT_DIR);
    d = opendir(ck);
    if (!d)
        return 0; /* no checkpoints (yet) */
    while (rc == 0 && (e = readdir(d))) {
        if (tm_name_numbered(e->d_name, ".ckpt", NULL)) {
            char name[300];
            snprintf(name, sizeof name, "%s/%s", CKPT_DIR, e->d_name);
            rc = cand_add(c, dir, name, 3, err);
        }
    }
    closedir(d);
    qsort(c->v, c->n, sizeof *c->v, cand_cmp);
    return rc;
}

/* ---- the pass ----------------------------------------------------------- */

static const char *kind_of(int order)
{
    static const char *const kinds[] = {"segment", "index", "summary", "checkpoint"};
    return kinds[order];
}

/* Uploads one file, sealed with kr's current key when kr is not NULL, and
 * checks the archived copy (HEAD: size and SHA-256); f gets what is stored. */
static int upload(tm_s3 *s3, const char *dir, const char *prefix, const cand *c, const char *sha,
                  const tm_keyring *kr, tm_archive_file *f, tm_error *err)
{
    char path[4096], key[1200], tmp[4096], osha[65];
    snprintf(path, sizeof path, "%s/%s", dir, c->name);
    snprintf(key, sizeof key, "%s%s", prefix, c->name);
    snprintf(tmp, sizeof tmp, "%s/%s", dir, SEAL_TMP);
    snprintf(osha, sizeof osha, "%s", sha);
    uint64_t size = c->size;
    const char *kid = kr ? tm_keyring_current(kr)->id : "";
    if (kr && (tm_archive_seal_file(kr, c->name, path, tmp, &size, err) < 0 ||
               tm_sha256_file(tmp, osha, err) < 0)) {
        unlink(tmp);
        return -1;
    }
    const char *meta[] = {"tm-kind", kind_of(c->order), kr ? TM_ARCHIVE_KEY_META : NULL, kid, NULL};
    int rc = tm_s3_put_file(s3, key, kr ? tmp : path, meta, err);
    if (kr)
        unlink(tmp); /* ciphertext only; a leftover is replaced next time */
    tm_s3_object info;
    if (rc < 0 || tm_s3_head(s3, key, &info, err) < 0)
        return -1;
    if (info.size != size || strcmp(info.sha256, osha) != 0 ||
        strcmp(tm_s3_object_meta(&info, TM_ARCHIVE_KEY_META), kid) != 0) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "the archived copy s3://%s/%s is not %s (size %" PRIu64 ", SHA-256 %s; "
                      "expected %" PRIu64 ", %s%s%s)",
                      tm_s3_cfg(s3)->bucket, key, path, info.size, info.sha256, size, osha,
                      kr ? " sealed with key " : "", kid);
        return -1;
    }
    f->obj_size = size;
    snprintf(f->obj_sha256, sizeof f->obj_sha256, "%s", osha);
    snprintf(f->key_id, sizeof f->key_id, "%s", kid);
    return 0;
}

/* Whether the archived copy f of a file must go up again for want of
 * encryption: archived plain while a key file is given. */
static bool needs_sealing(const tm_archive_file *f, const tm_keyring *kr)
{
    return kr && f && !f->key_id[0];
}

/* Without a key file, an archive that holds sealed objects is refused. */
static int refuse_plain(const tm_archive_state *st, const char *url, tm_error *err)
{
    for (size_t i = 0; i < st->n_files; i++)
        if (st->files[i].key_id[0]) {
            tm_error_setc(err, TM_ERR_USAGE,
                          "the archive %s holds encrypted objects (%s, key id \"%s\"): give "
                          "the key file with --encrypt-key-file, so that nothing goes up "
                          "unencrypted",
                          url, st->files[i].name, st->files[i].key_id);
            return -1;
        }
    return 0;
}

int tm_archive_manifest_read(tm_s3 *s3, const char *prefix, tm_archive_state *st, uint64_t *sysid,
                             char *database, size_t dblen, tm_error *err)
{
    char key[1200];
    snprintf(key, sizeof key, "%s%s", prefix, TM_ARCHIVE_MANIFEST);
    tm_buf b = {0};
    if (tm_s3_get(s3, key, 0, 0, &b, NULL, err) < 0) {
        tm_buf_free(&b);
        if (tm_error_is(err, TM_ERR_NOT_FOUND)) {
            tm_error_clear(err);
            return 0;
        }
        return -1;
    }
    if (tm_buf_reserve(&b, 1, err) < 0) {
        tm_buf_free(&b);
        return -1;
    }
    b.p[b.len] = '\0';
    char what[1600];
    snprintf(what, sizeof what, "s3://%s/%s", tm_s3_cfg(s3)->bucket, key);
    int rc = parse((char *)b.p, true, st, sysid, database, dblen, what, err);
    tm_buf_free(&b);
    return rc < 0 ? -1 : 1;
}

int tm_archive_pass(tm_s3 *s3, const char *dir, const char *url, const tm_keyring *kr,
                    tm_archive_pass_result *res, tm_error *err)
{
    memset(res, 0, sizeof *res);
    char bucket[256], prefix[1024];
    if (tm_s3_parse_url(url, bucket, sizeof bucket, prefix, sizeof prefix, err) < 0)
        return -1;
    tm_meta meta;
    if (tm_meta_read(dir, &meta, err) < 0)
        return -1;
    tm_archive_state st;
    if (tm_archive_state_read(dir, &st, err) < 0)
        return -1;
    cands c = {0};
    int rc = -1;
    bool changed = false;
    if (strcmp(st.url, url) != 0) {
        /* Another archive (or none) before: start from what it holds. */
        tm_archive_state_free(&st);
        snprintf(st.url, sizeof st.url, "%s", url);
    }
    st.pass_us = tm_time_now();
    if (scan(dir, &c, err) < 0)
        goto out;
    /* The lag first, so that status shows it while the archive is down. */
    st.pending_files = 0;
    st.pending_bytes = c.live_bytes;
    for (size_t i = 0; i < c.n; i++) {
        tm_archive_file *f = find(&st, c.v[i].name);
        if (!f || f->size != c.v[i].size || f->mtime_ns != c.v[i].mtime_ns ||
            needs_sealing(f, kr)) {
            st.pending_files++;
            st.pending_bytes += c.v[i].size;
        }
    }
    if (st.n_files == 0 && c.n > 0) {
        /* No local record: adopt what the manifest says is there already. */
        if (tm_archive_manifest_read(s3, prefix, &st, NULL, NULL, 0, err) < 0)
            goto fail;
        changed = st.n_files == 0;
    }
    if (!kr && refuse_plain(&st, url, err) < 0)
        goto fail;
    if (state_write(dir, &st, err) < 0)
        goto out;
    for (size_t i = 0; i < c.n; i++) {
        const cand *x = &c.v[i];
        tm_archive_file *f = find(&st, x->name);
        if (f && f->size == x->size && f->mtime_ns == x->mtime_ns && !needs_sealing(f, kr))
            continue;
        char path[4096], sha[65];
        snprintf(path, sizeof path, "%s/%s", dir, x->name);
        if (tm_sha256_file(path, sha, err) < 0) {
            if (tm_error_is(err, TM_ERR_NOT_FOUND)) { /* pruned meanwhile */
                tm_error_clear(err);
                continue;
            }
            goto fail;
        }
        tm_archive_file up = {0};
        bool again = !(f && f->size == x->size && strcmp(f->sha256, sha) == 0);
        if (again || needs_sealing(f, kr)) {
            if (upload(s3, dir, prefix, x, sha, kr, &up, err) < 0)
                goto fail;
            res->uploaded_files++;
            res->uploaded_bytes += x->size;
            changed = true;
        }
        if (!(f = add(&st, x->name, err))) /* the entry (made when new) */
            goto fail;
        if (up.obj_sha256[0]) { /* what is stored now */
            f->obj_size = up.obj_size;
            snprintf(f->obj_sha256, sizeof f->obj_sha256, "%s", up.obj_sha256);
            snprintf(f->key_id, sizeof f->key_id, "%s", up.key_id);
        }
        f->size = x->size;
        f->mtime_ns = x->mtime_ns;
        snprintf(f->sha256, sizeof f->sha256, "%s", sha);
        st.pending_files--;
        st.pending_bytes -= x->size;
        if (state_write(dir, &st, err) < 0)
            goto out;
    }
    if (changed) {
        commit_range(dir, &st);
        char *text = render(&st, true, &meta);
        char key[1200];
        snprintf(key, sizeof key, "%s%s", prefix, TM_ARCHIVE_MANIFEST);
        int prc = text ? tm_s3_put(s3, key, text, strlen(text), NULL, err) : -1;
        if (!text)
            tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        free(text);
        if (prc < 0)
            goto fail;
    }
    st.success_us = tm_time_now();
    st.error[0] = '\0';
    rc = state_write(dir, &st, err);
    goto out;
fail:
    snprintf(st.error, sizeof st.error, "%s", err->msg);
    for (char *p = st.error; *p; p++)
        if (*p == '\n')
            *p = ' ';
    {
        tm_error ignored = {0};
        state_write(dir, &st, &ignored);
    }
out:
    res->pending_files = st.pending_files;
    res->pending_bytes = st.pending_bytes;
    free(c.v);
    tm_archive_state_free(&st);
    return rc;
}

typedef struct fleet {
    tm_s3 *s3;
    FILE *out;
    long n;
} fleet;

static int fleet_one(fleet *f, const char *prefix, tm_error *err)
{
    tm_archive_state st = {0};
    uint64_t sysid = 0;
    char db[256] = "";
    int rc = tm_archive_manifest_read(f->s3, prefix, &st, &sysid, db, sizeof db, err);
    if (rc == 1) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < st.n_files; i++)
            bytes += st.files[i].size;
        char a[TM_TIME_BUFLEN], b[TM_TIME_BUFLEN], u[TM_TIME_BUFLEN];
        if (f->out) {
            fprintf(f->out,
                    "s3://%s/%s  system %" PRIu64 ", database \"%s\", %zu files, %" PRIu64
                    " bytes, ",
                    tm_s3_cfg(f->s3)->bucket, prefix, sysid, db, st.n_files, bytes);
            if (st.max_time)
                fprintf(f->out, "commits %s to %s", tm_time_format(st.min_time, a),
                        tm_time_format(st.max_time, b));
            else
                fprintf(f->out, "no commits archived yet");
            fprintf(f->out, ", manifest written %s (%.0f s ago)\n",
                    tm_time_format(st.success_us, u),
                    (double)(tm_time_now() - st.success_us) / 1e6);
        }
        f->n++;
    }
    tm_archive_state_free(&st);
    return rc < 0 ? -1 : 0;
}

static int fleet_entry(const tm_s3_entry *e, void *arg, tm_error *err)
{
    return e->is_prefix ? fleet_one(arg, e->key, err) : 0;
}

long tm_archive_fleet(tm_s3 *s3, const char *prefix, FILE *out, tm_error *err)
{
    fleet f = {.s3 = s3, .out = out};
    if (fleet_one(&f, prefix, err) < 0)
        return -1;
    if (f.n == 0 && tm_s3_list(s3, prefix, "/", 0, fleet_entry, &f, err) < 0)
        return -1;
    return f.n;
}

long tm_archive_check(tm_s3 *s3, const char *prefix, const tm_keyring *kr, FILE *out, tm_error *err)
{
    tm_archive_state st = {0};
    int m = tm_archive_manifest_read(s3, prefix, &st, NULL, NULL, 0, err);
    if (m <= 0) {
        if (m == 0)
            tm_error_setc(err, TM_ERR_NOT_FOUND, "s3://%s/%s%s: no archive manifest there",
                          tm_s3_cfg(s3)->bucket, prefix, TM_ARCHIVE_MANIFEST);
        tm_archive_state_free(&st);
        return -1;
    }
    long bad = 0, unopened = 0;
    tm_buf b = {0};
    for (size_t i = 0; i < st.n_files; i++) {
        const tm_archive_file *f = &st.files[i];
        char key[1200], url[1500];
        snprintf(key, sizeof key, "%s%s", prefix, f->name);
        snprintf(url, sizeof url, "s3://%s/%s", tm_s3_cfg(s3)->bucket, key);
        tm_error e = {0};
        b.len = 0;
        char got[65] = "";
        tm_s3_object info;
        int rc = tm_s3_get(s3, key, 0, 0, &b, &info, &e);
        if (rc == 0) {
            tm_sha256_hex(b.p ? b.p : (const unsigned char *)"", b.len, got);
            if (b.len != f->obj_size || strcmp(got, f->obj_sha256) != 0) {
                tm_error_setc(&e, TM_ERR_CORRUPT,
                              "object %s is damaged: %zu bytes, SHA-256 %s; the manifest says "
                              "%" PRIu64 " bytes, %s",
                              url, b.len, got, f->obj_size, f->obj_sha256);
                rc = -1;
            }
        }
        const char *mid = rc == 0 ? tm_s3_object_meta(&info, TM_ARCHIVE_KEY_META) : "";
        if (rc == 0 && strcmp(mid, f->key_id) != 0) {
            tm_error_setc(&e, TM_ERR_CORRUPT,
                          "object %s is damaged: its metadata names key id \"%s\", the manifest "
                          "\"%s\"",
                          url, mid, f->key_id);
            rc = -1;
        }
        /* Sealed: the tag is checked (in place) when the key file is here. */
        if (rc == 0 && f->key_id[0] && kr)
            rc = tm_archive_decrypt(kr, f->name, url, &b, &info, &e);
        if (rc < 0) {
            bad++;
            if (out)
                fprintf(out, "%s  BAD: %s\n", f->name, e.msg);
        } else if (out && f->key_id[0]) {
            unopened += !kr;
            fprintf(out, "%s  ok  %" PRIu64 " bytes, encrypted with key %s%s\n", f->name,
                    f->obj_size, f->key_id, kr ? "" : " (not decrypted: no key file)");
        } else if (out) {
            fprintf(out, "%s  ok  %" PRIu64 " bytes\n", f->name, f->obj_size);
        }
    }
    if (out && unopened)
        fprintf(out,
                "%ld encrypted objects were checked against the manifest only; give "
                "--encrypt-key-file to authenticate them too\n",
                unopened);
    tm_buf_free(&b);
    tm_archive_state_free(&st);
    return bad;
}
