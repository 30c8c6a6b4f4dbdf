/* tidemark verify, the walk: lists every entry of a journal directory (and
 * of the subdirectories its kinds name), hands the segments and their
 * indexes to verify.c, checks journal.meta and the caller's kinds, reports
 * the known, temporary and unknown files, and prints the totals. The kinds
 * of files and the lines are described in verify.h. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/common/inert.h"
#include "store/common/lsn.h"
#include "store/journal/journal.h"
#include "store/journal/compact.h"
#include "store/journal/horizon.h"
#include "store/journal/segment.h"
#include "store/journal/verify_internal.h"

#define META_NAME "journal.meta"

/* ---- names ------------------------------------------------------------- */

static bool is_segment(const char *n)
{
    return tm_name_numbered(n, ".seg", NULL);
}

static bool is_index(const char *n)
{
    return tm_name_numbered(n, ".idx", NULL);
}

static bool is_meta(const char *n)
{
    return !strcmp(n, META_NAME);
}

static bool is_live_index(const char *n)
{
    return tm_name_numbered(n, ".lidx", NULL);
}

static bool is_lock(const char *n)
{
    return !strcmp(n, "capture.lock");
}

static bool is_compact_lock(const char *n)
{
    return !strcmp(n, TM_COMPACT_LOCK);
}

static bool is_heartbeat(const char *n)
{
    return !strcmp(n, "capture.status");
}

static bool is_confirmed_mark(const char *n)
{
    return !strcmp(n, "confirmed.mark");
}

static bool is_rewrites_pending(const char *n)
{
    return !strcmp(n, "rewrites.pending");
}

static bool is_tables_captured(const char *n)
{
    return !strcmp(n, "tables.captured");
}

static bool is_reseed_pending(const char *n)
{
    return !strcmp(n, "reseed.pending");
}

static bool is_init_pending(const char *n)
{
    return !strcmp(n, "init.pending");
}

static bool is_spool(const char *n)
{
    return !strcmp(n, "spool.tmp") || tm_name_stream_spool(n);
}

static bool is_snapshot_spool(const char *n)
{
    return !strcmp(n, "snapshot.tmp");
}

/* NAME.tmp: tm_write_file_atomic's temporary name for NAME. */
static bool is_atomic_tmp(const char *n)
{
    size_t len = strlen(n);
    return len > 4 && !strcmp(n + len - 4, ".tmp");
}

/* ---- the journal's own kinds ------------------------------------------- */

static int check_meta(const char *path, tm_vresult *r, tm_error *err)
{
    char *copy = strdup(path);
    if (!copy) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    tm_meta m;
    tm_error merr;
    int rc = tm_meta_read(dirname(copy), &m, &merr);
    free(copy);
    if (rc != 0 && tm_error_is(&merr, TM_ERR_NOMEM)) {
        *err = merr;
        return -1;
    }
    if (rc != 0) {
        r->damaged = true;
        /* A newer format says to upgrade; anything else is damage. */
        snprintf(r->text, sizeof r->text, "%.900s%s", merr.msg,
                 tm_error_is(&merr, TM_ERR_FORMAT)
                     ? ""
                     : "; capture and the readers refuse the journal until it is restored from a "
                       "backup");
        return 0;
    }
    char db[TM_INERT_SIZE(128)], slot[TM_INERT_SIZE(128)];
    snprintf(r->text, sizeof r->text, "format %d, database \"%s\", system %" PRIu64 ", slot \"%s\"",
             m.format_version, tm_inert(m.database, db, sizeof db), m.system_identifier,
             tm_inert(m.slot, slot, sizeof slot));
    return 0;
}

/* The confirmed mark: one of its two copies must be sound, and the segment
 * it names must hold at least as much as it says was made durable (less
 * means confirmed transactions are gone: the server will not send them
 * again). */
static int check_mark(const char *path, tm_vresult *r, tm_error *err)
{
    char *copy = strdup(path);
    if (!copy) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    const char *dir = dirname(copy);
    tm_mark m;
    tm_error merr;
    int rc = tm_mark_read(dir, &m, &merr);
    struct stat st;
    char seg[PATH_MAX], name[TM_SEG_NAME_LEN];
    bool short_seg = rc == 1 &&
                     tm_seg_path(dir, tm_seg_name(m.segment, name), seg, sizeof seg, &merr) == 0 &&
                     (stat(seg, &st) != 0 || (uint64_t)st.st_size < m.offset);
    free(copy);
    if (rc < 0) {
        r->damaged = true;
        snprintf(r->text, sizeof r->text,
                 "%.700s; capture refuses to start until the journal is restored from a backup",
                 merr.msg);
    } else if (short_seg) {
        r->damaged = true;
        snprintf(r->text, sizeof r->text,
                 "segment %s holds less than the %" PRIu64 " bytes the mark says were made "
                 "durable and confirmed: confirmed transactions are missing; restore the journal "
                 "from a backup",
                 name, m.offset);
    } else if (rc == 1) {
        char l[TM_LSN_BUFLEN];
        snprintf(r->text, sizeof r->text, "confirmed %s, durable to segment %s offset %" PRIu64,
                 tm_lsn_format(m.lsn, l), name, m.offset);
    }
    return 0;
}

static bool is_horizon(const char *name)
{
    return !strcmp(name, TM_HORIZON_FILE);
}

/* Checked by the segment pass (verify.c); listed so that they are known. */
static const tm_vkind segment_kind = {.match = is_segment, .what = "a segment"};
static const tm_vkind index_kind = {.match = is_index, .what = "the index of a sealed segment"};

static const tm_vkind journal_kinds[] = {
    {.match = is_meta, .what = "the journal's metadata", .check = check_meta},
    {.match = is_lock, .what = "the capture lock (held while a capture runs)"},
    {.match = is_compact_lock, .what = "the compaction lock (held while tidemark compact runs)"},
    {.match = is_live_index,
     .what = "the live segment's frame index (a cache: readers use it only as far as it agrees "
             "with the segment)"},
    {.match = is_heartbeat,
     .what = "capture's heartbeat: whether it runs and how far behind (tidemark status)"},
    {.match = is_confirmed_mark, .what = "capture's durable confirmed mark", .check = check_mark},
    {.match = is_horizon,
     .what = "the retention horizon (where a pruned journal starts)",
     .check = tm_horizon_verify,
     .if_damaged = "readers refuse the journal until it is restored from a backup or tidemark "
                   "prune is run again"},
    {.match = is_reseed_pending,
     .what = "capture's record of a --reseed in progress (the next start completes or rolls it "
             "back)"},
    {.match = is_init_pending,
     .what = "capture's record of a first run in progress (the slot it creates)"},
    {.match = is_rewrites_pending,
     .what = "capture's list of tables owed a fresh snapshot after a rewrite (not checked)"},
    {.match = is_tables_captured,
     .what = "capture's list of the tables whose capture has started and not ended (not "
             "checked)"},
    {.match = is_spool, .what = "capture's spool of a large transaction", .temporary = true},
    {.match = is_snapshot_spool,
     .what = "capture's spool of a snapshot being taken",
     .temporary = true},
    {.match = is_atomic_tmp,
     .what = "the temporary name of a file being replaced (write, fsync, rename)",
     .temporary = true},
};

static bool same_subdir(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The kind of entry base in subdir (NULL: the journal directory): the
 * journal's own first, then the caller's; NULL when unknown. */
static const tm_vkind *kind_of(const tm_verify_opts *o, const char *subdir, const char *base)
{
    if (!subdir && is_segment(base))
        return &segment_kind;
    if (!subdir && is_index(base))
        return &index_kind;
    for (size_t i = 0; i < sizeof journal_kinds / sizeof journal_kinds[0]; i++)
        if (same_subdir(journal_kinds[i].subdir, subdir) && journal_kinds[i].match(base))
            return &journal_kinds[i];
    for (size_t i = 0; i < o->nkinds; i++)
        if (same_subdir(o->kinds[i].subdir, subdir) && o->kinds[i].match(base))
            return &o->kinds[i];
    return NULL;
}

/* ---- the entries --------------------------------------------------------- */

typedef struct ventry {
    char *name;         /* as printed: "checkpoints/x.ckpt" in a subdirectory */
    const char *base;   /* the name within its directory */
    const char *subdir; /* NULL, or the subdirectory (a kind's string) */
    bool is_dir;
    bool claimed; /* reported already */
} ventry;

typedef struct ventries {
    ventry *v;
    size_t n, cap;
} ventries;

static void entries_free(ventries *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].name);
    free(e->v);
}

static int entry_add(ventries *e, const char *subdir, const char *base, bool is_dir, tm_error *err)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        ventry *v = realloc(e->v, cap * sizeof *v);
        if (!v)
            goto nomem;
        e->v = v;
        e->cap = cap;
    }
    ventry *x = &e->v[e->n];
    memset(x, 0, sizeof *x);
    if (asprintf(&x->name, "%s%s%s", subdir ? subdir : "", subdir ? "/" : "", base) < 0)
        goto nomem;
    x->base = x->name + (subdir ? strlen(subdir) + 1 : 0);
    x->subdir = subdir;
    x->is_dir = is_dir;
    e->n++;
    return 0;
nomem:
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory listing the journal");
    return -1;
}

static bool is_directory(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    return snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path &&
           stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The entries of DIR/subdir (subdir NULL: of DIR), recursing into the
 * subdirectories of o's kinds. */
static int list_dir(const char *dir, const char *subdir, const tm_verify_opts *o, ventries *e,
                    tm_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s%s%s", dir, subdir ? "/" : "", subdir ? subdir : "") >=
        (int)sizeof path) {
        tm_error_set(err, "path %s/%s is too long", dir, subdir);
        return -1;
    }
    DIR *d = opendir(path);
    if (!d) {
        tm_error_errno(err, "cannot read journal directory %s", path);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        bool isdir = is_directory(path, n);
        const tm_vkind *sub = NULL;
        for (size_t i = 0; !subdir && isdir && i < o->nkinds && !sub; i++)
            if (o->kinds[i].subdir && !strcmp(o->kinds[i].subdir, n))
                sub = &o->kinds[i];
        rc = sub ? list_dir(dir, sub->subdir, o, e, err) : entry_add(e, subdir, n, isdir, err);
    }
    closedir(d);
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const ventry *)a)->name, ((const ventry *)b)->name);
}

/* ---- lines --------------------------------------------------------------- */

static void print_line(tm_vwalk *w, const char *name, bool dir, const char *status,
                       const char *text, const char *tail)
{
    FILE *f = w->o->out;
    if (!f)
        return;
    char shown[TM_INERT_SIZE(PATH_MAX)];
    fprintf(f, "%s%s  %s%s%s%s%s\n", tm_inert(name, shown, sizeof shown), dir ? "/" : "", status,
            text && text[0] ? (status[strlen(status) - 1] == ':' ? " " : "  ") : "",
            text ? text : "", tail ? "; " : "", tail ? tail : "");
}

void tm_vwalk_report(tm_vwalk *w, const char *name, const tm_vresult *res, const char *if_damaged)
{
    w->t->files++;
    w->t->checked++;
    if (!res->damaged) {
        if (!w->o->quiet)
            print_line(w, name, false, "ok", res->text, NULL);
        return;
    }
    w->t->damaged++;
    char status[64];
    if (res->at_offset)
        snprintf(status, sizeof status, "BAD at offset %" PRIu64 ":", res->offset);
    else
        snprintf(status, sizeof status, "BAD:");
    print_line(w, name, false, status, res->text, if_damaged);
}

void tm_vwalk_missing(tm_vwalk *w, const char *name, const char *why)
{
    w->t->damaged++;
    print_line(w, name, false, "BAD:", why, NULL);
}

/* An entry that is not checked: known, temporary or unknown. */
static void report_unchecked(tm_vwalk *w, const ventry *e, const tm_vkind *k)
{
    w->t->files++;
    if (!k)
        w->t->unknown++;
    if (w->o->quiet)
        return;
    if (!k)
        print_line(w, e->name, e->is_dir, "unknown",
                   e->is_dir ? "a directory tidemark does not make; verify does not look inside"
                             : "not a file tidemark makes; verify does not check it",
                   NULL);
    else if (k->temporary)
        print_line(w, e->name, false, "temporary", k->what,
                   "in use while a tidemark command runs, else left behind by one that was "
                   "interrupted: harmless, and it may be removed when none runs");
    else
        print_line(w, e->name, false, "known", k->what, NULL);
}

static int check_entry(tm_vwalk *w, ventry *e, const tm_vkind *k, tm_error *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", w->dir, e->name) >= (int)sizeof path) {
        tm_error_set(err, "path %s/%s is too long", w->dir, e->name);
        return -1;
    }
    tm_vresult r = {0};
    if (k->check(path, &r, err) != 0)
        return -1;
    e->claimed = true;
    tm_vwalk_report(w, e->name, &r, k->if_damaged);
    return 0;
}

/* An index whose segment is not in the journal. */
static void report_orphan_index(tm_vwalk *w, const ventry *e)
{
    char seg[32];
    snprintf(seg, sizeof seg, "%.16s.seg", e->base);
    tm_vresult r = {.damaged = true};
    snprintf(r.text, sizeof r.text, "it indexes segment %s, which is not in the journal", seg);
    tm_vwalk_report(w, e->name, &r,
                    "readers do not use it, but capture would take it for the index of a "
                    "segment it creates with that number: remove it while no capture runs");
}

/* ---- the walk ------------------------------------------------------------ */

static void print_totals(tm_vwalk *w)
{
    tm_verify_totals *t = w->t;
    if (!w->o->out)
        return;
    char ranges[200];
    tm_verify_fmt_ranges(ranges, sizeof ranges, w->have_range, t->first_lsn, t->last_lsn,
                         t->first_time, t->last_time);
    fprintf(w->o->out,
            "total  segments=%" PRIu64 " bad=%" PRIu64 " frames=%" PRIu64 " records=%" PRIu64
            " tx=%" PRIu64 " %s bytes=%" PRIu64 " files=%" PRIu64 " checked=%" PRIu64
            " damaged=%" PRIu64 " unknown=%" PRIu64 "  %s\n",
            t->segments, t->bad_segments, t->frames, t->records, t->transactions, ranges, t->bytes,
            t->files, t->checked, t->damaged, t->unknown, t->damaged ? "DAMAGED" : "sound");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Marks the segments and the indexes of present segments as reported. */
static void claim_segments(ventries *e, const uint64_t *segs, size_t n)
{
    for (size_t i = 0; i < e->n; i++) {
        uint64_t no;
        ventry *x = &e->v[i];
        if (x->subdir)
            continue;
        if (tm_name_numbered(x->base, ".seg", NULL))
            x->claimed = true;
        else if (tm_name_numbered(x->base, ".idx", &no) || tm_name_numbered(x->base, ".lidx", &no))
            /* segs is NULL without segments (an index left alone) */
            x->claimed = n > 0 && bsearch(&no, segs, n, sizeof *segs, cmp_u64) != NULL;
    }
}

static int walk(tm_vwalk *w, ventries *e, const uint64_t *segs, size_t n, tm_error *err)
{
    /* journal.meta first, then the segments, then the rest by name. */
    for (size_t i = 0; i < e->n; i++)
        if (!e->v[i].subdir && is_meta(e->v[i].base) && !e->v[i].is_dir &&
            check_entry(w, &e->v[i], kind_of(w->o, NULL, META_NAME), err) != 0)
            return -1;
    if (tm_verify_segments(w, segs, n, err) != 0)
        return -1;
    claim_segments(e, segs, n);
    for (size_t i = 0; i < e->n; i++) {
        ventry *x = &e->v[i];
        if (x->claimed)
            continue;
        const tm_vkind *k = x->is_dir ? NULL : kind_of(w->o, x->subdir, x->base);
        if (k == &index_kind)
            report_orphan_index(w, x);
        else if (k && k->check && check_entry(w, x, k, err) != 0)
            return -1;
        else if (!k || !k->check)
            report_unchecked(w, x, k);
    }
    return 0;
}

/* Whether dir can be a journal: a directory holding journal.meta or a
 * segment. -1 with err when not. */
static int check_journal_dir(const char *dir, const ventries *e, size_t nsegs, tm_error *err)
{
    bool meta = false;
    for (size_t i = 0; i < e->n && !meta; i++)
        meta = !e->v[i].subdir && is_meta(e->v[i].base);
    if (meta || nsegs)
        return 0;
    tm_error_setc(err, TM_ERR_NOT_FOUND,
                  "%s is not a tidemark journal (no journal.meta, no segments)", dir);
    return -1;
}

int tm_verify_run(const char *dir, const tm_verify_opts *o, tm_verify_totals *totals, tm_error *err)
{
    tm_verify_totals local = {0};
    tm_verify_totals *t = totals ? totals : &local;
    memset(t, 0, sizeof *t);
    struct stat st;
    if (stat(dir, &st) != 0) {
        tm_error_errno(err, "cannot open journal %s", dir);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        tm_error_set(err, "journal %s is not a directory", dir);
        return -1;
    }
    uint64_t *segs = NULL;
    size_t n = 0;
    ventries e = {0};
    tm_vwalk w = {.dir = dir, .o = o, .t = t};
    int rc = tm_segment_list(dir, &segs, &n, err) != 0 || list_dir(dir, NULL, o, &e, err) != 0 ||
                     check_journal_dir(dir, &e, n, err) != 0
                 ? -1
                 : 0;
    if (rc == 0 && e.n > 1)
        qsort(e.v, e.n, sizeof *e.v, cmp_entry);
    if (rc == 0)
        rc = walk(&w, &e, segs, n, err);
    if (rc == 0)
        print_totals(&w);
    entries_free(&e);
    free(segs);
    return rc != 0 ? -1 : t->damaged ? 1 : 0;
}

int tm_verify(const char *dir, void *out, tm_verify_totals *totals, tm_error *err)
{
    tm_verify_opts o = {.out = out};
    return tm_verify_run(dir, &o, totals, err);
}
