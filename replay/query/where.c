/* --where: a hand-written lexer and recursive-descent parser producing a
 * flat list of conditions (the language has AND only), a binder checking
 * them against one table's columns, and an allocation-free matcher. */
#include "replay/query/where.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/query/jsonscan.h"
#include "store/common/tm_time.h"
#include "replay/query/typecmp.h"

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN, OP_ISNULL, OP_NOTNULL };
enum { L_STR, L_NUM, L_BOOL };

/* IN lists longer than this are sorted at bind time and binary-searched. */
#define IN_SORT_MIN 8

typedef struct wkey {
    bool is_index;
    long long index;
    const char *s;
    size_t len;
} wkey;

typedef struct wlit {
    int kind;
    const char *s; /* decoded, NUL-terminated, in the string pool */
    size_t len;
    size_t pos; /* 1-based character position in the expression */
} wlit;

typedef struct wcond {
    const char *col;
    size_t col_pos;
    wkey *keys;
    size_t nkeys;
    bool text_result; /* path ends with ->> */
    int op;
    wlit *lits;
    size_t nlits;
} wcond;

struct tm_where {
    char *pool; /* decoded names, keys and literals */
    size_t pool_used;
    wcond *conds;
    size_t n;
};

/* ---- lexer ------------------------------------------------------------ */

enum {
    T_END,
    T_IDENT,  /* plain name, folded to lower case; also keywords */
    T_QIDENT, /* "quoted name" */
    T_STRING, /* 'literal' */
    T_NUMBER,
    T_OP,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_ARROW,  /* -> */
    T_ARROW2, /* ->> */
};

typedef struct token {
    int type, op;
    size_t start;  /* byte offset */
    const char *s; /* decoded text in the pool (names, strings, numbers) */
    size_t len;
} token;

typedef struct parser {
    const char *src;
    size_t off;
    tm_where *w;
    tm_error *err;
    token tok;
    bool failed;
} parser;

static size_t char_pos(const char *src, size_t off)
{
    size_t n = 1;
    for (size_t i = 0; i < off && src[i]; i++)
        n += ((unsigned char)src[i] & 0xC0) != 0x80; /* count UTF-8 lead bytes */
    return n;
}

static void fail_at(parser *ps, size_t off, const char *what)
{
    if (ps->failed)
        return;
    ps->failed = true;
    if (!ps->src[off]) {
        tm_error_setc(ps->err, TM_ERR_FORMAT, "%s at the end of --where", what);
        return;
    }
    /* Quote a little of what follows, cut at a character boundary. */
    size_t n = 0;
    while (ps->src[off + n] && n < 24)
        n++;
    while (ps->src[off + n] && ((unsigned char)ps->src[off + n] & 0xC0) == 0x80)
        n++;
    tm_error_setc(ps->err, TM_ERR_FORMAT, "%s at character %zu of --where (near \"%.*s%s\")", what,
                  char_pos(ps->src, off), (int)n, ps->src + off, ps->src[off + n] ? "..." : "");
}

static char *pool_put(parser *ps, const char *s, size_t n)
{
    char *d = ps->w->pool + ps->w->pool_used;
    memcpy(d, s, n);
    d[n] = '\0';
    ps->w->pool_used += n + 1;
    return d;
}

static bool ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A quoted token ('...' or "..."): the quote doubled inside stands for
 * itself. Decoded into the pool. */
static bool lex_quoted(parser *ps, char q, token *t)
{
    const char *src = ps->src;
    size_t i = ps->off + 1;
    char *d = ps->w->pool + ps->w->pool_used;
    size_t n = 0;
    for (;;) {
        if (!src[i]) {
            fail_at(ps, ps->off,
                    q == '\'' ? "unterminated quoted string" : "unterminated quoted name");
            return false;
        }
        if (src[i] == q) {
            if (src[i + 1] != q)
                break;
            i++;
        }
        d[n++] = src[i++];
    }
    d[n] = '\0';
    ps->w->pool_used += n + 1;
    t->s = d;
    t->len = n;
    ps->off = i + 1;
    if (q == '"' && n == 0) {
        fail_at(ps, t->start, "zero-length quoted name");
        return false;
    }
    return true;
}

static bool lex(parser *ps)
{
    const char *src = ps->src;
    size_t i = ps->off;
    while (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r' || src[i] == '\f' ||
           src[i] == '\v')
        i++;
    token *t = &ps->tok;
    memset(t, 0, sizeof *t);
    t->start = ps->off = i;
    char c = src[i];
    switch (c) {
    case '\0':
        t->type = T_END;
        return true;
    case '(':
        t->type = T_LPAREN;
        ps->off = i + 1;
        return true;
    case ')':
        t->type = T_RPAREN;
        ps->off = i + 1;
        return true;
    case ',':
        t->type = T_COMMA;
        ps->off = i + 1;
        return true;
    case '=':
        t->type = T_OP, t->op = OP_EQ;
        ps->off = i + 1;
        return true;
    case '!':
        if (src[i + 1] != '=') {
            fail_at(ps, i, "unexpected '!' (did you mean !=?)");
            return false;
        }
        t->type = T_OP, t->op = OP_NE;
        ps->off = i + 2;
        return true;
    case '<':
        t->type = T_OP;
        t->op = src[i + 1] == '=' ? OP_LE : src[i + 1] == '>' ? OP_NE : OP_LT;
        ps->off = i + (t->op == OP_LT ? 1 : 2);
        return true;
    case '>':
        t->type = T_OP;
        t->op = src[i + 1] == '=' ? OP_GE : OP_GT;
        ps->off = i + (t->op == OP_GT ? 1 : 2);
        return true;
    case '\'':
        t->type = T_STRING;
        return lex_quoted(ps, '\'', t);
    case '"':
        t->type = T_QIDENT;
        return lex_quoted(ps, '"', t);
    case '-':
        if (src[i + 1] == '>') {
            t->type = src[i + 2] == '>' ? T_ARROW2 : T_ARROW;
            ps->off = i + (t->type == T_ARROW2 ? 3 : 2);
            return true;
        }
        break;
    default:
        break;
    }
    size_t j = i;
    if (c == '-' || c == '+')
        j++;
    if (is_digit(src[j]) || (src[j] == '.' && is_digit(src[j + 1]))) {
        while (is_digit(src[j]))
            j++;
        if (src[j] == '.') {
            j++;
            while (is_digit(src[j]))
                j++;
        }
        if (src[j] == 'e' || src[j] == 'E') {
            size_t k = j + 1;
            if (src[k] == '+' || src[k] == '-')
                k++;
            if (is_digit(src[k])) {
                while (is_digit(src[k]))
                    k++;
                j = k;
            }
        }
        if (ident_char((unsigned char)src[j]) || src[j] == '.') {
            fail_at(ps, i, "malformed number");
            return false;
        }
        t->type = T_NUMBER;
        t->s = pool_put(ps, src + i, j - i);
        t->len = j - i;
        ps->off = j;
        return true;
    }
    if (ident_start((unsigned char)c)) {
        size_t j = i;
        while (ident_char((unsigned char)src[j]))
            j++;
        if (j == i + 1 && (c == 'e' || c == 'E') && src[j] == '\'') {
            fail_at(ps, i,
                    "E'...' strings are not supported (write a plain 'string'; backslashes "
                    "in it are literal)");
            return false;
        }
        t->type = T_IDENT;
        char *d = pool_put(ps, src + i, j - i);
        for (char *p = d; *p; p++) /* SQL folds unquoted names to lower case */
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        t->s = d;
        t->len = j - i;
        ps->off = j;
        return true;
    }
    char msg[64];
    if ((unsigned char)c < 0x20 || c == 0x7f)
        snprintf(msg, sizeof msg, "unexpected control character 0x%02x", (unsigned char)c);
    else
        snprintf(msg, sizeof msg, "unexpected character '%c'", c);
    fail_at(ps, i, msg);
    return false;
}

static bool kw(const token *t, const char *word)
{
    return t->type == T_IDENT && !strcmp(t->s, word);
}

static bool reserved(const token *t)
{
    static const char *const words[] = {"and", "or", "not", "in", "is", "null", "true", "false"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (kw(t, words[i]))
            return true;
    return false;
}

/* ---- parser ----------------------------------------------------------- */

static void *grow(void *arr, size_t n, size_t size)
{
    /* Doubling growth; n is the current count and also tells when to grow. */
    if (n && (n & (n - 1)))
        return arr;
    return realloc(arr, (n ? 2 * n : 1) * size);
}

static bool oom(parser *ps)
{
    if (!ps->failed)
        tm_error_setc(ps->err, TM_ERR_NOMEM, "out of memory while parsing --where");
    ps->failed = true;
    return false;
}

static bool parse_literal(parser *ps, wcond *c)
{
    token *t = &ps->tok;
    wlit l = {0, t->s, t->len, char_pos(ps->src, t->start)};
    if (t->type == T_STRING) {
        l.kind = L_STR;
    } else if (t->type == T_NUMBER) {
        l.kind = L_NUM;
    } else if (kw(t, "true") || kw(t, "false")) {
        l.kind = L_BOOL;
    } else if (kw(t, "null")) {
        fail_at(ps, t->start,
                "comparing with NULL is never true in SQL; use IS NULL or IS NOT NULL");
        return false;
    } else {
        fail_at(ps, t->start, "expected a literal (a 'quoted string', a number, true or false)");
        return false;
    }
    wlit *lits = grow(c->lits, c->nlits, sizeof *lits);
    if (!lits)
        return oom(ps);
    c->lits = lits;
    c->lits[c->nlits++] = l;
    return lex(ps);
}

static bool parse_in_list(parser *ps, wcond *c)
{
    if (ps->tok.type != T_LPAREN) {
        fail_at(ps, ps->tok.start, "expected '(' after IN");
        return false;
    }
    if (!lex(ps))
        return false;
    for (;;) {
        if (!parse_literal(ps, c))
            return false;
        if (ps->tok.type == T_RPAREN)
            return lex(ps);
        if (ps->tok.type != T_COMMA) {
            fail_at(ps, ps->tok.start, "expected ',' or ')' in the IN list");
            return false;
        }
        if (!lex(ps))
            return false;
    }
}

static bool parse_path(parser *ps, wcond *c)
{
    while (ps->tok.type == T_ARROW || ps->tok.type == T_ARROW2) {
        if (c->text_result) {
            fail_at(ps, ps->tok.start, "->> gives text and must be the last step of a JSON path");
            return false;
        }
        c->text_result = ps->tok.type == T_ARROW2;
        if (!lex(ps))
            return false;
        token *t = &ps->tok;
        wkey k = {false, 0, t->s, t->len};
        if (t->type == T_NUMBER) {
            char *end;
            errno = 0;
            long long v = strtoll(t->s, &end, 10);
            if (*end || errno || t->s[0] == '+') {
                fail_at(ps, t->start, "a JSON array index must be an integer");
                return false;
            }
            k.is_index = true;
            k.index = v;
        } else if (t->type != T_STRING) {
            fail_at(ps, t->start, "expected a 'key' or an array index after -> or ->>");
            return false;
        }
        wkey *keys = grow(c->keys, c->nkeys, sizeof *keys);
        if (!keys)
            return oom(ps);
        c->keys = keys;
        c->keys[c->nkeys++] = k;
        if (!lex(ps))
            return false;
    }
    return true;
}

static bool parse_cond(parser *ps, wcond *c)
{
    token *t = &ps->tok;
    if (kw(t, "not")) {
        fail_at(ps, t->start, "NOT is only supported in IS NOT NULL and NOT IN");
        return false;
    }
    if (t->type == T_LPAREN) {
        fail_at(ps, t->start, "parentheses are not supported (conditions are joined by AND)");
        return false;
    }
    if ((t->type != T_IDENT && t->type != T_QIDENT) || reserved(t)) {
        fail_at(ps, t->start, "expected a column name");
        return false;
    }
    c->col = t->s;
    c->col_pos = char_pos(ps->src, t->start);
    if (!lex(ps) || !parse_path(ps, c))
        return false;
    if (t->type == T_OP) {
        c->op = t->op;
        if (c->nkeys && !c->text_result) {
            fail_at(ps, t->start,
                    "-> gives json, which does not compare; end the path with ->> to compare "
                    "its text");
            return false;
        }
        return lex(ps) && parse_literal(ps, c);
    }
    bool neg = false;
    if (kw(t, "not")) {
        neg = true;
        if (!lex(ps))
            return false;
        if (!kw(t, "in")) {
            fail_at(ps, t->start, "expected IN after NOT");
            return false;
        }
    }
    if (kw(t, "in")) {
        c->op = neg ? OP_NOTIN : OP_IN;
        if (c->nkeys && !c->text_result) {
            fail_at(ps, t->start, "end the JSON path with ->> to compare its text");
            return false;
        }
        return lex(ps) && parse_in_list(ps, c);
    }
    if (kw(t, "is")) {
        if (!lex(ps))
            return false;
        c->op = OP_ISNULL;
        if (kw(t, "not")) {
            c->op = OP_NOTNULL;
            if (!lex(ps))
                return false;
        }
        if (!kw(t, "null")) {
            fail_at(ps, t->start, "expected NULL after IS (only IS NULL and IS NOT NULL exist)");
            return false;
        }
        return lex(ps);
    }
    fail_at(ps, t->start, "expected an operator (=, !=, <>, <, <=, >, >=, IN, NOT IN, IS NULL)");
    return false;
}

void tm_where_free(tm_where *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->conds[i].keys);
        free(w->conds[i].lits);
    }
    free(w->conds);
    free(w->pool);
    free(w);
}

tm_where *tm_where_parse(const char *expr, tm_error *err)
{
    if (!expr) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "--where is empty: give conditions such as id = 42 AND status <> 'x'");
        return NULL;
    }
    size_t len = strlen(expr);
    tm_where *w = calloc(1, sizeof *w);
    /* Every decoded token is no longer than its source, plus a NUL; tokens
     * are at least one byte apart, so 2 * len + 2 bytes always suffice. */
    if (w)
        w->pool = malloc(2 * len + 2);
    if (!w || !w->pool) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory while parsing --where");
        tm_where_free(w);
        return NULL;
    }
    parser ps = {expr, 0, w, err, {0}, false};
    if (!lex(&ps))
        goto fail;
    if (ps.tok.type == T_END) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "--where is empty: give conditions such as id = 42 AND status <> 'x'");
        goto fail;
    }
    for (;;) {
        wcond *conds = grow(w->conds, w->n, sizeof *conds);
        if (!conds) {
            oom(&ps);
            goto fail;
        }
        w->conds = conds;
        wcond *c = &w->conds[w->n++];
        memset(c, 0, sizeof *c);
        if (!parse_cond(&ps, c))
            goto fail;
        if (ps.tok.type == T_END)
            return w;
        if (kw(&ps.tok, "or")) {
            fail_at(&ps, ps.tok.start,
                    "OR is not supported (join conditions with AND, or use IN (...))");
            goto fail;
        }
        if (!kw(&ps.tok, "and")) {
            fail_at(&ps, ps.tok.start, "expected AND or the end of the expression");
            goto fail;
        }
        if (!lex(&ps))
            goto fail;
    }
fail:
    tm_where_free(w);
    return NULL;
}

/* ---- binding ---------------------------------------------------------- */

typedef struct blit {
    const char *s;
    size_t len;
} blit;

typedef struct bcond {
    size_t col;
    tm_tclass cls; /* how the compared value orders: the column's, or text after ->> */
    bool jsonb;    /* the column is jsonb (scalars index like one-element arrays) */
    wkey *keys;
    size_t nkeys;
    bool text_result;
    int op;
    blit *lits;
    size_t nlits;
    bool sorted;
} bcond;

struct tm_where_bound {
    bcond *conds;
    size_t n;
    char *pool;  /* copy of the parse pool: keys and literals point into it */
    char *times; /* normalised timestamptz literals, TM_TIME_BUFLEN each */
};

void tm_where_bound_free(tm_where_bound *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        free(b->conds[i].keys);
        free(b->conds[i].lits);
    }
    free(b->conds);
    free(b->pool);
    free(b->times);
    free(b);
}

/* Writes a name as SQL needs it to be typed: plain if it is a lower-case
 * identifier, else double-quoted. */
static size_t show_name(char *buf, size_t cap, const char *name)
{
    bool plain = ident_start((unsigned char)name[0]) && !((unsigned char)name[0] >= 0x80);
    for (const char *p = name; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || *p == '_' || is_digit(*p);
    size_t n = 0;
    if (cap == 0)
        return 0;
    if (plain) {
        n = (size_t)snprintf(buf, cap, "%s", name);
    } else {
        if (cap < 4) {
            buf[0] = '\0';
            return 0;
        }
        buf[n++] = '"';
        for (const char *p = name; *p && n + 4 < cap; p++) { /* room: 2 + quote + NUL */
            if (*p == '"')
                buf[n++] = '"';
            buf[n++] = *p;
        }
        buf[n++] = '"';
        buf[n] = '\0';
    }
    return n < cap ? n : cap - 1;
}

static void unknown_column(const wcond *c, const tm_coldesc *cols, size_t ncols, tm_error *err)
{
    char list[600], hint[200] = "";
    size_t n = 0;
    list[0] = '\0';
    for (size_t i = 0; i < ncols && n + 8 < sizeof list; i++) {
        if (i)
            n += (size_t)snprintf(list + n, sizeof list - n, ", ");
        if (n + 8 < sizeof list)
            n += show_name(list + n, sizeof list - n - 4, cols[i].name);
        if (i + 1 < ncols && n + 8 >= sizeof list)
            snprintf(list + n, sizeof list - n, ", ...");
    }
    for (size_t i = 0; i < ncols; i++) {
        if (!strcasecmp(cols[i].name, c->col)) {
            char shown[150];
            show_name(shown, sizeof shown, cols[i].name);
            snprintf(hint, sizeof hint, " (did you mean %s? quote names that have capitals)",
                     shown);
            break;
        }
    }
    char shown[150];
    show_name(shown, sizeof shown, c->col);
    tm_error_setc(err, TM_ERR_FORMAT,
                  "column %s at character %zu of --where does not exist%s; the table's columns "
                  "are: %s",
                  shown, c->col_pos, hint, ncols ? list : "(none)");
}

typedef struct sort_arg {
    tm_tclass cls;
} sort_arg;

static int lit_cmp(const void *x, const void *y, void *arg)
{
    const blit *a = x, *b = y;
    return tm_typecmp(((sort_arg *)arg)->cls, a->s, a->len, b->s, b->len);
}

static int bind_literal(const wlit *l, bcond *bc, blit *out, char *timebuf, const tm_coldesc *col,
                        const char *tz, tm_error *err)
{
    char colname[150];
    show_name(colname, sizeof colname, col->name);
    const char *tname = bc->nkeys ? "text" : tm_tclass_name(bc->cls);
    bool numeric = bc->cls == TM_TC_INT || bc->cls == TM_TC_NUMERIC || bc->cls == TM_TC_FLOAT4 ||
                   bc->cls == TM_TC_FLOAT8;
    out->s = l->s;
    out->len = l->len;
    if (l->kind == L_BOOL && bc->cls != TM_TC_BOOL) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "%.60s at character %zu of --where is a boolean but %s is %s; quote it to "
                      "compare it as %s ('%.60s')",
                      l->s, l->pos, colname, tname, tname, l->s);
        return -1;
    }
    if (l->kind == L_NUM && !numeric) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "%.60s at character %zu of --where is a number but %s is %s; quote it to "
                      "compare it as %s ('%.60s')",
                      l->s, l->pos, colname, tname, tname, l->s);
        return -1;
    }
    if (bc->cls == TM_TC_TIMESTAMPTZ && l->kind == L_STR) {
        /* Offsets and --tz are resolved once here; the comparison then sees
         * PostgreSQL's UTC output form. */
        int64_t t;
        tm_error terr;
        if (tm_time_parse(l->s, tz, &t, &terr) == 0) {
            out->s = tm_time_format(t, timebuf);
            out->len = strlen(out->s);
            return 0;
        }
        if (!tm_type_valid(bc->cls, l->s, l->len)) {
            tm_error_setc(
                err, TM_ERR_FORMAT,
                "'%.100s' at character %zu of --where is not a valid timestamp for %s: %s", l->s,
                l->pos, colname, terr.msg);
            return -1;
        }
        return 0;
    }
    if (!tm_type_valid(bc->cls, l->s, l->len)) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "'%.100s' at character %zu of --where is not a valid %s value (column %s)",
                      l->s, l->pos, tname, colname);
        return -1;
    }
    return 0;
}

tm_where_bound *tm_where_bind(const tm_where *w, const tm_coldesc *cols, size_t ncols,
                              const char *tz, tm_error *err)
{
    size_t ntimes = 0;
    for (size_t i = 0; i < w->n; i++)
        ntimes += w->conds[i].nlits;
    tm_where_bound *b = calloc(1, sizeof *b);
    if (!b || !(b->conds = calloc(w->n, sizeof *b->conds)) ||
        !(b->pool = malloc(w->pool_used ? w->pool_used : 1)) ||
        !(b->times = malloc(ntimes * TM_TIME_BUFLEN + 1))) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory while preparing --where");
        tm_where_bound_free(b);
        return NULL;
    }
    memcpy(b->pool, w->pool, w->pool_used);
#define REBASE(p) (b->pool + ((p)-w->pool))
    size_t ti = 0;
    for (size_t i = 0; i < w->n; i++) {
        const wcond *c = &w->conds[i];
        bcond *bc = &b->conds[b->n++];
        size_t k = 0;
        while (k < ncols && strcmp(cols[k].name, c->col))
            k++;
        if (k == ncols) {
            unknown_column(c, cols, ncols, err);
            goto fail;
        }
        bc->col = k;
        bc->cls = tm_type_class(cols[k].type_oid, cols[k].type_name);
        bc->op = c->op;
        bc->text_result = c->text_result;
        char colname[150];
        show_name(colname, sizeof colname, cols[k].name);
        if (c->nkeys) {
            if (bc->cls != TM_TC_JSON && bc->cls != TM_TC_JSONB) {
                tm_error_setc(
                    err, TM_ERR_FORMAT,
                    "-> and ->> apply to json and jsonb columns, but %s (character %zu of "
                    "--where) is %s",
                    colname, c->col_pos, tm_tclass_name(bc->cls));
                goto fail;
            }
            bc->jsonb = bc->cls == TM_TC_JSONB;
            bc->cls = TM_TC_TEXT;
            if (!(bc->keys = malloc(c->nkeys * sizeof *bc->keys)))
                goto oom;
            for (size_t j = 0; j < c->nkeys; j++) {
                bc->keys[j] = c->keys[j];
                if (!c->keys[j].is_index)
                    bc->keys[j].s = REBASE(c->keys[j].s);
            }
            bc->nkeys = c->nkeys;
        } else if ((bc->cls == TM_TC_JSON || bc->cls == TM_TC_JSONB) && c->nlits) {
            tm_error_setc(err, TM_ERR_FORMAT,
                          "%s (character %zu of --where) is %s, which does not compare as a "
                          "whole; compare a field with %s->>'key', or use IS [NOT] NULL",
                          colname, c->col_pos, tm_tclass_name(bc->cls), colname);
            goto fail;
        }
        if (c->nlits) {
            if (!(bc->lits = malloc(c->nlits * sizeof *bc->lits)))
                goto oom;
            for (size_t j = 0; j < c->nlits; j++) {
                wlit l = c->lits[j];
                l.s = REBASE(l.s);
                if (bind_literal(&l, bc, &bc->lits[j], b->times + ti++ * TM_TIME_BUFLEN, &cols[k],
                                 tz, err) < 0)
                    goto fail;
            }
            bc->nlits = c->nlits;
            if ((bc->op == OP_IN || bc->op == OP_NOTIN) && bc->nlits >= IN_SORT_MIN) {
                sort_arg arg = {bc->cls};
                qsort_r(bc->lits, bc->nlits, sizeof *bc->lits, lit_cmp, &arg);
                bc->sorted = true;
            }
        }
    }
#undef REBASE
    return b;
oom:
    tm_error_setc(err, TM_ERR_NOMEM, "out of memory while preparing --where");
fail:
    tm_where_bound_free(b);
    return NULL;
}

/* ---- matching --------------------------------------------------------- */

/* The value a condition compares: the column's text, or what its JSON path
 * leads to. False means SQL NULL. */
static bool operand(const bcond *c, const tm_value *v, const char **p, size_t *len, bool *jstr)
{
    *jstr = false;
    if (v->kind != 't')
        return false;
    const char *s = v->ptr, *e = v->ptr + v->len, *vs, *ve;
    for (size_t k = 0; k < c->nkeys; k++) {
        const wkey *key = &c->keys[k];
        bool found = key->is_index ? tm_json_index(s, e, key->index, c->jsonb, &vs, &ve)
                                   : tm_json_get(s, e, key->s, key->len, &vs, &ve);
        if (!found)
            return false;
        s = vs, e = ve;
    }
    if (c->nkeys && c->text_result && !tm_json_text(s, e, &s, &e, jstr))
        return false; /* JSON null reads as SQL NULL through ->> */
    *p = s;
    *len = (size_t)(e - s);
    return true;
}

static int compare(const bcond *c, const char *p, size_t len, bool jstr, const blit *l)
{
    if (jstr)
        return tm_json_strcmp(p, p + len, l->s, l->len);
    return tm_typecmp(c->cls, p, len, l->s, l->len);
}

static bool in_list(const bcond *c, const char *p, size_t len, bool jstr)
{
    if (!c->sorted) {
        for (size_t i = 0; i < c->nlits; i++)
            if (compare(c, p, len, jstr, &c->lits[i]) == 0)
                return true;
        return false;
    }
    size_t lo = 0, hi = c->nlits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = compare(c, p, len, jstr, &c->lits[mid]);
        if (r == 0)
            return true;
        if (r > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

bool tm_where_match(const tm_where_bound *b, const tm_value *values)
{
    for (size_t i = 0; i < b->n; i++) {
        const bcond *c = &b->conds[i];
        const char *p = NULL;
        size_t len = 0;
        bool jstr;
        bool present = operand(c, &values[c->col], &p, &len, &jstr);
        bool ok;
        switch (c->op) {
        case OP_ISNULL:
            ok = !present;
            break;
        case OP_NOTNULL:
            ok = present;
            break;
        case OP_IN:
            ok = present && in_list(c, p, len, jstr);
            break;
        case OP_NOTIN:
            ok = present && !in_list(c, p, len, jstr);
            break;
        default: {
            if (!present)
                return false;
            int r = compare(c, p, len, jstr, &c->lits[0]);
            ok = c->op == OP_EQ   ? r == 0
                 : c->op == OP_NE ? r != 0
                 : c->op == OP_LT ? r < 0
                 : c->op == OP_LE ? r <= 0
                 : c->op == OP_GT ? r > 0
                                  : r >= 0;
        }
        }
        if (!ok)
            return false;
    }
    return true;
}

bool tm_where_uses(const tm_where_bound *b, size_t idx)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->conds[i].col == idx)
            return true;
    return false;
}

/* ---- introspection ---------------------------------------------------- */

size_t tm_where_count(const tm_where *w)
{
    return w->n;
}

const char *tm_where_column(const tm_where *w, size_t i)
{
    return w->conds[i].col;
}

bool tm_where_pin(const tm_where *w, size_t i, size_t *nvals)
{
    const wcond *c = &w->conds[i];
    *nvals = c->nlits;
    return c->nkeys == 0 && (c->op == OP_EQ || c->op == OP_IN) && c->nlits > 0;
}

void tm_where_pin_value(const tm_where *w, size_t i, size_t j, const char **s, size_t *len)
{
    *s = w->conds[i].lits[j].s;
    *len = w->conds[i].lits[j].len;
}
