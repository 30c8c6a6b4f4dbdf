/* replay --apply (apply_db.h): the target checked, the tables and types it
 * lacks created (--create-tables), each row set written to fit the
 * target's table as it is now, owned sequences restarted past the rows,
 * in one transaction. */
#include "replay/out/apply_db.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/inert.h"
#include "store/common/log.h"
#include "store/common/qualname.h"
#include "store/journal/copy_text.h"
#include "replay/out/ddl.h"
#include "replay/out/emit.h"
#include "replay/out/sql_quote.h"
#include "replay/out/target.h"

#define ROWS_TABLE "tidemark_rows"
#define SUBSET_TABLE "tidemark_subset"

/* How the target's table takes the columns of the replayed version. */
typedef struct tcol {
    bool present;   /* the target has the column */
    bool generated; /* a generated column there: never written */
    bool always;    /* GENERATED ALWAYS AS IDENTITY there: never updated */
    bool key;       /* one of the row set's key columns */
} tcol;

typedef struct apply {
    PGconn *c;
    const tm_apply_opts *o;
    tm_out sql;   /* statement being built */
    tm_out data;  /* COPY data being sent */
    bool copy_ok; /* the COPY under way has gone well so far */
    tm_error *err;
    /* the table being applied: its columns in the target, and the
     * version's columns that are written (present, not generated) */
    tcol *cols;
    uint32_t *write;
    uint32_t nwrite;
    tm_value *rowbuf; /* one row's written values */
} apply;

static int exec_sql(apply *a, const char *sql, PGresult **res)
{
    PGresult *r = PQexec(a->c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        tm_error_setc(a->err, TM_ERR_DB, "%s", PQresultErrorMessage(r));
        size_t n = strlen(a->err->msg);
        while (n && a->err->msg[n - 1] == '\n')
            a->err->msg[--n] = '\0';
        PQclear(r);
        return -1;
    }
    if (res)
        *res = r;
    else
        PQclear(r);
    return 0;
}

/* Runs the statement built in a->sql. */
static int run(apply *a, PGresult **res)
{
    tm_out_putc(&a->sql, '\0');
    size_t len;
    const char *s = tm_out_data(&a->sql, &len);
    if (a->sql.err) {
        tm_error_setc(a->err, TM_ERR_NOMEM, "out of memory building SQL");
        return -1;
    }
    int rc = exec_sql(a, s, res);
    tm_out_reset(&a->sql);
    return rc;
}

/* Runs a DML statement and returns the rows it touched. */
static int run_dml(apply *a, uint64_t *n)
{
    PGresult *r;
    if (run(a, &r) != 0)
        return -1;
    *n = strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

/* Refuses the capture source unless allowed. */
static int check_target(apply *a, const tm_meta *meta)
{
    bool same;
    if (tm_target_is_source(a->c, meta, &same, a->err) != 0) {
        if (a->o->allow_source)
            return 0;
        tm_error_prefix(a->err, "if the --apply target is not the source, pass --allow-source");
        return -1;
    }
    if (same && !a->o->allow_source) {
        tm_error_set(a->err,
                     "the --apply target is the capture source itself (system %" PRIu64
                     ", database \"%s\"); replay writes there only with --allow-source",
                     meta->system_identifier, meta->database);
        return -1;
    }
    return 0;
}

/* Whether the target has table v. 1 yes, 0 no, -1 error. */
static int table_exists(apply *a, const tm_version *v)
{
    tm_target_table tt;
    if (tm_target_read(a->c, v->nspname, v->relname, &tt, a->err) != 0)
        return -1;
    int n = tt.exists;
    tm_target_free(&tt);
    return n;
}

/* Appends "name" to list (for messages; the end is cut when full). */
static void list_name(char *list, size_t cap, const char *name)
{
    size_t off = strlen(list);
    if (off + 1 < cap)
        snprintf(list + off, cap - off, "%s\"%s\"", off ? ", " : "", name);
}

/* Fills a->cols and a->write from the target's columns of v's table. */
static int read_target(apply *a, const tm_rowset *rs)
{
    const tm_version *v = rs->v;
    tm_target_table tt;
    if (tm_target_read(a->c, v->nspname, v->relname, &tt, a->err) != 0)
        return -1;
    a->nwrite = 0;
    for (uint32_t i = 0; i < v->ncols; i++) {
        tcol *t = &a->cols[i];
        *t = (tcol){0};
        const tm_target_col *tc = tm_target_col_find(&tt, v->cols[i].name);
        if (tc) {
            t->present = true;
            t->generated = tc->generated;
            t->always = tc->always;
        }
        for (uint32_t k = 0; k < rs->nkeys; k++)
            t->key |= rs->keys[k] == i;
        if (t->present && !t->generated)
            a->write[a->nwrite++] = i;
    }
    tm_target_free(&tt);
    return 0;
}

/* Key columns must be written; other columns the target lacks or
 * generates are left out, and said so. */
static int check_target_columns(apply *a, const tm_version *v)
{
    char keys[600] = "", absent[600] = "", generated[600] = "";
    for (uint32_t i = 0; i < v->ncols; i++) {
        const tcol *t = &a->cols[i];
        if (t->key && (!t->present || t->generated))
            list_name(keys, sizeof keys, v->cols[i].name);
        else if (!t->present)
            list_name(absent, sizeof absent, v->cols[i].name);
        else if (t->generated && !v->rel->columns[i]->generated) /* computed there as here */
            list_name(generated, sizeof generated, v->cols[i].name);
    }
    if (keys[0]) {
        tm_error_set(a->err,
                     "the target table %s.%s lacks key column(s) %s that it had at the replay "
                     "point (or generates them); rows cannot be matched without them",
                     v->nspname, v->relname, keys);
        return -1;
    }
    if (absent[0])
        tm_log_warning("%s.%s: column(s) %s of the replayed rows are not in the target table "
                       "(dropped since?); they are left out",
                       v->nspname, v->relname, absent);
    if (generated[0])
        tm_log_warning("%s.%s: column(s) %s are generated columns in the target table; they are "
                       "left out (the target computes them)",
                       v->nspname, v->relname, generated);
    return 0;
}

static void ident(apply *a, const char *s)
{
    tm_sql_ident(&a->sql, s, strlen(s));
}

/* Columns of types without an equality operator compare as text. */
static bool compare_as_text(uint32_t type_oid)
{
    switch (type_oid) {
    case 114: /* json */
    case 142: /* xml */
    case 600:
    case 601:
    case 602:
    case 603:
    case 604:
    case 628:
    case 718: /* geometry */
        return true;
    default:
        return false;
    }
}

static void col_ref(apply *a, const char *alias, const tm_col *c)
{
    tm_out_puts(&a->sql, alias);
    tm_out_putc(&a->sql, '.');
    ident(a, c->name);
    if (compare_as_text(c->type_oid))
        tm_out_puts(&a->sql, "::text");
}

/* x.k1 = y.k1 AND ... (IS NOT DISTINCT FROM when keys may be NULL). */
static void key_match(apply *a, const tm_rowset *rs, const char *x, const char *y)
{
    for (uint32_t k = 0; k < rs->nkeys; k++) {
        const tm_col *c = &rs->v->cols[rs->keys[k]];
        if (k)
            tm_out_puts(&a->sql, " AND ");
        col_ref(a, x, c);
        tm_out_puts(&a->sql, rs->unique ? " = " : " IS NOT DISTINCT FROM ");
        col_ref(a, y, c);
    }
    if (rs->nkeys == 0)
        tm_out_puts(&a->sql, "true");
}

/* Whether the UPDATE sets column i: written, not a key column, and not
 * GENERATED ALWAYS AS IDENTITY (which only DEFAULT may update). */
static bool updatable(const apply *a, uint32_t i)
{
    return !a->cols[i].key && !a->cols[i].always;
}

/* (x.c1::text, ...) IS DISTINCT FROM (y.c1::text, ...) over the columns an
 * UPDATE sets. Both sides have the target's column types, so their text
 * forms are equal exactly when the values are the same (1.0 and 1.00 are
 * not: replay writes what the source had); and every type has one, also
 * types without an equality operator (json, domains over enums). */
static void row_differs(apply *a, const tm_version *v, const char *x, const char *y)
{
    for (int side = 0; side < 2; side++) {
        tm_out_putc(&a->sql, '(');
        uint32_t n = 0;
        for (uint32_t w = 0; w < a->nwrite; w++) {
            uint32_t i = a->write[w];
            if (!updatable(a, i))
                continue;
            if (n++)
                tm_out_puts(&a->sql, ", ");
            tm_out_puts(&a->sql, side ? y : x);
            tm_out_putc(&a->sql, '.');
            ident(a, v->cols[i].name);
            tm_out_puts(&a->sql, "::text");
        }
        tm_out_puts(&a->sql, side ? ")" : ") IS DISTINCT FROM ");
    }
}

/* The written columns, as a list. */
static void columns(apply *a, const tm_version *v, const char *alias)
{
    for (uint32_t w = 0; w < a->nwrite; w++) {
        if (w)
            tm_out_puts(&a->sql, ", ");
        if (alias) {
            tm_out_puts(&a->sql, alias);
            tm_out_putc(&a->sql, '.');
        }
        ident(a, v->cols[a->write[w]].name);
    }
}

/* Every column of v in its order, NULL for those the target lacks (the
 * target's rows for tidemark's own --where matcher). */
static void columns_as_version(apply *a, const tm_version *v)
{
    for (uint32_t i = 0; i < v->ncols; i++) {
        if (i)
            tm_out_puts(&a->sql, ", ");
        if (a->cols[i].present)
            ident(a, v->cols[i].name);
        else
            tm_out_puts(&a->sql, "NULL");
    }
}

/* COPY ... FROM STDIN into table name; data lines then go through
 * a->data, sent by copy_send (whenever it holds enough) and copy_end. */
static int copy_begin(apply *a, const char *name, const tm_version *v, const uint32_t *only,
                      uint32_t nonly)
{
    tm_out_puts(&a->sql, "COPY ");
    ident(a, name);
    tm_out_puts(&a->sql, " (");
    for (uint32_t i = 0; i < (only ? nonly : v->ncols); i++) {
        if (i)
            tm_out_puts(&a->sql, ", ");
        ident(a, v->cols[only ? only[i] : i].name);
    }
    tm_out_puts(&a->sql, ") FROM STDIN");
    tm_out_putc(&a->sql, '\0');
    size_t len;
    const char *stmt = tm_out_data(&a->sql, &len);
    PGresult *r = PQexec(a->c, stmt);
    tm_out_reset(&a->sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        tm_error_setc(a->err, TM_ERR_DB, "COPY into a temporary table failed: %s",
                      PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    a->copy_ok = true;
    return 0;
}

static void copy_send(apply *a)
{
    size_t len;
    const char *d = tm_out_data(&a->data, &len);
    if (a->data.err)
        a->copy_ok = false;
    for (size_t off = 0; a->copy_ok && off < len; off += 1u << 20) {
        size_t n = len - off < (1u << 20) ? len - off : 1u << 20;
        a->copy_ok = PQputCopyData(a->c, d + off, (int)n) == 1;
    }
    tm_out_reset(&a->data);
}

static int copy_end(apply *a)
{
    copy_send(a);
    bool ok = a->copy_ok;
    if (PQputCopyEnd(a->c, ok ? NULL : "tidemark: sending rows failed") != 1)
        ok = false;
    int rc = 0;
    PGresult *r;
    while ((r = PQgetResult(a->c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            tm_error_setc(a->err, TM_ERR_DB, "COPY into a temporary table failed: %s",
                          PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    if (!ok && rc == 0) {
        tm_error_setc(a->err, TM_ERR_DB, "sending rows to the target failed: %s",
                      PQerrorMessage(a->c));
        rc = -1;
    }
    return rc;
}

/* Fills SUBSET_TABLE with the keys of the target rows matching where. */
static int load_subset(apply *a, const tm_rowset *rs, const tm_where_bound *where)
{
    const tm_version *v = rs->v;
    tm_out_puts(&a->sql, "CREATE TEMP TABLE " SUBSET_TABLE " AS SELECT ");
    for (uint32_t k = 0; k < rs->nkeys; k++) {
        if (k)
            tm_out_puts(&a->sql, ", ");
        ident(a, v->cols[rs->keys[k]].name);
    }
    tm_out_puts(&a->sql, " FROM ");
    tm_sql_qualified(&a->sql, v->nspname, v->relname);
    tm_out_puts(&a->sql, " WITH NO DATA");
    if (run(a, NULL) != 0)
        return -1;
    /* The target's rows, in text form, filtered here with the same
     * matcher as the replayed rows. */
    tm_out_puts(&a->sql, "COPY (SELECT ");
    columns_as_version(a, v);
    tm_out_puts(&a->sql, " FROM ");
    tm_sql_qualified(&a->sql, v->nspname, v->relname);
    tm_out_puts(&a->sql, ") TO STDOUT");
    tm_out_putc(&a->sql, '\0');
    size_t len;
    PGresult *r = PQexec(a->c, tm_out_data(&a->sql, &len));
    tm_out_reset(&a->sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        tm_error_setc(a->err, TM_ERR_DB, "reading %s.%s: %s", v->nspname, v->relname,
                      PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    tm_value *vals = malloc((v->ncols + 1) * sizeof *vals);
    int rc = vals ? 0 : -1;
    char *line;
    int n;
    while ((n = PQgetCopyData(a->c, &line, 0)) > 0) {
        size_t l = (size_t)n;
        if (l && line[l - 1] == '\n')
            l--;
        if (rc == 0 && tm_copy_text_split(line, l, vals, v->ncols) != 0) {
            tm_error_setc(a->err, TM_ERR_DB, "reading %s.%s: a row did not have %u fields",
                          v->nspname, v->relname, v->ncols);
            rc = -1;
        }
        if (rc == 0 && tm_where_match(where, vals)) {
            for (uint32_t k = 0; k < rs->nkeys; k++) {
                const tm_value *x = &vals[rs->keys[k]];
                if (k)
                    tm_out_putc(&a->data, '\t');
                if (x->kind == TM_KIND_TEXT)
                    tm_copy_text_field(&a->data, x->ptr, x->len);
                else
                    tm_out_write(&a->data, "\\N", 2);
            }
            tm_out_putc(&a->data, '\n');
        }
        PQfreemem(line);
    }
    free(vals);
    while ((r = PQgetResult(a->c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            tm_error_setc(a->err, TM_ERR_DB, "reading %s.%s: %s", v->nspname, v->relname,
                          PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    if (rc != 0) {
        if (!vals)
            tm_error_setc(a->err, TM_ERR_NOMEM, "out of memory");
        tm_out_reset(&a->data);
        return -1;
    }
    /* The keys gathered while the target's rows came in go out now. */
    if (copy_begin(a, SUBSET_TABLE, v, rs->keys, rs->nkeys) != 0) {
        tm_out_reset(&a->data);
        return -1;
    }
    return copy_end(a);
}

/* "t" restricted to the subset: WHERE EXISTS (subset row with t's key). */
static void in_subset(apply *a, const tm_rowset *rs, bool subset)
{
    if (!subset) {
        tm_out_puts(&a->sql, "true");
        return;
    }
    tm_out_puts(&a->sql, "EXISTS (SELECT 1 FROM " SUBSET_TABLE " x WHERE ");
    key_match(a, rs, "t", "x");
    tm_out_putc(&a->sql, ')');
}

static void target(apply *a, const tm_version *v)
{
    tm_sql_qualified(&a->sql, v->nspname, v->relname);
}

typedef struct counts {
    uint64_t ins, upd, del;
} counts;

/* Deletes the subset's rows that the row set lacks (key-less tables: the
 * whole subset; then every row is inserted). */
static int delete_missing(apply *a, const tm_rowset *rs, bool subset, uint64_t *n)
{
    tm_out_puts(&a->sql, "DELETE FROM ");
    target(a, rs->v);
    tm_out_puts(&a->sql, " t WHERE ");
    in_subset(a, rs, subset);
    if (rs->unique) {
        tm_out_puts(&a->sql, " AND NOT EXISTS (SELECT 1 FROM " ROWS_TABLE " s WHERE ");
        key_match(a, rs, "t", "s");
        tm_out_putc(&a->sql, ')');
    }
    return run_dml(a, n);
}

/* Updates the rows of the same key that differ: every column an UPDATE
 * may set. */
static int update_changed(apply *a, const tm_rowset *rs, uint64_t *n)
{
    const tm_version *v = rs->v;
    uint32_t nset = 0;
    for (uint32_t w = 0; w < a->nwrite; w++)
        nset += updatable(a, a->write[w]);
    *n = 0;
    if (!rs->unique || nset == 0)
        return 0;
    tm_out_puts(&a->sql, "UPDATE ");
    target(a, v);
    tm_out_puts(&a->sql, " t SET ");
    nset = 0;
    for (uint32_t w = 0; w < a->nwrite; w++) {
        uint32_t i = a->write[w];
        if (!updatable(a, i))
            continue;
        tm_out_puts(&a->sql, nset++ ? ", " : "");
        ident(a, v->cols[i].name);
        tm_out_puts(&a->sql, " = s.");
        ident(a, v->cols[i].name);
    }
    tm_out_puts(&a->sql, " FROM " ROWS_TABLE " s WHERE ");
    key_match(a, rs, "t", "s");
    tm_out_puts(&a->sql, " AND ");
    row_differs(a, v, "t", "s");
    return run_dml(a, n);
}

/* Inserts the rows whose key (key-less tables: whole row) the target
 * lacks; after replace's delete of a key-less subset, all of them. */
static int insert_missing(apply *a, const tm_rowset *rs, uint64_t *n)
{
    const tm_version *v = rs->v;
    tm_out_puts(&a->sql, "INSERT INTO ");
    target(a, v);
    tm_out_puts(&a->sql, " (");
    columns(a, v, NULL);
    tm_out_puts(&a->sql, ") OVERRIDING SYSTEM VALUE SELECT ");
    columns(a, v, "s");
    tm_out_puts(&a->sql, " FROM " ROWS_TABLE " s");
    if (rs->unique || a->o->merge) {
        tm_out_puts(&a->sql, " WHERE NOT EXISTS (SELECT 1 FROM ");
        target(a, v);
        tm_out_puts(&a->sql, " t WHERE ");
        key_match(a, rs, "t", "s");
        tm_out_putc(&a->sql, ')');
    }
    return run_dml(a, n);
}

/* Makes the changes for one table. A dry run makes them too (its
 * transaction is rolled back), so its counts and what follows from them
 * (sequences) are the real run's. */
static int reconcile(apply *a, const tm_rowset *rs, bool subset, counts *n)
{
    memset(n, 0, sizeof *n);
    if (!a->o->merge && delete_missing(a, rs, subset, &n->del) != 0)
        return -1;
    if (update_changed(a, rs, &n->upd) != 0)
        return -1;
    return insert_missing(a, rs, &n->ins);
}

/* The row set's rows, their written columns, into ROWS_TABLE. */
static int copy_rows(apply *a, tm_rowset *rs)
{
    const tm_version *v = rs->v;
    if (copy_begin(a, ROWS_TABLE, v, a->write, a->nwrite) != 0)
        return -1;
    for (size_t i = 0; i < rs->n; i++) {
        const tm_value *row = tm_rowset_row(rs, i);
        for (uint32_t w = 0; w < a->nwrite; w++)
            a->rowbuf[w] = row[a->write[w]];
        if (tm_copy_text_row(&a->data, a->rowbuf, a->nwrite, a->err) != 0) {
            a->copy_ok = false;
            tm_error err2 = *a->err;
            copy_end(a);
            *a->err = err2;
            return -1;
        }
        if (a->data.len >= (1u << 20))
            copy_send(a);
    }
    return copy_end(a);
}

/* ---- owned sequences ---------------------------------------------------------- */

/* The table's quoted name, as the text pg_get_serial_sequence and regclass
 * read, into buf. */
static int quoted_name(apply *a, const tm_version *v, char *buf, size_t len)
{
    tm_out_reset(&a->sql);
    tm_sql_qualified(&a->sql, v->nspname, v->relname);
    size_t n;
    const char *q = tm_out_data(&a->sql, &n);
    int rc = n < len && !a->sql.err ? 0 : -1;
    if (rc == 0) {
        memcpy(buf, q, n);
        buf[n] = '\0';
    } else {
        tm_error_set(a->err, "the name of %s.%s is too long", v->nspname, v->relname);
    }
    tm_out_reset(&a->sql);
    return rc;
}

/* Restarts the sequence seq (as pg_get_serial_sequence names it) owned by
 * column col past the column's highest value (lowest, when it counts
 * down); reports it. ALTER SEQUENCE is transactional (setval is not), so
 * a rollback or a dry run leaves it as it was. */
static int restart_sequence(apply *a, const tm_version *v, const char *col, const char *seq,
                            int64_t inc, bool owner, FILE *report)
{
    tm_out_puts(&a->sql, inc > 0 ? "SELECT max(" : "SELECT min(");
    ident(a, col);
    tm_out_puts(&a->sql, ")::text FROM ");
    target(a, v);
    PGresult *r;
    if (run(a, &r) != 0)
        return -1;
    bool empty = PQgetisnull(r, 0, 0);
    int64_t next = empty ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10) + inc;
    PQclear(r);
    char shown[TM_INERT_SIZE(2 * TM_NAME_MAX + 8)];
    tm_inert(seq, shown, sizeof shown);
    if (empty) {
        fprintf(report, "  sequence %s left as it is (no rows)\n", shown);
        return 0;
    }
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, next);
    if (!owner) {
        /* Only its owner may restart it; setval would not roll back. */
        tm_log_warning("sequence %s belongs to another role, so it is left as it is; if it is "
                       "behind the rows, the next insert collides: as its owner, run ALTER "
                       "SEQUENCE %s RESTART WITH %s",
                       seq, seq, num);
        return 0;
    }
    tm_out_puts(&a->sql, "ALTER SEQUENCE ");
    tm_out_puts(&a->sql, seq); /* pg_get_serial_sequence quotes what needs it */
    tm_out_puts(&a->sql, " RESTART WITH ");
    tm_out_puts(&a->sql, num);
    if (run(a, NULL) != 0)
        return -1;
    fprintf(report, "  sequence %s %s at %s\n", shown,
            a->o->dry_run ? "would restart" : "restarted", num);
    return 0;
}

/* Every sequence the target's table owns (serial and identity columns of
 * integer types), restarted past the rows now there. */
static int restart_sequences(apply *a, const tm_version *v, FILE *report)
{
    char name[4 * TM_NAME_MAX + 8];
    if (quoted_name(a, v, name, sizeof name) != 0)
        return -1;
    const char *p[] = {name};
    PGresult *r =
        PQexecParams(a->c,
                     "SELECT a.attname, pg_get_serial_sequence($1, a.attname), s.seqincrement, "
                     "       pg_has_role(c.relowner, 'USAGE') "
                     "FROM pg_attribute a JOIN pg_sequence s "
                     "  ON s.seqrelid = pg_get_serial_sequence($1, a.attname)::regclass "
                     "JOIN pg_class c ON c.oid = s.seqrelid "
                     "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                     "  AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) "
                     "ORDER BY a.attnum",
                     1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        tm_error_setc(a->err, TM_ERR_DB, "reading the sequences of %s.%s: %s", v->nspname,
                      v->relname, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = restart_sequence(a, v, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                              strtoll(PQgetvalue(r, i, 2), NULL, 10), PQgetvalue(r, i, 3)[0] == 't',
                              report);
    PQclear(r);
    return rc;
}

/* ---- one table ------------------------------------------------------------------ */

static void report_counts(apply *a, const tm_version *v, const counts *n, bool created,
                          FILE *report)
{
    /* The names come from the journal: printed inert. */
    char name[2 * TM_NAME_MAX + 2], shown[TM_INERT_SIZE(sizeof name)];
    snprintf(name, sizeof name, "%s.%s", v->nspname, v->relname);
    tm_inert(name, shown, sizeof shown);
    if (a->o->dry_run)
        fprintf(report, "%s: would insert %" PRIu64 ", update %" PRIu64 ", delete %" PRIu64 "%s\n",
                shown, n->ins, n->upd, n->del, created ? " (the table would be created)" : "");
    else
        fprintf(report, "%s: inserted %" PRIu64 ", updated %" PRIu64 ", deleted %" PRIu64 "%s\n",
                shown, n->ins, n->upd, n->del, created ? " (table created)" : "");
}

/* The table's rows into the target, a->cols and a->write read already. */
static int write_table(apply *a, const tm_apply_table *at, bool created, FILE *report)
{
    tm_rowset *rs = at->rs;
    const tm_version *v = rs->v;
    /* The row set, in a temporary table of the target's column types. */
    tm_out_puts(&a->sql, "CREATE TEMP TABLE " ROWS_TABLE " AS SELECT ");
    columns(a, v, NULL);
    tm_out_puts(&a->sql, " FROM ");
    target(a, v);
    tm_out_puts(&a->sql, " WITH NO DATA");
    if (run(a, NULL) != 0 || copy_rows(a, rs) != 0 || exec_sql(a, "ANALYZE " ROWS_TABLE, NULL) != 0)
        return -1;
    bool subset = at->where && !a->o->merge;
    if (subset && load_subset(a, rs, at->where) != 0)
        return -1;
    counts n;
    if (reconcile(a, rs, subset, &n) != 0)
        return -1;
    if (exec_sql(a, subset ? "DROP TABLE " ROWS_TABLE ", " SUBSET_TABLE : "DROP TABLE " ROWS_TABLE,
                 NULL) != 0)
        return -1;
    report_counts(a, v, &n, created, report);
    return restart_sequences(a, v, report);
}

static int apply_table(apply *a, const tm_apply_table *at, bool created, FILE *report)
{
    const tm_version *v = at->rs->v;
    a->cols = calloc(v->ncols + 1, sizeof *a->cols);
    a->write = calloc(v->ncols + 1, sizeof *a->write);
    a->rowbuf = calloc(v->ncols + 1, sizeof *a->rowbuf);
    int rc = -1;
    if (!a->cols || !a->write || !a->rowbuf)
        tm_error_setc(a->err, TM_ERR_NOMEM, "out of memory");
    else if (read_target(a, at->rs) == 0 && check_target_columns(a, v) == 0)
        rc = write_table(a, at, created, report);
    free(a->cols);
    free(a->write);
    free(a->rowbuf);
    a->cols = NULL;
    a->write = NULL;
    a->rowbuf = NULL;
    return rc;
}

/* ---- tables the target lacks ----------------------------------------------------- */

/* tm_ddl_exists_fn: whether the target has the type already. */
static bool type_exists(void *ctx, const Tidemark__TypeDef *t)
{
    apply *a = ctx;
    tm_out name;
    tm_error e;
    if (tm_out_init_mem(&name, &e) != 0)
        return false;
    bool found = false;
    if (tm_sql_qualified(&name, t->namespace_, t->name) == 0) {
        tm_out_putc(&name, '\0');
        size_t len;
        const char *p[] = {tm_out_data(&name, &len)};
        PGresult *r =
            PQexecParams(a->c, "SELECT to_regtype($1) IS NOT NULL", 1, NULL, p, NULL, NULL, 0);
        found = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
    }
    tm_out_free(&name);
    return found;
}

/* Creates the tables marked in `create` (and the types their columns use
 * that the target lacks), or refuses without --create-tables. */
static int create_missing(apply *a, const tm_apply_table *tables, const bool *create, size_t n)
{
    tm_ddl_done done = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const tm_version *v = tables[i].rs->v;
        if (!create[i])
            continue;
        if (!a->o->create_tables) {
            tm_error_setc(a->err, TM_ERR_NOT_FOUND,
                          "table %s.%s does not exist in the --apply target; pass "
                          "--create-tables to create it from the recorded schema",
                          v->nspname, v->relname);
            rc = -1;
        } else {
            rc = tm_ddl_types(&a->sql, v, &done, type_exists, a, a->err);
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (create[i])
            rc = tm_sql_create_table(&a->sql, tables[i].rs->v, a->err);
    tm_ddl_done_free(&done);
    if (rc == 0 && a->sql.len && run(a, NULL) != 0) {
        tm_error_prefix(a->err, "creating the tables the target lacks");
        rc = -1;
    }
    tm_out_reset(&a->sql);
    return rc;
}

/* The server's notices (CREATE SCHEMA IF NOT EXISTS of a schema there
 * already, say) are for --verbose only. */
static void notice(void *arg, const char *message)
{
    (void)arg;
    tm_log_debug("target: %.*s", (int)strcspn(message, "\n"), message);
}

struct tm_applier {
    apply a;
    tm_apply_opts o;
};

void tm_apply_close(tm_applier *p)
{
    if (!p)
        return;
    if (p->a.c)
        PQfinish(p->a.c);
    tm_out_free(&p->a.sql);
    tm_out_free(&p->a.data);
    free(p);
}

int tm_apply_open(const tm_apply_opts *o, const tm_meta *meta, tm_applier **out, tm_error *err)
{
    tm_applier *p = calloc(1, sizeof *p);
    if (!p) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    p->o = *o;
    p->a.o = &p->o;
    p->a.err = err;
    if (tm_out_init_mem(&p->a.sql, err) != 0 || tm_out_init_mem(&p->a.data, err) != 0) {
        tm_apply_close(p);
        return -1;
    }
    p->a.c = PQconnectdb(o->conninfo);
    if (p->a.c)
        PQsetNoticeProcessor(p->a.c, notice, NULL);
    if (PQstatus(p->a.c) != CONNECTION_OK) {
        tm_error_setc(err, TM_ERR_DB, "cannot connect to the --apply target: %s",
                      PQerrorMessage(p->a.c));
        size_t l = strlen(err->msg);
        while (l && (err->msg[l - 1] == '\n' || err->msg[l - 1] == '\t'))
            err->msg[--l] = '\0';
        tm_apply_close(p);
        return -1;
    }
    if (check_target(&p->a, meta) != 0 ||
        exec_sql(&p->a,
                 "SET client_encoding = 'UTF8'; SET standard_conforming_strings = on; "
                 "SET DateStyle = 'ISO'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'",
                 NULL) != 0) {
        tm_apply_close(p);
        return -1;
    }
    *out = p;
    return 0;
}

/* Which tables the target lacks (create[i]). */
static int find_missing(apply *a, const tm_apply_table *tables, size_t n, bool *create)
{
    for (size_t i = 0; i < n; i++) {
        int e = table_exists(a, tables[i].rs->v);
        if (e < 0)
            return -1;
        create[i] = e == 0;
    }
    return 0;
}

static int apply_all(apply *a, tm_apply_table *tables, size_t n, FILE *report)
{
    bool *create = calloc(n + 1, sizeof *create);
    if (!create) {
        tm_error_setc(a->err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    int rc = find_missing(a, tables, n, create) == 0 && create_missing(a, tables, create, n) == 0
                 ? 0
                 : -1;
    if (rc != 0)
        tm_error_prefix(a->err, "nothing was written");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (apply_table(a, &tables[i], create[i], report) != 0) {
            char q[300];
            snprintf(q, sizeof q, "%s.%s", tables[i].rs->v->nspname, tables[i].rs->v->relname);
            tm_error_prefix(a->err, "applying %s (nothing was written)", q);
            rc = -1;
        }
    }
    free(create);
    return rc;
}

int tm_apply_run(tm_applier *p, tm_apply_table *tables, size_t n, FILE *report, tm_error *err)
{
    apply *a = &p->a;
    a->err = err;
    /* A dry run is a rehearsal: the same statements, deferred constraints
     * checked at each one, then rolled back. */
    if (exec_sql(a, "BEGIN", NULL) != 0 ||
        (p->o.dry_run && exec_sql(a, "SET CONSTRAINTS ALL IMMEDIATE", NULL) != 0))
        return -1;
    if (apply_all(a, tables, n, report) != 0) {
        PQclear(PQexec(a->c, "ROLLBACK"));
        return -1;
    }
    if (exec_sql(a, p->o.dry_run ? "ROLLBACK" : "COMMIT", NULL) != 0) {
        tm_error_prefix(err, "committing");
        return -1;
    }
    if (p->o.dry_run)
        fprintf(report, "dry run: nothing was written\n");
    return 0;
}
