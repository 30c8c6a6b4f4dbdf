/* Writes the journal that scripts/bench-log.sh queries with tidemark log:
 * shaped like what capture writes for a busy preference table. A base
 * snapshot of public.prefs (user_id int, key text, value jsonb, updated_at
 * timestamptz, PRIMARY KEY (user_id, key), REPLICA IDENTITY FULL), then
 * transactions of 1-6 changes (updates with the whole old row and unchanged
 * columns as 's', as capture's encoder writes them; some inserts and
 * deletes), one commit every 2 ms, a tidemark context message in every
 * tenth, a sync (frame cut) every --sync-every transactions. With
 * --reload, halfway through, one transaction TRUNCATEs the table and
 * inserts its rows again (a reload job), so the journal has a TRUNCATE of
 * every row of the table in the middle.
 *
 * Usage: bench_log --dir DIR [--changes N] [--users N] [--sync-every TX] [--reload]
 * Prints shell assignments for the script: the change and transaction
 * counts, a user with a history to look up, a one-minute window in the
 * middle of the journal's time range, and the rows the reload's TRUNCATE
 * removed (0 without --reload). */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scripts/bench/bench_journal.h"
#include "scripts/bench/bench_util.h"
#include "store/common/fsutil.h"
#include "store/journal/journal.h"
#include "store/common/tm_time.h"

#define PREFS_OID 16384u
#define NKEYS 8

static const char *keys[NKEYS] = {"theme", "lang", "digest", "ai.model",
                                  "tz",    "beta", "sounds", "notifications"};

static uint64_t rng = 7;
static uint64_t rnd(void)
{
    return bench_splitmix(&rng);
}

static void die(const char *what, const tm_error *err)
{
    fprintf(stderr, "bench_log: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* A tuple of 4 columns from text values (NULL = 's', same as old). */
typedef struct tbuf {
    Tidemark__Tuple t;
    uint8_t kinds[4];
    uint32_t lens[4];
    char data[512];
} tbuf;

static Tidemark__Tuple *tuple(tbuf *b, const char *const v[4])
{
    tidemark__tuple__init(&b->t);
    size_t nl = 0, dl = 0;
    for (int i = 0; i < 4; i++) {
        if (!v[i]) {
            b->kinds[i] = 's';
            continue;
        }
        size_t len = strlen(v[i]);
        b->kinds[i] = 't';
        b->lens[nl++] = (uint32_t)len;
        memcpy(b->data + dl, v[i], len);
        dl += len;
    }
    b->t.has_kinds = b->t.has_data = 1;
    b->t.kinds.data = b->kinds;
    b->t.kinds.len = 4;
    b->t.lengths = b->lens;
    b->t.n_lengths = nl;
    b->t.data.data = (uint8_t *)b->data;
    b->t.data.len = dl;
    return &b->t;
}

static void value_of(char *out, size_t cap, unsigned key, unsigned gen)
{
    switch (key % 4) {
    case 0:
        snprintf(out, cap, "{\"mode\": \"%s\", \"contrast\": %u, \"font_scale\": 1.%u}",
                 gen % 2 ? "dark" : "light", gen % 3, gen % 10);
        break;
    case 1:
        snprintf(out, cap, "{\"email\": {\"digest\": \"%s\", \"marketing\": %s}, \"push\": %s}",
                 gen % 3 ? "weekly" : "daily", gen % 2 ? "true" : "false",
                 gen % 5 ? "true" : "false");
        break;
    case 2:
        snprintf(out, cap, "{\"model\": \"m-%u\", \"temperature\": 0.%u}", gen % 4, gen % 10);
        break;
    default:
        snprintf(out, cap, "\"v%u\"", gen);
    }
}

static void put_change(tm_writer *w, int op, const char *const oldv[4], const char *const newv[4])
{
    static tbuf ob, nb;
    tm_error err;
    if (bench_put_change(w, op, PREFS_OID, oldv ? tuple(&ob, oldv) : NULL,
                         newv ? tuple(&nb, newv) : NULL, &err) != 0)
        die("put", &err);
}

/* The reload: TRUNCATE, then every live row again. Returns the rows. */
static uint64_t put_reload(tm_writer *w, const unsigned *gen, uint64_t users, uint64_t lsn,
                           int64_t t, uint32_t xid)
{
    uint64_t live = 0;
    for (uint64_t i = 0; i < users * NKEYS; i++)
        live += gen[i] != 0;
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    b.has_xid = b.has_commit_lsn = b.has_end_lsn = b.has_commit_time = b.has_n_records = 1;
    b.xid = xid;
    b.commit_lsn = lsn;
    b.end_lsn = lsn + 0x40;
    b.commit_time = t;
    b.n_records = live + 1;
    tm_error err;
    if (tm_writer_begin_tx(w, &b, &err) != 0)
        die("begin", &err);
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    ch.has_op = ch.has_relation_oid = ch.has_relation_version = 1;
    ch.op = TIDEMARK__CHANGE__OP__TRUNCATE;
    ch.relation_oid = PREFS_OID;
    ch.relation_version = 1;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    if (tm_writer_put(w, &rec, &err) != 0)
        die("truncate", &err);
    char uid[24], val[256], ts[TM_TIME_BUFLEN];
    for (uint64_t u = 0; u < users; u++)
        for (unsigned k = 0; k < NKEYS; k++) {
            if (!gen[u * NKEYS + k])
                continue;
            snprintf(uid, sizeof uid, "%" PRIu64, u);
            value_of(val, sizeof val, k, gen[u * NKEYS + k]);
            put_change(w, TIDEMARK__CHANGE__OP__INSERT, NULL,
                       (const char *[]){uid, keys[k], val, tm_time_format(t, ts)});
        }
    if (tm_writer_end_tx(w, &err) != 0 || tm_writer_sync(w, &err) != 0)
        die("reload", &err);
    return live;
}

static void put_relation(tm_writer *w)
{
    static const char *names[4] = {"user_id", "key", "value", "updated_at"};
    static const char *types[4] = {"integer", "text", "jsonb", "timestamp with time zone"};
    static const uint32_t oids[4] = {23, 25, 3802, 1184};
    Tidemark__Column cols[4], *pc[4];
    for (int i = 0; i < 4; i++) {
        tidemark__column__init(&cols[i]);
        cols[i].name = (char *)names[i];
        cols[i].type_name = (char *)types[i];
        cols[i].has_type_oid = cols[i].has_replica_key = cols[i].has_pk_position = 1;
        cols[i].type_oid = oids[i];
        cols[i].replica_key = 1; /* REPLICA IDENTITY FULL flags every column */
        cols[i].pk_position = i < 2 ? (uint32_t)i + 1 : 0;
        pc[i] = &cols[i];
    }
    Tidemark__Relation rel = TIDEMARK__RELATION__INIT;
    rel.has_oid = rel.has_version = rel.has_replica_identity = 1;
    rel.oid = PREFS_OID;
    rel.version = 1;
    rel.namespace_ = "public";
    rel.name = "prefs";
    rel.replica_identity = 'f';
    rel.n_columns = 4;
    rel.columns = pc;
    tm_error err;
    if (bench_put_relation(w, &rel, &err) != 0)
        die("relation", &err);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t changes = 1000000, users = 20000, sync_every = 100;
    bool reload = false;
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},   {"changes", required_argument, NULL, 'n'},
        {"users", required_argument, NULL, 'u'}, {"sync-every", required_argument, NULL, 's'},
        {"reload", no_argument, NULL, 'r'},      {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'n')
            changes = strtoull(optarg, NULL, 10);
        else if (c == 'u')
            users = strtoull(optarg, NULL, 10);
        else if (c == 's')
            sync_every = strtoull(optarg, NULL, 10);
        else if (c == 'r')
            reload = true;
        else
            return 2;
    }
    if (!dir || !changes || !users || !sync_every) {
        fprintf(stderr, "usage: bench_log --dir DIR [--changes N] [--users N] [--sync-every TX] "
                        "[--reload]\n");
        return 2;
    }
    int64_t t0 = INT64_C(1767225600000000); /* 2026-01-01 00:00:00 UTC */
    tm_meta meta = {.format_version = TM_JOURNAL_FORMAT_VERSION,
                    .system_identifier = 1,
                    .start_lsn = 0x1000000,
                    .created_at = t0};
    snprintf(meta.database, sizeof meta.database, "app");
    snprintf(meta.slot, sizeof meta.slot, "tidemark_app");
    snprintf(meta.publication, sizeof meta.publication, "tidemark_app");
    tm_error err;
    if (tm_mkdir_p(dir, &err) != 0 || tm_meta_write(dir, &meta, &err) != 0)
        die("meta", &err);
    tm_writer *w;
    tm_writer_options wo = {0};
    if (tm_writer_open(dir, &wo, &w, &err) != 0)
        die("open", &err);
    put_relation(w);

    /* State: generation of each (user, key); 0 = absent. The base snapshot
     * holds half the keys of every user. */
    unsigned *gen = calloc(users * NKEYS, sizeof *gen);
    uint64_t lsn = 0x1000000;
    int64_t t = t0;
    uint32_t xid = 1000;
    Tidemark__TxBegin b = TIDEMARK__TX_BEGIN__INIT;
    b.has_xid = b.has_commit_lsn = b.has_end_lsn = b.has_commit_time = b.has_n_records = 1;
    b.has_snapshot = b.snapshot = 1;
    b.commit_lsn = b.end_lsn = lsn;
    b.commit_time = t;
    b.n_records = users * NKEYS / 2;
    if (tm_writer_begin_tx(w, &b, &err) != 0)
        die("begin", &err);
    char uid[24], val[256], ts[TM_TIME_BUFLEN], oval[256], ots[TM_TIME_BUFLEN];
    for (uint64_t u = 0; u < users; u++)
        for (unsigned k = 0; k < NKEYS; k += 2) {
            gen[u * NKEYS + k] = 1;
            snprintf(uid, sizeof uid, "%" PRIu64, u);
            value_of(val, sizeof val, k, 1);
            put_change(w, TIDEMARK__CHANGE__OP__INSERT, NULL,
                       (const char *[]){uid, keys[k], val, tm_time_format(t, ts)});
        }
    if (tm_writer_end_tx(w, &err) != 0 || tm_writer_sync(w, &err) != 0)
        die("snapshot", &err);

    uint64_t done = 0, ntx = 0, reload_rows = 0;
    uint64_t probe_user = users / 3, probe_changes = 0;
    while (done < changes) {
        if (reload && !reload_rows && done >= changes / 2) {
            t += 2000;
            lsn += 0x200;
            reload_rows = put_reload(w, gen, users, lsn, t, xid++);
            ntx++;
        }
        unsigned n = 1 + (unsigned)(rnd() % 6);
        if (done + n > changes)
            n = (unsigned)(changes - done);
        t += 2000;
        lsn += 0x200;
        bool context = rnd() % 10 == 0;
        tidemark__tx_begin__init(&b);
        b.has_xid = b.has_commit_lsn = b.has_end_lsn = b.has_commit_time = b.has_n_records = 1;
        b.xid = xid++;
        b.commit_lsn = lsn;
        b.end_lsn = lsn + 0x40;
        b.commit_time = t;
        b.n_records = n + context;
        if (tm_writer_begin_tx(w, &b, &err) != 0)
            die("begin", &err);
        if (context) {
            Tidemark__LogicalMessage m = TIDEMARK__LOGICAL_MESSAGE__INIT;
            char content[96];
            snprintf(content, sizeof content, "{\"user\":\"admin%u\",\"request\":\"r%" PRIu64 "\"}",
                     b.xid % 7, ntx);
            m.has_transactional = m.has_lsn = m.has_content = 1;
            m.transactional = 1;
            m.lsn = lsn - 0x100;
            m.prefix = "tidemark";
            m.content.data = (uint8_t *)content;
            m.content.len = strlen(content);
            Tidemark__Record rec = TIDEMARK__RECORD__INIT;
            rec.body_case = TIDEMARK__RECORD__BODY_MESSAGE;
            rec.message = &m;
            if (tm_writer_put(w, &rec, &err) != 0)
                die("message", &err);
        }
        for (unsigned i = 0; i < n; i++) {
            uint64_t u = rnd() % users;
            unsigned k = (unsigned)(rnd() % NKEYS);
            unsigned *g = &gen[u * NKEYS + k];
            snprintf(uid, sizeof uid, "%" PRIu64, u);
            tm_time_format(t - 86400000000, ots);
            tm_time_format(t, ts);
            if (*g == 0) {
                *g = 1;
                value_of(val, sizeof val, k, 1);
                put_change(w, TIDEMARK__CHANGE__OP__INSERT, NULL,
                           (const char *[]){uid, keys[k], val, ts});
            } else if (rnd() % 20 == 0) {
                value_of(oval, sizeof oval, k, *g);
                put_change(w, TIDEMARK__CHANGE__OP__DELETE,
                           (const char *[]){uid, keys[k], oval, ots}, NULL);
                *g = 0;
            } else {
                value_of(oval, sizeof oval, k, *g);
                (*g)++;
                value_of(val, sizeof val, k, *g);
                put_change(w, TIDEMARK__CHANGE__OP__UPDATE,
                           (const char *[]){uid, keys[k], oval, ots},
                           (const char *[]){NULL, NULL, val, ts});
            }
            if (u == probe_user)
                probe_changes++;
        }
        if (tm_writer_end_tx(w, &err) != 0)
            die("end", &err);
        done += n;
        ntx++;
        if (ntx % sync_every == 0 && tm_writer_sync(w, &err) != 0)
            die("sync", &err);
    }
    if (tm_writer_close(w, &err) != 0)
        die("close", &err);
    free(gen);
    /* A one-minute window in the middle, on whole seconds. */
    int64_t mid = (t0 + t) / 2 / 1000000 * 1000000;
    char from[TM_TIME_BUFLEN], to[TM_TIME_BUFLEN];
    printf("CHANGES=%" PRIu64 "\nTRANSACTIONS=%" PRIu64 "\nPROBE_USER=%" PRIu64
           "\nPROBE_CHANGES=%" PRIu64 "\nWINDOW_FROM='%s'\nWINDOW_TO='%s'\nRELOAD_ROWS=%" PRIu64
           "\n",
           done, ntx, probe_user, probe_changes, tm_time_format(mid, from),
           tm_time_format(mid + 59999999, to), reload_rows);
    return 0;
}
