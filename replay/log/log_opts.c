#include "replay/log/log_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/tm_time.h"

void log_usage(void *out)
{
    fputs("usage: tidemark log --journal DIR [--table SCHEMA.NAME ...] [--where EXPR]\n"
          "                    [--from TS] [--to TS] [--xid N ...] [--column NAME ...]\n"
          "                    [--transactions [--top N]] [--all-messages]\n"
          "                    [--format text|jsonl] [--tz ZONE] [--stats]\n"
          "\n"
          "Lists the changes in the journal in commit order: commit time, xid, commit LSN,\n"
          "table, operation, the row's key, and what changed (updates: only the changed\n"
          "columns, old -> new, and for json/jsonb the changed paths). Context that the\n"
          "application attached with pg_logical_emit_message(true, 'tidemark', '{...}')\n"
          "(see scripts/context.sql) is shown with each change of its transaction.\n"
          "\n"
          "  --journal DIR         the journal to read\n"
          "  --table SCHEMA.NAME   only changes of this table (repeatable; NAME alone is\n"
          "                        public.NAME; quote \"Mixed Case\" names)\n"
          "  --where EXPR          only rows whose old or new image matches, e.g.\n"
          "                        \"user_id = 42 AND key = 'theme'\" (same language as\n"
          "                        replay: = != < <= > >=, IN (...), IS [NOT] NULL, col->>'k')\n"
          "  --from TS, --to TS    only transactions committed in [TS, TS] (timestamptz\n"
          "                        forms, e.g. '2026-05-01 14:03:12+02'; without an offset\n"
          "                        in --tz, default UTC)\n"
          "  --xid N               only transaction N (repeatable)\n"
          "  --column NAME         only changes that touched this column (repeatable)\n"
          "  --transactions        one line per transaction: time, xid, rows per table and\n"
          "                        operation, context; MASS CHANGE marks transactions that\n"
          "                        capture flagged (--warn-rows)\n"
          "  --top N               with --transactions: the N largest, largest first\n"
          "  --all-messages        also logical messages with other prefixes (those outside\n"
          "                        transactions at their position)\n"
          "  --format text|jsonl   text (default) or one JSON object per line\n"
          "  --tz ZONE             time zone for timestamps without an offset and for\n"
          "                        printed times (IANA name, e.g. Europe/Paris; default UTC)\n"
          "  --stats               print what was read (frames read and skipped) on stderr\n"
          "\n"
          "Lookups by key (--where on key columns), table or xid read only the frames\n"
          "that hold them, using per-segment key summaries (DIR/*.keys) that log builds\n"
          "the first time it reads a segment.\n"
          "\n"
          "Exit status: 0 success (also when nothing matched), 2 usage or runtime error.\n",
          (FILE *)out);
}

char *log_parse_column(const char *s, tm_error *err)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (s[0] == '"') {
        size_t k = 0, i = 1;
        for (;; i++) {
            if (s[i] == '\0') {
                tm_error_set(err, "unterminated quoted column name in --column %s", s);
                free(out);
                return NULL;
            }
            if (s[i] == '"') {
                if (s[i + 1] != '"')
                    break;
                i++;
            }
            out[k++] = s[i];
        }
        out[k] = '\0';
        if (s[i + 1] != '\0' || k == 0) {
            tm_error_set(err, "--column %s: expected one name (quote it whole: \"Name\")", s);
            free(out);
            return NULL;
        }
        return out;
    }
    if (n == 0) {
        tm_error_set(err, "--column needs a column name");
        free(out);
        return NULL;
    }
    for (size_t i = 0; i <= n; i++) /* PostgreSQL folds plain names to lower case */
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    return out;
}

static int add_ptr(void **arr, size_t *n, size_t size, const void *item, tm_error *err)
{
    void *v = realloc(*arr, (*n + 1) * size);
    if (!v) {
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    *arr = v;
    memcpy((char *)v + *n * size, item, size);
    (*n)++;
    return 0;
}

static int parse_u64(const char *flag, const char *s, uint64_t max, uint64_t *out, tm_error *err)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+') {
        tm_error_set(err, "%s: '%s' is not a number", flag, s);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v > max) {
        tm_error_set(err, "%s: '%s' is not a number between 0 and %llu", flag, s,
                     (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int log_opts_parse(int argc, char **argv, log_opts *o, tm_error *err)
{
    memset(o, 0, sizeof *o);
    static const struct option longopts[] = {
        {"journal", required_argument, NULL, 'j'},
        {"table", required_argument, NULL, 't'},
        {"where", required_argument, NULL, 'w'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 'T'},
        {"xid", required_argument, NULL, 'x'},
        {"column", required_argument, NULL, 'c'},
        {"transactions", no_argument, NULL, 'X'},
        {"top", required_argument, NULL, 'n'},
        {"all-messages", no_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'F'},
        {"tz", required_argument, NULL, 'z'},
        {"stats", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *from = NULL, *to = NULL;
    bool top_given = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o->journal = optarg;
            break;
        case 't': {
            tm_qualname q;
            if (tm_qualname_parse(optarg, &q, err) != 0) {
                tm_error_prefix(err, "--table");
                return -1;
            }
            if (add_ptr((void **)&o->tables, &o->ntables, sizeof q, &q, err) != 0)
                return -1;
            break;
        }
        case 'w':
            if (o->where) {
                tm_error_set(err, "--where given twice: join the conditions with AND");
                return -1;
            }
            o->where = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 'T':
            to = optarg;
            break;
        case 'x': {
            uint64_t v;
            if (parse_u64("--xid", optarg, UINT32_MAX, &v, err) != 0)
                return -1;
            uint32_t x = (uint32_t)v;
            if (add_ptr((void **)&o->xids, &o->nxids, sizeof x, &x, err) != 0)
                return -1;
            break;
        }
        case 'c': {
            char *name = log_parse_column(optarg, err);
            if (!name)
                return -1;
            if (add_ptr((void **)&o->columns, &o->ncolumns, sizeof name, &name, err) != 0) {
                free(name);
                return -1;
            }
            break;
        }
        case 'X':
            o->transactions = true;
            break;
        case 'n': {
            uint64_t v;
            if (parse_u64("--top", optarg, 1000000000, &v, err) != 0)
                return -1;
            if (v == 0) {
                tm_error_set(err, "--top needs a number of transactions above 0");
                return -1;
            }
            o->top = (size_t)v;
            top_given = true;
            break;
        }
        case 'a':
            o->all_messages = true;
            break;
        case 'F':
            if (!strcmp(optarg, "text")) {
                o->format = LOG_TEXT;
            } else if (!strcmp(optarg, "jsonl")) {
                o->format = LOG_JSONL;
            } else {
                tm_error_set(err, "--format: unknown format '%s' (use text or jsonl)", optarg);
                return -1;
            }
            break;
        case 'z':
            o->tz = optarg;
            break;
        case 's':
            o->stats = true;
            break;
        case 'h':
            log_usage(stdout);
            return 1;
        case ':':
            tm_error_set(err, "%s needs a value", argv[optind - 1]);
            return -1;
        default:
            tm_error_set(err, "unknown option %s", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        tm_error_set(err, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!o->journal) {
        tm_error_set(err, "--journal DIR is required");
        return -1;
    }
    if (top_given && !o->transactions) {
        tm_error_set(err, "--top goes with --transactions");
        return -1;
    }
    if (o->tz && *o->tz) {
        /* Check the zone now, so that a typo is not silent when no time
         * needs it. */
        int64_t t;
        if (tm_time_parse("2000-01-01 00:00", o->tz, &t, err) != 0) {
            tm_error_prefix(err, "--tz");
            return -1;
        }
    }
    if (from && tm_time_parse(from, o->tz, &o->from, err) != 0) {
        tm_error_prefix(err, "--from");
        return -1;
    }
    if (to && tm_time_parse(to, o->tz, &o->to, err) != 0) {
        tm_error_prefix(err, "--to");
        return -1;
    }
    o->has_from = from != NULL;
    o->has_to = to != NULL;
    if (o->has_from && o->has_to && o->from > o->to) {
        tm_error_set(err, "--from is later than --to");
        return -1;
    }
    return 0;
}

void log_opts_free(log_opts *o)
{
    for (size_t i = 0; i < o->ncolumns; i++)
        free(o->columns[i]);
    free(o->columns);
    free(o->tables);
    free(o->xids);
    memset(o, 0, sizeof *o);
}
