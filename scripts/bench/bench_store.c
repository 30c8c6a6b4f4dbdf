/* Store benchmark: writes ~1 million realistic preference-table changes
 * (jsonb-ish values, REPLICA IDENTITY FULL updates carrying old and new
 * tuples, unchanged columns as 's') through the journal writer with a sync
 * every N transactions, reads them all back through the reader, and runs the
 * lz4 command line tool on the very same raw record stream as a reference.
 * Run it through scripts/bench-store.sh. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scripts/bench/bench_journal.h"
#include "scripts/bench/bench_util.h"
#include "store/journal/frame.h"
#include "store/journal/journal.h"
#include "store/journal/segment.h"

#define NCOLS                                                                                      \
    5 /* id bigint, user_id bigint, pref_key text, value jsonb, updated_at timestamptz             \
       */

static uint64_t rng_state = 20260101;

static uint64_t rnd(void)
{
    return bench_splitmix(&rng_state);
}

static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* ---- realistic values ------------------------------------------------- */

static const char *keys[] = {"notifications", "ui", "ai"};

/* The jsonb text of preference `key` from the settings p, with field
 * `tweak` (if < 8) changed: a user flips one setting at a time. */
static int gen_json(char *out, size_t cap, unsigned key, const unsigned *p, unsigned tweak)
{
    static const char *digest[] = {"daily", "weekly", "never"};
    static const char *theme[] = {"light", "dark", "system"};
    static const char *lang[] = {"en-GB", "en-US", "fr-FR", "de-DE", "es-ES", "pt-BR", "ja-JP"};
    static const char *model[] = {"small-2025-06", "medium-2025-09", "large-2026-01"};
    unsigned v[8];
    memcpy(v, p, sizeof v);
    if (tweak < 8)
        v[tweak] += 1;
    switch (key) {
    case 0:
        return snprintf(out, cap,
                        "{\"email\": {\"digest\": \"%s\", \"marketing\": %s, \"product_updates\": "
                        "%s, \"security\": true}, \"push\": {\"enabled\": %s, \"quiet_hours\": "
                        "[\"22:00\", \"0%u:00\"]}, \"sms\": %s}",
                        digest[v[0] % 3], v[1] % 2 ? "true" : "false", v[2] % 2 ? "true" : "false",
                        v[3] % 2 ? "true" : "false", 6 + v[4] % 3, v[5] % 4 ? "false" : "true");
    case 1:
        return snprintf(out, cap,
                        "{\"theme\": \"%s\", \"density\": \"%s\", \"lang\": \"%s\", "
                        "\"timezone\": \"Europe/Paris\", \"sidebar_collapsed\": %s, "
                        "\"font_scale\": %u.%u, \"recent\": [%u, %u, %u]}",
                        theme[v[0] % 3], v[1] % 2 ? "compact" : "comfortable", lang[v[2] % 7],
                        v[3] % 2 ? "true" : "false", 1 + v[4] % 2, v[5] % 10, 1000 + v[6] % 9000,
                        2000 + v[7] % 5000, 3000 + v[1] % 7000);
    default:
        return snprintf(out, cap,
                        "{\"model\": \"%s\", \"temperature\": 0.%u, \"max_tokens\": %u, "
                        "\"system_prompt\": \"You are a helpful assistant for team %u.\", "
                        "\"tools\": {\"search\": %s, \"code\": %s}, \"retention_days\": %u}",
                        model[v[0] % 3], v[1] % 10, 256u << (v[2] % 4), v[3] % 500,
                        v[4] % 2 ? "true" : "false", v[5] % 2 ? "true" : "false",
                        30 * (1 + v[6] % 12));
    }
}

/* One generated change, its tuples already in text form (as capture gets
 * them from pgoutput), so the timed loop only builds and writes records. */
typedef struct gen_tuple {
    uint32_t off, len;    /* concatenated 't' values in the pool */
    uint32_t lens[NCOLS]; /* per 't' value */
    unsigned char kinds[NCOLS];
    uint8_t nlens;
} gen_tuple;

typedef struct change {
    uint8_t op; /* 1 insert, 2 update, 3 delete */
    gen_tuple old, new_;
} change;

static char *pool;
static size_t pool_len, pool_cap;

static void pool_add(const char *s, size_t n)
{
    if (pool_len + n > pool_cap) {
        pool_cap = pool_cap ? pool_cap * 2 : (64u << 20);
        pool = realloc(pool, pool_cap);
        if (!pool) {
            fprintf(stderr, "bench_store: out of memory\n");
            exit(2);
        }
    }
    memcpy(pool + pool_len, s, n);
    pool_len += n;
}

static void fmt_ts(int64_t us, char *out)
{
    time_t s = (time_t)(us / 1000000);
    struct tm tmv;
    gmtime_r(&s, &tmv);
    size_t n = strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tmv);
    snprintf(out + n, 32 - n, ".%06d+00", (int)(us % 1000000));
}

/* full: every column as text; otherwise the key columns as 's' (same as in
 * the old tuple) and only value and updated_at as text. */
static void gen_tuple_text(gen_tuple *g, uint64_t id, uint64_t user_id, unsigned key,
                           const char *json, int jlen, int64_t ts, bool full)
{
    char num[3][32];
    snprintf(num[0], sizeof num[0], "%" PRIu64, id);
    snprintf(num[1], sizeof num[1], "%" PRIu64, user_id);
    fmt_ts(ts, num[2]);
    const char *vals[NCOLS] = {num[0], num[1], keys[key], json, num[2]};
    g->off = (uint32_t)pool_len;
    g->nlens = 0;
    for (int i = 0; i < NCOLS; i++) {
        if (!full && i < 3) {
            g->kinds[i] = 's';
            continue;
        }
        size_t l = i == 3 ? (size_t)jlen : strlen(vals[i]);
        g->kinds[i] = 't';
        pool_add(vals[i], l);
        g->lens[g->nlens++] = (uint32_t)l;
    }
    g->len = (uint32_t)(pool_len - g->off);
}

static void gen_change(change *c, int64_t t)
{
    unsigned r = below(100);
    c->op = r < 8 ? 1 : r < 97 ? 2 : 3;
    unsigned key = below(3);
    uint64_t user_id = 100000 + below(200000), id = user_id * 4 + key;
    unsigned p[8];
    for (int i = 0; i < 8; i++)
        p[i] = below(1000);
    char oldj[600], newj[600];
    int on = gen_json(oldj, sizeof oldj, key, p, 8);
    int nn = gen_json(newj, sizeof newj, key, p, below(8));
    int64_t old_ts = t - (int64_t)below(86400 * 30) * 1000000;
    if (c->op != 1)
        gen_tuple_text(&c->old, id, user_id, key, oldj, on, old_ts, true);
    if (c->op != 3)
        gen_tuple_text(&c->new_, id, user_id, key, newj, nn, t, c->op == 1);
}

static void set_tuple(Tidemark__Tuple *t, const gen_tuple *g)
{
    tidemark__tuple__init(t);
    t->has_kinds = t->has_data = 1;
    t->kinds.data = (uint8_t *)g->kinds;
    t->kinds.len = NCOLS;
    t->n_lengths = g->nlens;
    t->lengths = (uint32_t *)g->lens;
    t->data.data = (uint8_t *)pool + g->off;
    t->data.len = g->len;
}

static int put_change(tm_writer *w, const change *c, tm_error *err)
{
    Tidemark__Tuple o, n;
    if (c->op != 1)
        set_tuple(&o, &c->old);
    if (c->op != 3)
        set_tuple(&n, &c->new_);
    return bench_put_change(w, c->op, 16384, c->op != 1 ? &o : NULL, c->op != 3 ? &n : NULL, err);
}

static int put_relation(tm_writer *w, tm_error *err)
{
    static const char *names[NCOLS] = {"id", "user_id", "pref_key", "value", "updated_at"};
    static const char *types[NCOLS] = {"bigint", "bigint", "text", "jsonb",
                                       "timestamp with time zone"};
    static const uint32_t oids[NCOLS] = {20, 20, 25, 3802, 1184};
    Tidemark__Column cols[NCOLS], *pc[NCOLS];
    for (int i = 0; i < NCOLS; i++) {
        tidemark__column__init(&cols[i]);
        cols[i].name = (char *)names[i];
        cols[i].type_name = (char *)types[i];
        cols[i].has_type_oid = 1;
        cols[i].type_oid = oids[i];
        cols[i].has_replica_key = cols[i].has_pk_position = 1;
        cols[i].replica_key = i == 0;
        cols[i].pk_position = i == 0;
        pc[i] = &cols[i];
    }
    Tidemark__Relation rel = TIDEMARK__RELATION__INIT;
    rel.has_oid = rel.has_version = rel.has_replica_identity = 1;
    rel.oid = 16384;
    rel.version = 1;
    rel.namespace_ = "public";
    rel.name = "user_preferences";
    rel.replica_identity = 'f';
    rel.n_columns = NCOLS;
    rel.columns = pc;
    return bench_put_relation(w, &rel, err);
}

/* ---- helpers ---------------------------------------------------------- */

static void die(const char *what, const tm_error *err)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, err ? err->msg : strerror(errno));
    exit(2);
}

static uint64_t dir_bytes(const char *dir)
{
    uint64_t *segs, total = 0;
    size_t n;
    tm_error err;
    if (tm_segment_list(dir, &segs, &n, &err) != 0)
        die("list", &err);
    for (size_t i = 0; i < n; i++) {
        char name[TM_SEG_NAME_LEN], path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, tm_seg_name(segs[i], name));
        if (stat(path, &st) == 0)
            total += (uint64_t)st.st_size;
        snprintf(path, sizeof path, "%s/%s", dir, tm_idx_name(segs[i], name));
        if (stat(path, &st) == 0)
            total += (uint64_t)st.st_size;
    }
    free(segs);
    return total;
}

/* Writes the decompressed payload of every frame (exactly what our LZ4
 * compressed) to path: the reference input for the lz4 tool. */
static uint64_t dump_raw(const char *dir, const char *path)
{
    FILE *out = fopen(path, "wb");
    if (!out)
        die(path, NULL);
    uint64_t *segs, total = 0;
    size_t n;
    tm_error err;
    if (tm_segment_list(dir, &segs, &n, &err) != 0)
        die("list", &err);
    tm_buf io = {0}, raw = {0};
    for (size_t i = 0; i < n; i++) {
        char name[TM_SEG_NAME_LEN], p[PATH_MAX], why[256];
        snprintf(p, sizeof p, "%s/%s", dir, tm_seg_name(segs[i], name));
        int fd = open(p, O_RDONLY);
        tm_seg_scan sc;
        if (fd < 0 || tm_segment_scan(fd, segs[i], false, &sc, &err) != 0 || sc.damaged)
            die("scan", &err);
        for (size_t f = 0; f < sc.frames.n; f++) {
            tm_frame_hdr h;
            if (tm_frame_read(fd, sc.frames.v[f].offset, &sc.frames.v[f].h, &h, &io, &raw, why,
                              sizeof why, &err) != 0)
                die("frame", &err);
            fwrite(raw.p, 1, raw.len, out);
            total += raw.len;
        }
        tm_seg_scan_free(&sc);
        close(fd);
    }
    tm_buf_free(&io);
    tm_buf_free(&raw);
    free(segs);
    fclose(out);
    return total;
}

static double run_timed(char *const argv[])
{
    double t0 = bench_now();
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_store: %s failed\n", argv[0]);
        exit(2);
    }
    return bench_now() - t0;
}

static uint64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int main(int argc, char **argv)
{
    long nchanges = 1000000, sync_every = 100;
    const char *dir = NULL;
    static const struct option opts[] = {{"changes", required_argument, NULL, 'n'},
                                         {"sync-every", required_argument, NULL, 's'},
                                         {"dir", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:s:d:", opts, NULL)) != -1) {
        if (c == 'n')
            nchanges = atol(optarg);
        else if (c == 's')
            sync_every = atol(optarg);
        else if (c == 'd')
            dir = optarg;
        else {
            fprintf(stderr, "usage: bench_store --dir DIR [--changes N] [--sync-every TX]\n");
            return 2;
        }
    }
    if (!dir || nchanges <= 0) {
        fprintf(stderr, "usage: bench_store --dir DIR [--changes N] [--sync-every TX]\n");
        return 2;
    }

    /* Generate everything first: the timed loop only builds records. */
    change *ch = malloc((size_t)nchanges * sizeof *ch);
    int64_t t = INT64_C(1767225600000000);
    for (long i = 0; i < nchanges; i++) {
        t += below(2000);
        gen_change(&ch[i], t);
    }
    int64_t commit_time = INT64_C(1767225600000000);
    long ntx = 0;
    uint64_t lsn = UINT64_C(0x16B3000000);

    tm_writer *w;
    tm_error err;
    tm_writer_options o = {0};
    double w0 = bench_now();
    if (tm_writer_open(dir, &o, &w, &err) != 0)
        die("open", &err);
    if (put_relation(w, &err) != 0)
        die("relation", &err);
    long records = 1;
    for (long i = 0; i < nchanges;) {
        unsigned n = 1 + below(5); /* 1..5 changes per transaction, 3 on average */
        if (n > nchanges - i)
            n = (unsigned)(nchanges - i);
        Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
        b.has_xid = 1;
        b.xid = (uint32_t)(1000 + ntx);
        lsn += 200 + 400 * n;
        b.commit_lsn = lsn;
        b.end_lsn = lsn + 48;
        commit_time += 1000 * n;
        b.commit_time = commit_time;
        b.n_records = n;
        if (tm_writer_begin_tx(w, &b, &err) != 0)
            die("begin", &err);
        for (unsigned k = 0; k < n; k++)
            if (put_change(w, &ch[i + k], &err) != 0)
                die("put", &err);
        if (tm_writer_end_tx(w, &err) != 0)
            die("end", &err);
        i += n;
        records += 1 + n;
        if (sync_every > 0 && ++ntx % sync_every == 0 && tm_writer_sync(w, &err) != 0)
            die("sync", &err);
    }
    if (tm_writer_close(w, &err) != 0)
        die("close", &err);
    double wt = bench_now() - w0;

    double r0 = bench_now();
    tm_reader *rd;
    if (tm_reader_open(dir, &rd, &err) != 0)
        die("reader", &err);
    const Tidemark__Record *rec;
    long got = 0;
    uint64_t touched = 0;
    int rc;
    while ((rc = tm_reader_next(rd, &rec, &err)) == 1) {
        got += rec->body_case != TIDEMARK__RECORD__BODY_RELATION; /* preambles repeat it */
        if (rec->body_case == TIDEMARK__RECORD__BODY_CHANGE && rec->change->new_tuple)
            touched += rec->change->new_tuple->data.len;
    }
    if (rc < 0)
        die("read", &err);
    tm_reader_close(rd);
    double rt = bench_now() - r0;
    if (got != records - 1) {
        fprintf(stderr, "bench_store: read %ld records, wrote %ld\n", got, records);
        return 1;
    }

    uint64_t disk = dir_bytes(dir);
    char rawp[PATH_MAX], lz4p[PATH_MAX];
    snprintf(rawp, sizeof rawp, "%s/raw-stream.bin", dir);
    snprintf(lz4p, sizeof lz4p, "%s/raw-stream.bin.lz4", dir);
    uint64_t raw = dump_raw(dir, rawp);
    char *comp[] = {"lz4", "-1", "-q", "-f", rawp, lz4p, NULL};
    char *decomp[] = {"lz4", "-d", "-q", "-f", lz4p, "/dev/null", NULL};
    double lc = run_timed(comp);
    double ld = run_timed(decomp);
    uint64_t lz4_bytes = file_size(lz4p);
    unlink(rawp);
    unlink(lz4p);

    const double MB = 1e6;
    double ratio = (double)raw / (double)disk, lratio = (double)raw / (double)lz4_bytes;
    printf("tidemark store benchmark\n");
    printf("  %ld changes in %ld transactions (%ld records), sync every %ld transactions\n",
           nchanges, ntx, records, sync_every);
    printf("  raw record stream %.1f MB, on disk %.1f MB (segments + indexes): ratio %.2f\n",
           raw / MB, disk / MB, ratio);
    printf("  write  %6.2f s  %7.1f MB/s raw  %6.1f MB/s on disk  %8.0f records/s\n", wt,
           raw / MB / wt, disk / MB / wt, records / wt);
    printf("  read   %6.2f s  %7.1f MB/s raw  %6.1f MB/s on disk  %8.0f records/s\n", rt,
           raw / MB / rt, disk / MB / rt, records / rt);
    printf("lz4 command line tool (lz4 -1, default 4 MB blocks) on the same raw stream:\n");
    printf("  ratio %.2f, compress %.2f s (%.1f MB/s raw), decompress %.2f s (%.1f MB/s raw)\n",
           lratio, lc, raw / MB / lc, ld, raw / MB / ld);
    printf("tidemark vs lz4: ratio %.2fx, write speed %.2fx, read speed %.2fx\n", ratio / lratio,
           lc / wt, ld / rt);
    (void)touched;
    free(ch);
    free(pool);
    return 0;
}
