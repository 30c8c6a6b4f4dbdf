/* Recreating a captured table's schema from the journal (ddl.h): types,
 * sequences, the table with its constraints, and the script lines that set
 * owned sequences past the rows. */
#include "replay/out/ddl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/out/sql_quote.h"
#include "store/common/fsutil.h"
#include "store/common/log.h"

/* The first oid of objects not built into PostgreSQL (FirstNormalObjectId). */
#define FIRST_USER_OID 16384

void tm_ddl_done_free(tm_ddl_done *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->names[i]);
    free(d->names);
    memset(d, 0, sizeof *d);
}

int tm_ddl_bad_name(const tm_version *v, tm_error *err)
{
    tm_error_set(err,
                 "the journal records a name with a NUL byte in %s.%s; it cannot be written "
                 "as SQL",
                 v->nspname, v->relname);
    return -1;
}

/* ---- what may be written as it is ---------------------------------------- */

/* Whether s reads as a format_type() result: plain words, "quoted names",
 * numbers, spaces and ( ) [ ] , . only (so no ; and no comment). */
static bool type_name_ok(const char *s)
{
    if (!*s)
        return false;
    while (*s) {
        char c = *s;
        if (c == '"') {
            for (s++;; s++) {
                if (!*s)
                    return false;
                if (*s == '"') {
                    if (s[1] != '"')
                        break;
                    s++;
                }
            }
            s++;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '$' || c == ' ' || c == '(' || c == ')' || c == '[' ||
                  c == ']' || c == ',' || c == '.' || (unsigned char)c >= 0x80;
        if (!ok)
            return false;
        s++;
    }
    return true;
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           (unsigned char)c >= 0x80;
}

/* Past the quoted text that starts at s (a quote): '...' and "..." with the
 * quote doubled inside, and E'...' (escape, the E before s) with backslash
 * escapes too. NULL when it does not end. */
static const char *skip_quoted(const char *s, bool escapes)
{
    char q = *s;
    for (s++; *s; s++) {
        if (escapes && *s == '\\') {
            if (!s[1])
                return NULL;
            s++;
        } else if (*s == q) {
            if (s[1] != q)
                return s + 1;
            s++;
        }
    }
    return NULL;
}

bool tm_ddl_expr_ok(const char *s)
{
    int depth = 0;
    if (!s || !*s)
        return false;
    for (const char *p = s; *p;) {
        char c = *p;
        if (c == '\'' || c == '"') {
            bool e = c == '\'' && p > s && (p[-1] == 'E' || p[-1] == 'e') &&
                     (p - 1 == s || !ident_char(p[-2]));
            if (!(p = skip_quoted(p, e)))
                return false;
            continue;
        }
        if ((c == '-' && p[1] == '-') || (c == '/' && p[1] == '*') || c == ';' || c == '\\' ||
            c == '$' || c == '\n' || c == '\r' || (c == ',' && depth == 0))
            return false;
        if (c == '(' || c == '[')
            depth++;
        else if ((c == ')' || c == ']') && --depth < 0)
            return false;
        p++;
    }
    return depth == 0;
}

/* ---- types ------------------------------------------------------------------ */

/* The recorded type of oid (*array: oid is its array type), or NULL. */
static const Tidemark__TypeDef *find_type(const Tidemark__Relation *rel, uint32_t oid, bool *array)
{
    for (size_t i = 0; i < rel->n_types; i++) {
        const Tidemark__TypeDef *t = rel->types[i];
        if (t->oid == oid || (t->array_oid && t->array_oid == oid)) {
            *array = t->oid != oid;
            return t;
        }
    }
    return NULL;
}

/* Enums, domains and composite types that are not a table's row type nor
 * an extension's: what this file creates. */
static bool creatable(const Tidemark__TypeDef *t)
{
    return !t->extension && (t->kind == 'e' || t->kind == 'd' || (t->kind == 'c' && !t->table_row));
}

/* A type as a column, domain or attribute refers to it: a recorded
 * creatable type by its qualified name (so the target's search_path does
 * not matter), anything else by its format_type() text. */
static int type_ref(tm_out *o, const Tidemark__Relation *rel, uint32_t oid, const char *text,
                    const char *what, tm_error *err)
{
    bool array = false;
    const Tidemark__TypeDef *t = find_type(rel, oid, &array);
    if (t && creatable(t)) {
        if (tm_sql_qualified(o, t->namespace_, t->name) != 0)
            goto bad;
        if (array)
            tm_out_puts(o, "[]");
        return 0;
    }
    if (text && type_name_ok(text)) {
        tm_out_puts(o, text);
        return 0;
    }
bad:
    tm_error_set(err,
                 "the journal records the type of %s as \"%.100s\", which is not a type name; "
                 "create the table yourself",
                 what, text ? text : "");
    return -1;
}

static void schema_of(tm_out *o, const char *nsp)
{
    if (!nsp || !strcmp(nsp, "public"))
        return;
    tm_out_puts(o, "CREATE SCHEMA IF NOT EXISTS ");
    tm_sql_ident(o, nsp, strlen(nsp));
    tm_out_puts(o, ";\n");
}

static int create_enum(tm_out *o, const Tidemark__TypeDef *t)
{
    tm_out_puts(o, " AS ENUM (");
    for (size_t i = 0; i < t->n_labels; i++) {
        if (i)
            tm_out_puts(o, ", ");
        if (tm_sql_literal(o, t->labels[i], strlen(t->labels[i])) != 0)
            return -1;
    }
    tm_out_putc(o, ')');
    return 0;
}

static int create_composite(tm_out *o, const Tidemark__Relation *rel, const Tidemark__TypeDef *t,
                            tm_error *err)
{
    tm_out_puts(o, " AS (");
    for (size_t i = 0; i < t->n_fields; i++) {
        const Tidemark__TypeField *f = t->fields[i];
        if (i)
            tm_out_puts(o, ", ");
        if (tm_sql_ident(o, f->name, strlen(f->name)) != 0)
            return -1;
        tm_out_putc(o, ' ');
        char what[300];
        snprintf(what, sizeof what, "attribute \"%.100s\" of type %.100s", f->name, t->name);
        if (type_ref(o, rel, f->type_oid, f->type_name, what, err) != 0)
            return -1;
    }
    tm_out_putc(o, ')');
    return 0;
}

static int create_domain(tm_out *o, const Tidemark__Relation *rel, const Tidemark__TypeDef *t,
                         tm_error *err)
{
    tm_out_puts(o, " AS ");
    char what[200];
    snprintf(what, sizeof what, "the base of domain %.100s", t->name);
    if (type_ref(o, rel, t->base_type_oid, t->base_type, what, err) != 0)
        return -1;
    if (t->default_expr && tm_ddl_expr_ok(t->default_expr)) {
        tm_out_puts(o, " DEFAULT ");
        tm_out_puts(o, t->default_expr);
    } else if (t->default_expr) {
        tm_log_warning("domain %s.%s: its DEFAULT (%s) does not read as one expression; it is "
                       "left out",
                       t->namespace_, t->name, t->default_expr);
    }
    if (t->not_null)
        tm_out_puts(o, " NOT NULL");
    for (size_t i = 0; i < t->n_checks; i++) {
        const Tidemark__TypeCheck *c = t->checks[i];
        if (c->not_valid || !tm_ddl_expr_ok(c->expr)) {
            tm_log_warning("domain %s.%s: CHECK constraint %s is left out (%s)", t->namespace_,
                           t->name, c->name,
                           c->not_valid ? "it is NOT VALID at the source: rows there may break it"
                                        : "it does not read as one expression");
            continue;
        }
        tm_out_puts(o, " CONSTRAINT ");
        if (tm_sql_ident(o, c->name, strlen(c->name)) != 0)
            return -1;
        tm_out_puts(o, " CHECK (");
        tm_out_puts(o, c->expr);
        tm_out_putc(o, ')');
    }
    return 0;
}

static int create_type(tm_out *o, const Tidemark__Relation *rel, const Tidemark__TypeDef *t,
                       tm_error *err)
{
    schema_of(o, t->namespace_);
    tm_out_puts(o, t->kind == 'd' ? "CREATE DOMAIN " : "CREATE TYPE ");
    if (tm_sql_qualified(o, t->namespace_, t->name) != 0) {
        tm_error_set(err, "the journal records a type name with a NUL byte; it cannot be written");
        return -1;
    }
    if (t->kind == 'e' && create_enum(o, t) != 0) {
        tm_error_set(err, "the journal records a label of enum %s with a NUL byte", t->name);
        return -1;
    }
    if (t->kind == 'd' && create_domain(o, rel, t, err) != 0)
        return -1;
    if (t->kind != 'e' && t->kind != 'd' && create_composite(o, rel, t, err) != 0)
        return -1;
    tm_out_puts(o, ";\n");
    return 0;
}

static void warn_type(const tm_version *v, const Tidemark__TypeDef *t)
{
    if (t->extension)
        tm_log_warning("type %s.%s (used by %s.%s) belongs to extension %s, which replay does not "
                       "create: run CREATE EXTENSION %s in the target first",
                       t->namespace_, t->name, v->nspname, v->relname, t->extension, t->extension);
    else if (t->kind == 'c')
        tm_log_warning("type %s.%s (used by %s.%s) is the row type of a table, which replay does "
                       "not create: create that table in the target first",
                       t->namespace_, t->name, v->nspname, v->relname);
    else
        tm_log_warning("type %s.%s (used by %s.%s) is a %s type, which replay does not create: "
                       "create it in the target first",
                       t->namespace_, t->name, v->nspname, v->relname,
                       t->kind == 'r'   ? "range"
                       : t->kind == 'm' ? "multirange"
                       : t->kind == 'b' ? "base"
                                        : "pseudo");
}

/* A journal written before the catalog detail was recorded. */
static void warn_no_detail(const tm_version *v)
{
    tm_log_warning("%s.%s: the journal (written by an older tidemark capture) does not record "
                   "its defaults, unique keys, sequences or the definitions of its column types; "
                   "it is created with its columns, NOT NULL and primary key only",
                   v->nspname, v->relname);
    for (uint32_t i = 0; i < v->ncols; i++)
        if (v->cols[i].type_oid >= FIRST_USER_OID)
            tm_log_warning("%s.%s column %s is of type %s, which the journal does not define: it "
                           "must exist in the target",
                           v->nspname, v->relname, v->cols[i].name, v->cols[i].type_name);
}

/* Adds t's qualified name to done; false when it was there already. */
static int mark_done(tm_ddl_done *d, const Tidemark__TypeDef *t, tm_error *err)
{
    char *key;
    if (asprintf(&key, "%s%c%s", t->namespace_ ? t->namespace_ : "", '\x01',
                 t->name ? t->name : "") < 0)
        goto oom;
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->names[i], key)) {
            free(key);
            return 0;
        }
    char **v = tm_grow(d->names, &d->cap, d->n, sizeof *v, 8, "", err);
    if (!v) {
        free(key);
        return -1;
    }
    d->names = v;
    d->names[d->n++] = key;
    return 1;
oom:
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
    return -1;
}

int tm_ddl_types(tm_out *o, const tm_version *v, tm_ddl_done *done, tm_ddl_exists_fn exists,
                 void *ctx, tm_error *err)
{
    const Tidemark__Relation *rel = v->rel;
    if (!rel->catalog_detail) {
        warn_no_detail(v);
        return 0;
    }
    for (size_t i = 0; i < rel->n_types; i++) {
        const Tidemark__TypeDef *t = rel->types[i];
        int fresh = mark_done(done, t, err);
        if (fresh < 0)
            return -1;
        if (!fresh)
            continue;
        if (!creatable(t)) {
            warn_type(v, t);
            continue;
        }
        if (exists && exists(ctx, t))
            continue;
        if (create_type(o, rel, t, err) != 0)
            return -1;
    }
    return 0;
}

/* ---- sequences ----------------------------------------------------------------- */

static void sequence_options(tm_out *o, const Tidemark__Sequence *q)
{
    char num[200];
    snprintf(num, sizeof num,
             " INCREMENT BY %" PRId64 " MINVALUE %" PRId64 " MAXVALUE %" PRId64
             " START WITH %" PRId64 " CACHE %" PRId64 "%s",
             q->increment, q->min_value, q->max_value, q->start, q->cache > 0 ? q->cache : 1,
             q->cycle ? " CYCLE" : " NO CYCLE");
    tm_out_puts(o, num);
}

static bool integer_type(const char *s)
{
    return s && (!strcmp(s, "smallint") || !strcmp(s, "integer") || !strcmp(s, "bigint"));
}

/* CREATE SEQUENCE IF NOT EXISTS for the sequences of columns that are not
 * identity columns (those come with the table). */
static int create_sequences(tm_out *o, const tm_version *v)
{
    for (size_t i = 0; i < v->rel->n_columns; i++) {
        const Tidemark__Column *c = v->rel->columns[i];
        const Tidemark__Sequence *q = c->sequence;
        if (!q || c->identity)
            continue;
        schema_of(o, q->namespace_);
        tm_out_puts(o, "CREATE SEQUENCE IF NOT EXISTS ");
        if (tm_sql_qualified(o, q->namespace_, q->name) != 0)
            return -1;
        if (integer_type(q->data_type)) {
            tm_out_puts(o, " AS ");
            tm_out_puts(o, q->data_type);
        }
        sequence_options(o, q);
        tm_out_puts(o, ";\n");
    }
    return 0;
}

/* ALTER SEQUENCE ... OWNED BY for the serial columns. */
static int own_sequences(tm_out *o, const tm_version *v)
{
    for (size_t i = 0; i < v->rel->n_columns; i++) {
        const Tidemark__Column *c = v->rel->columns[i];
        const Tidemark__Sequence *q = c->sequence;
        if (!q || c->identity || !q->owned)
            continue;
        tm_out_puts(o, "ALTER SEQUENCE ");
        if (tm_sql_qualified(o, q->namespace_, q->name) != 0)
            return -1;
        tm_out_puts(o, " OWNED BY ");
        if (tm_sql_qualified(o, v->nspname, v->relname) != 0)
            return -1;
        tm_out_putc(o, '.');
        if (tm_sql_ident(o, c->name, strlen(c->name)) != 0)
            return -1;
        tm_out_puts(o, ";\n");
    }
    return 0;
}

/* ---- the table -------------------------------------------------------------- */

static int identity(tm_out *o, const Tidemark__Column *c)
{
    tm_out_puts(o, c->identity == 'a' ? " GENERATED ALWAYS AS IDENTITY"
                                      : " GENERATED BY DEFAULT AS IDENTITY");
    const Tidemark__Sequence *q = c->sequence;
    if (!q)
        return 0;
    tm_out_puts(o, " (SEQUENCE NAME ");
    if (tm_sql_qualified(o, q->namespace_, q->name) != 0)
        return -1;
    sequence_options(o, q);
    tm_out_putc(o, ')');
    return 0;
}

/* GENERATED ALWAYS AS (expr) STORED|VIRTUAL, so that the target computes
 * the column as the source did. The expression is the source's own
 * pg_get_expr() text; one that does not read as one expression (a damaged
 * or forged journal) is refused, as a column without it would hold other
 * values. */
static int generation(tm_out *o, const tm_version *v, const Tidemark__Column *c, tm_error *err)
{
    if (!c->generation_expr || !tm_ddl_expr_ok(c->generation_expr)) {
        tm_error_set(err,
                     "the journal records the generation expression of %s.%s column \"%s\" as "
                     "\"%.100s\", which does not read as one expression; create the table "
                     "yourself",
                     v->nspname, v->relname, c->name,
                     c->generation_expr ? c->generation_expr : "(none)");
        return -1;
    }
    tm_out_puts(o, " GENERATED ALWAYS AS (");
    tm_out_puts(o, c->generation_expr);
    tm_out_puts(o, c->generated == 'v' ? ") VIRTUAL" : ") STORED");
    return 0;
}

/* A generated column of the source that the journal has no values of
 * (Relation.unpublished_columns): created for the target to compute. */
static int unpublished_def(tm_out *o, const tm_version *v, const Tidemark__Column *c, tm_error *err)
{
    if (tm_sql_ident(o, c->name, strlen(c->name)) != 0)
        return tm_ddl_bad_name(v, err);
    tm_out_putc(o, ' ');
    char what[300];
    snprintf(what, sizeof what, "%.100s.%.100s column \"%.60s\"", v->nspname, v->relname, c->name);
    if (type_ref(o, v->rel, c->type_oid, c->type_name, what, err) != 0)
        return -1;
    if (generation(o, v, c, err) != 0)
        return -1;
    if (c->not_null)
        tm_out_puts(o, " NOT NULL");
    return 0;
}

static int column_def(tm_out *o, const tm_version *v, uint32_t i, bool detail, tm_error *err)
{
    const tm_col *c = &v->cols[i];
    const Tidemark__Column *rc = v->rel->columns[i];
    if (tm_sql_ident(o, c->name, strlen(c->name)) != 0)
        return tm_ddl_bad_name(v, err);
    tm_out_putc(o, ' ');
    char what[300];
    snprintf(what, sizeof what, "%.100s.%.100s column \"%.60s\"", v->nspname, v->relname, c->name);
    if (type_ref(o, v->rel, c->type_oid, c->type_name, what, err) != 0)
        return -1;
    if (detail && rc->generated) {
        if (generation(o, v, rc, err) != 0)
            return -1;
    } else if (detail && rc->identity) {
        if (identity(o, rc) != 0)
            return tm_ddl_bad_name(v, err);
    } else if (detail && rc->default_expr && tm_ddl_expr_ok(rc->default_expr)) {
        tm_out_puts(o, " DEFAULT ");
        tm_out_puts(o, rc->default_expr);
    } else if (detail && rc->default_expr) {
        tm_log_warning("%s.%s column %s: its DEFAULT (%s) does not read as one expression; it is "
                       "left out",
                       v->nspname, v->relname, c->name, rc->default_expr);
    }
    if (c->not_null || c->pk_position)
        tm_out_puts(o, " NOT NULL");
    return 0;
}

static int name_list(tm_out *o, char *const *names, size_t n)
{
    tm_out_putc(o, '(');
    for (size_t k = 0; k < n; k++) {
        if (k)
            tm_out_puts(o, ", ");
        if (tm_sql_ident(o, names[k], strlen(names[k])) != 0)
            return -1;
    }
    tm_out_putc(o, ')');
    return 0;
}

/* The primary key: with the catalog detail the recorded one (by its
 * name); in older journals the key replay uses (tm_version_key). */
static int primary_key(tm_out *o, const tm_version *v, bool detail)
{
    uint32_t keys[v->ncols + 1];
    bool unique;
    uint32_t nk = tm_version_key(v, keys, &unique);
    if (!unique || nk == 0 || (detail && !v->cols[keys[0]].pk_position))
        return 0;
    tm_out_puts(o, ",\n    ");
    if (detail && v->rel->primary_key_name) {
        tm_out_puts(o, "CONSTRAINT ");
        if (tm_sql_ident(o, v->rel->primary_key_name, strlen(v->rel->primary_key_name)) != 0)
            return -1;
        tm_out_putc(o, ' ');
    }
    tm_out_puts(o, "PRIMARY KEY (");
    for (uint32_t k = 0; k < nk; k++) {
        if (k)
            tm_out_puts(o, ", ");
        if (tm_sql_ident(o, v->cols[keys[k]].name, strlen(v->cols[keys[k]].name)) != 0)
            return -1;
    }
    tm_out_putc(o, ')');
    return 0;
}

static int unique_constraints(tm_out *o, const tm_version *v)
{
    for (size_t i = 0; i < v->rel->n_unique_keys; i++) {
        const Tidemark__UniqueKey *u = v->rel->unique_keys[i];
        if (!u->constraint)
            continue;
        tm_out_puts(o, ",\n    CONSTRAINT ");
        if (tm_sql_ident(o, u->name, strlen(u->name)) != 0)
            return -1;
        tm_out_puts(o, u->nulls_not_distinct ? " UNIQUE NULLS NOT DISTINCT " : " UNIQUE ");
        if (name_list(o, u->columns, u->n_columns) != 0)
            return -1;
    }
    return 0;
}

static int unique_indexes(tm_out *o, const tm_version *v)
{
    for (size_t i = 0; i < v->rel->n_unique_keys; i++) {
        const Tidemark__UniqueKey *u = v->rel->unique_keys[i];
        if (u->constraint)
            continue;
        tm_out_puts(o, "CREATE UNIQUE INDEX ");
        if (tm_sql_ident(o, u->name, strlen(u->name)) != 0)
            return -1;
        tm_out_puts(o, " ON ");
        if (tm_sql_qualified(o, v->nspname, v->relname) != 0)
            return -1;
        tm_out_putc(o, ' ');
        if (name_list(o, u->columns, u->n_columns) != 0)
            return -1;
        tm_out_puts(o, u->nulls_not_distinct ? " NULLS NOT DISTINCT;\n" : ";\n");
    }
    return 0;
}

int tm_sql_create_table(tm_out *o, const tm_version *v, tm_error *err)
{
    bool detail = v->rel->catalog_detail;
    schema_of(o, v->nspname);
    if (detail && create_sequences(o, v) != 0)
        return tm_ddl_bad_name(v, err);
    tm_out_puts(o, "CREATE TABLE ");
    if (tm_sql_qualified(o, v->nspname, v->relname) != 0)
        return tm_ddl_bad_name(v, err);
    tm_out_puts(o, " (");
    /* The columns in the source's order (attnum), the unpublished generated
     * ones among them, so that SELECT * on the target lists them alike. */
    const Tidemark__Relation *r = v->rel;
    size_t u = 0, nu = r->n_unpublished_columns;
    for (uint32_t i = 0, n = 0; i < v->ncols || u < nu; n++) {
        tm_out_puts(o, n ? ",\n    " : "\n    ");
        bool gen_first = u < nu && (i == v->ncols ||
                                    (r->columns[i]->has_attnum &&
                                     r->unpublished_columns[u]->attnum < r->columns[i]->attnum));
        if (gen_first ? unpublished_def(o, v, r->unpublished_columns[u++], err) != 0
                      : column_def(o, v, i++, detail, err) != 0)
            return -1;
    }
    if (primary_key(o, v, detail) != 0 || (detail && unique_constraints(o, v) != 0))
        return tm_ddl_bad_name(v, err);
    tm_out_puts(o, "\n);\n");
    if (detail && (unique_indexes(o, v) != 0 || own_sequences(o, v) != 0))
        return tm_ddl_bad_name(v, err);
    return 0;
}

/* ---- sequences after the rows ------------------------------------------------ */

/* The PL/pgSQL that restarts each sequence a table owns past its column's
 * highest value (its lowest for a descending one); the table's name, as a
 * literal, goes between the parts. ALTER SEQUENCE is transactional, unlike
 * setval, so a script that fails later leaves the sequences as they were;
 * only their owner may run it, so others' sequences are left with a
 * warning. */
static const char *const restart_body[] = {
    "DECLARE r record; inc bigint; m bigint;\n"
    "BEGIN\n"
    "  FOR r IN SELECT a.attname AS col, pg_get_serial_sequence(",
    ", a.attname) AS seq\n"
    "             FROM pg_attribute a\n"
    "            WHERE a.attrelid = ",
    "::regclass AND a.attnum > 0 AND NOT a.attisdropped\n"
    "              AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)\n"
    "              AND pg_get_serial_sequence(",
    ", a.attname) IS NOT NULL\n"
    "  LOOP\n"
    "    IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = r.seq::regclass),\n"
    "                       'USAGE') THEN\n"
    "      RAISE WARNING 'sequence % belongs to another role; it is left as it is', r.seq;\n"
    "      CONTINUE;\n"
    "    END IF;\n"
    "    SELECT seqincrement INTO inc FROM pg_sequence WHERE seqrelid = r.seq::regclass;\n"
    "    EXECUTE format('SELECT %s(%I) FROM %s', CASE WHEN inc > 0 THEN 'max' ELSE 'min' END,\n"
    "                   r.col, ",
    ") INTO m;\n"
    "    IF m IS NOT NULL THEN\n"
    "      EXECUTE format('ALTER SEQUENCE %s RESTART WITH %s', r.seq, m + inc);\n"
    "    END IF;\n"
    "  END LOOP;\n"
    "END\n",
};

/* The DO block's body for table v into body: 0, or -1 with err. */
static int restart_block(tm_out *body, const tm_version *v, tm_error *err)
{
    tm_out name, lit;
    if (tm_out_init_mem(&name, err) != 0)
        return -1;
    if (tm_out_init_mem(&lit, err) != 0) {
        tm_out_free(&name);
        return -1;
    }
    /* '"schema"."table"': the quoted name, as a literal */
    int rc = tm_sql_qualified(&name, v->nspname, v->relname) == 0 ? 0 : tm_ddl_bad_name(v, err);
    size_t nlen, llen;
    const char *n = tm_out_data(&name, &nlen);
    if (rc == 0)
        tm_sql_literal(&lit, n, nlen);
    const char *l = tm_out_data(&lit, &llen);
    size_t nparts = sizeof restart_body / sizeof restart_body[0];
    for (size_t i = 0; rc == 0 && i < nparts; i++) {
        tm_out_puts(body, restart_body[i]);
        if (i + 1 < nparts)
            tm_out_write(body, l, llen);
    }
    if (rc == 0 && (name.err || lit.err || body->err)) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        rc = -1;
    }
    tm_out_free(&name);
    tm_out_free(&lit);
    return rc;
}

int tm_ddl_set_sequences_script(tm_out *o, const tm_version *v, tm_error *err)
{
    tm_out body;
    if (tm_out_init_mem(&body, err) != 0)
        return -1;
    int rc = restart_block(&body, v, err);
    if (rc == 0) {
        size_t len;
        const char *b = tm_out_data(&body, &len);
        tm_out_puts(o, "DO ");
        tm_sql_literal(o, b, len); /* names with a NUL were refused above */
        tm_out_puts(o, ";\n");
    }
    tm_out_free(&body);
    return rc;
}
