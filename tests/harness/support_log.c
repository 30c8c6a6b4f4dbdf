#include "tests/harness/support_log.h"
#include "tests/harness/support_store.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/query/jsonscan.h"
#include "replay/cmd_log.h"
#include "tests/harness/support_store.h"

const char TLJ_U[] = "\x01unchanged";

static const int64_t T0 = INT64_C(1767225600000000); /* 2026-01-01 00:00:00 UTC */

void tlj_open(tlj *j, uint32_t frame_target)
{
    tlj_open2(j, frame_target, 0, NULL);
}

void tlj_open2(tlj *j, uint32_t frame_target, uint64_t segment_size, const char *dir)
{
    if (dir) {
        /* Reopen: keep the position in time and LSN. */
        tm_writer_options o = {.frame_target = frame_target, .segment_size = segment_size};
        tm_error err;
        ck_assert_msg(tm_writer_open(j->dir, &o, &j->w, &err) == 0, "%s", err.msg);
        return;
    }
    memset(j, 0, sizeof *j);
    j->dir = tmt_tempdir();
    j->lsn = 0x1000000;
    j->time = T0;
    tm_meta meta = {.format_version = TM_JOURNAL_FORMAT_VERSION,
                    .system_identifier = 7,
                    .start_lsn = j->lsn,
                    .created_at = T0};
    snprintf(meta.database, sizeof meta.database, "app");
    snprintf(meta.slot, sizeof meta.slot, "tidemark_app");
    snprintf(meta.publication, sizeof meta.publication, "tidemark_app");
    tm_error err;
    ck_assert_msg(tm_meta_write(j->dir, &meta, &err) == 0, "%s", err.msg);
    tm_writer_options o = {.frame_target = frame_target, .segment_size = segment_size};
    ck_assert_msg(tm_writer_open(j->dir, &o, &j->w, &err) == 0, "%s", err.msg);
}

void tlj_close(tlj *j)
{
    tm_error err;
    if (j->w)
        ck_assert_msg(tm_writer_close(j->w, &err) == 0, "%s", err.msg);
    j->w = NULL;
}

void tlj_destroy(tlj *j)
{
    if (j->w)
        tlj_close(j);
    for (size_t i = 0; i < j->n; i++)
        free(j->recs[i]);
    free(j->recs);
    free(j->lens);
    if (j->dir)
        tmt_tempdir_remove(j->dir);
    memset(j, 0, sizeof *j);
}

static void type_of(const char *t, uint32_t *oid, const char **name)
{
    static const struct {
        const char *t, *name;
        uint32_t oid;
    } types[] = {
        {"int4", "integer", 23},      {"int8", "bigint", 20},
        {"text", "text", 25},         {"jsonb", "jsonb", 3802},
        {"json", "json", 114},        {"bool", "boolean", 16},
        {"uuid", "uuid", 2950},       {"timestamptz", "timestamp with time zone", 1184},
        {"numeric", "numeric", 1700}, {"bpchar", "character(8)", 1042},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(types[i].t, t)) {
            *oid = types[i].oid;
            *name = types[i].name;
            return;
        }
    ck_abort_msg("unknown test type %s", t);
}

void tlj_relation(tlj *j, uint32_t oid, uint32_t version, const char *schema, const char *name,
                  const char *spec)
{
    char *copy = strdup(spec);
    Tidemark__Column cols[32], *pcols[32];
    char *names[32];
    size_t n = 0;
    uint32_t pk = 0;
    bool any_key = false;
    /* ":uniq" and ":fk" columns: a single-column unique key, and a foreign
     * key to public.users (id), in the catalog detail. */
    Tidemark__UniqueKey uks[8], *puks[8];
    Tidemark__ForeignKey fks[8], *pfks[8];
    char *ucols[8], *fcols[8];
    char *refcol = (char *)"id";
    size_t nu = 0, nf = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        ck_assert(n < 32);
        char *colon = strchr(item, ':');
        ck_assert(colon != NULL);
        *colon = '\0';
        char *type = colon + 1, *flag = strchr(type, ':');
        if (flag)
            *flag++ = '\0';
        Tidemark__Column *c = &cols[n];
        tidemark__column__init(c);
        names[n] = item;
        c->name = item;
        c->has_type_oid = c->has_typmod = c->has_replica_key = c->has_pk_position = 1;
        const char *tname;
        type_of(type, &c->type_oid, &tname);
        c->type_name = (char *)tname;
        c->typmod = -1;
        if (flag && !strcmp(flag, "pk")) {
            c->pk_position = ++pk;
            c->replica_key = 1;
            any_key = true;
        } else if (flag && !strcmp(flag, "key")) {
            c->replica_key = 1;
            any_key = true;
        } else if (flag && !strcmp(flag, "uniq")) {
            ck_assert(nu < 8);
            tidemark__unique_key__init(&uks[nu]);
            uks[nu].name = item;
            ucols[nu] = item;
            uks[nu].columns = &ucols[nu];
            uks[nu].n_columns = 1;
            puks[nu] = &uks[nu];
            nu++;
        } else if (flag && !strcmp(flag, "fk")) {
            ck_assert(nf < 8);
            tidemark__foreign_key__init(&fks[nf]);
            fks[nf].name = item;
            fcols[nf] = item;
            fks[nf].columns = &fcols[nf];
            fks[nf].n_columns = 1;
            fks[nf].ref_namespace = (char *)"public";
            fks[nf].ref_name = (char *)"users";
            fks[nf].ref_columns = &refcol;
            fks[nf].n_ref_columns = 1;
            pfks[nf] = &fks[nf];
            nf++;
        }
        pcols[n] = c;
        n++;
    }
    (void)names;
    Tidemark__Relation rel = TIDEMARK__RELATION__INIT;
    rel.has_oid = rel.has_version = rel.has_replica_identity = rel.has_lsn = 1;
    rel.oid = oid;
    rel.version = version;
    rel.namespace_ = (char *)schema;
    rel.name = (char *)name;
    rel.replica_identity = any_key ? 'f' : 'f';
    rel.n_columns = n;
    rel.columns = pcols;
    rel.lsn = j->lsn;
    if (nu || nf) {
        rel.has_catalog_detail = rel.catalog_detail = 1;
        rel.unique_keys = puks;
        rel.n_unique_keys = nu;
        rel.foreign_keys = pfks;
        rel.n_foreign_keys = nf;
    }
    tmt_put_relation_record(j->w, &rel);
    free(copy);
}

void tlj_begin(tlj *j, uint32_t xid)
{
    ck_assert_uint_eq(j->n, 0);
    tidemark__tx_begin__init(&j->hdr);
    j->hdr.has_xid = j->hdr.has_commit_lsn = j->hdr.has_end_lsn = j->hdr.has_commit_time = 1;
    j->hdr.has_n_records = 1;
    j->hdr.xid = xid;
}

void tlj_large(tlj *j, uint32_t rows)
{
    j->hdr.has_large_change_rows = 1;
    j->hdr.large_change_rows = rows;
}

void tlj_snapshot(tlj *j)
{
    j->hdr.has_snapshot = 1;
    j->hdr.snapshot = 1;
}

static void push(tlj *j, const Tidemark__Record *rec)
{
    if (j->n == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 16;
        j->recs = realloc(j->recs, j->cap * sizeof *j->recs);
        j->lens = realloc(j->lens, j->cap * sizeof *j->lens);
    }
    size_t len = tidemark__record__get_packed_size(rec);
    j->recs[j->n] = malloc(len ? len : 1);
    tidemark__record__pack(rec, j->recs[j->n]);
    j->lens[j->n++] = len;
}

typedef struct tbuf {
    Tidemark__Tuple t;
    uint8_t kinds[64];
    uint32_t lens[64];
    char data[8192];
} tbuf;

static Tidemark__Tuple *tuple(tbuf *b, size_t n, const char *const *vals)
{
    tidemark__tuple__init(&b->t);
    size_t nl = 0, dl = 0;
    ck_assert(n <= 64);
    for (size_t i = 0; i < n; i++) {
        if (!vals[i]) {
            b->kinds[i] = 'n';
        } else if (vals[i] == TLJ_U) {
            b->kinds[i] = 'u';
        } else {
            size_t len = strlen(vals[i]);
            ck_assert(dl + len <= sizeof b->data);
            b->kinds[i] = 't';
            b->lens[nl++] = (uint32_t)len;
            memcpy(b->data + dl, vals[i], len);
            dl += len;
        }
    }
    b->t.has_kinds = b->t.has_data = 1;
    b->t.kinds.data = b->kinds;
    b->t.kinds.len = n;
    b->t.lengths = b->lens;
    b->t.n_lengths = nl;
    b->t.data.data = (uint8_t *)b->data;
    b->t.data.len = dl;
    return &b->t;
}

static void change(tlj *j, int op, uint32_t oid, uint32_t version, char old_kind, size_t n,
                   const char *const *oldv, const char *const *newv)
{
    static tbuf ob, nb;
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    ch.has_op = ch.has_relation_oid = ch.has_relation_version = 1;
    ch.op = op;
    ch.relation_oid = oid;
    ch.relation_version = version;
    if (old_kind) {
        ch.has_old_kind = 1;
        ch.old_kind = (uint32_t)old_kind;
        ch.old_tuple = tuple(&ob, n, oldv);
    }
    if (newv)
        ch.new_tuple = tuple(&nb, n, newv);
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    push(j, &rec);
}

void tlj_insert(tlj *j, uint32_t oid, uint32_t version, size_t n, const char *const *vals)
{
    change(j, TIDEMARK__CHANGE__OP__INSERT, oid, version, 0, n, NULL, vals);
}

void tlj_update(tlj *j, uint32_t oid, uint32_t version, char old_kind, size_t n,
                const char *const *oldv, const char *const *newv)
{
    change(j, TIDEMARK__CHANGE__OP__UPDATE, oid, version, old_kind, n, oldv, newv);
}

void tlj_delete(tlj *j, uint32_t oid, uint32_t version, char old_kind, size_t n,
                const char *const *oldv)
{
    change(j, TIDEMARK__CHANGE__OP__DELETE, oid, version, old_kind, n, oldv, NULL);
}

void tlj_truncate(tlj *j, uint32_t oid, uint32_t version, uint32_t flags)
{
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    ch.has_op = ch.has_relation_oid = ch.has_relation_version = ch.has_truncate_flags = 1;
    ch.op = TIDEMARK__CHANGE__OP__TRUNCATE;
    ch.relation_oid = oid;
    ch.relation_version = version;
    ch.truncate_flags = flags;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    push(j, &rec);
}

static void message(Tidemark__LogicalMessage *m, bool transactional, uint64_t lsn,
                    const char *prefix, const char *content)
{
    tidemark__logical_message__init(m);
    m->has_transactional = m->has_lsn = m->has_content = 1;
    m->transactional = transactional;
    m->lsn = lsn;
    m->prefix = (char *)prefix;
    m->content.data = (uint8_t *)content;
    m->content.len = strlen(content);
}

void tlj_message(tlj *j, const char *prefix, const char *content)
{
    Tidemark__LogicalMessage m;
    message(&m, true, j->lsn + 1, prefix, content);
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_MESSAGE;
    rec.message = &m;
    push(j, &rec);
}

void tlj_commit(tlj *j, int64_t step_us)
{
    j->lsn += 0x100;
    j->hdr.commit_lsn = j->lsn;
    j->hdr.end_lsn = j->lsn + 0x10;
    j->hdr.commit_time = j->time;
    j->hdr.n_records = j->n;
    tm_error err;
    ck_assert_msg(tm_writer_begin_tx(j->w, &j->hdr, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < j->n; i++) {
        ck_assert_msg(tm_writer_put_packed(j->w, j->recs[i], j->lens[i], &err) == 0, "%s", err.msg);
        free(j->recs[i]);
    }
    j->n = 0;
    ck_assert_msg(tm_writer_end_tx(j->w, &err) == 0, "%s", err.msg);
    j->time += step_us;
}

void tlj_standalone_message(tlj *j, const char *prefix, const char *content)
{
    Tidemark__LogicalMessage m;
    message(&m, false, j->lsn + 2, prefix, content);
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_MESSAGE;
    rec.message = &m;
    tm_error err;
    ck_assert_msg(tm_writer_put_standalone(j->w, &rec, &err) == 0, "%s", err.msg);
}

void tlj_sync(tlj *j)
{
    tm_error err;
    ck_assert_msg(tm_writer_sync(j->w, &err) == 0, "%s", err.msg);
}

int tlj_log(tlj *j, char **out, log_run_stats *st, char *errbuf, size_t errlen, ...)
{
    const char *argv[64] = {"log", "--journal", j->dir};
    int argc = 3;
    va_list ap;
    va_start(ap, errlen);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        ck_assert(argc < 63);
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    log_opts o;
    tm_error err = {0};
    *out = NULL;
    int status;
    int rc = cmd_log_parse(argc, (char **)argv, &o, &status);
    if (rc != 0)
        tm_error_set(&err, "a usage error (said on stderr)");
    if (rc == 0) {
        FILE *f = tmpfile();
        ck_assert(f != NULL);
        rc = log_run(&o, fileno(f), st, &err);
        long len = ftell(f) >= 0 ? (fseek(f, 0, SEEK_END), ftell(f)) : 0;
        rewind(f);
        *out = calloc(1, (size_t)len + 1);
        ck_assert((size_t)len == fread(*out, 1, (size_t)len, f) || len == 0);
        fclose(f);
    } else {
        rc = -1;
    }
    log_opts_free(&o);
    if (!*out)
        *out = strdup("");
    if (errbuf)
        snprintf(errbuf, errlen, "%s", rc ? err.msg : "");
    return rc;
}

size_t tlj_count(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += len)
        n++;
    return n;
}

size_t tlj_check_jsonl(const char *s)
{
    size_t lines = 0;
    while (*s) {
        const char *nl = strchr(s, '\n');
        ck_assert_msg(nl != NULL, "JSON Lines output does not end with a newline");
        ck_assert_msg(s < nl && *s == '{' && tm_json_check(s, nl), "not one JSON object: %.*s",
                      (int)(nl - s), s);
        lines++;
        s = nl + 1;
    }
    return lines;
}
