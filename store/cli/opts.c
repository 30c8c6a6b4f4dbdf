/* The argv parser of every command, built from its tm_command (opts.h). */
#include "store/cli/opts.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/cli/cli.h"
#include "store/common/log.h"
#include "store/common/lsn.h"

/* getopt_long's value for the long form of option i. */
#define LONG_BASE 256

enum { VAL_HELP = 'h', VAL_VERSION = 'V' };

static int fail(tm_cli *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(tm_cli *p, const char *fmt, ...)
{
    char what[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    p->status = tm_usage_error(p->cmd->name, "%s", what);
    return TM_CLI_EXIT;
}

static int done(tm_cli *p, int status)
{
    p->status = status;
    return TM_CLI_EXIT;
}

void tm_cli_begin(tm_cli *p, const tm_command *cmd, int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    tm_log_set_command(cmd->name);
    tm_log_set_level(TM_LOG_INFO);
    char *s = p->shortopts;
    *s++ = ':'; /* a missing value is ':', not '?' */
    *s++ = VAL_HELP;
    *s++ = VAL_VERSION;
    int k = 0;
    for (const tm_option *o = cmd->options; o->name; o++, k++) {
        if (k == TM_CLI_MAX_OPTIONS)
            abort(); /* raise TM_CLI_MAX_OPTIONS */
        bool has_value = o->kind != TM_OPT_FLAG;
        p->longopts[k] = (struct option){o->name, has_value ? required_argument : no_argument, NULL,
                                         LONG_BASE + k};
        if (o->letter) {
            *s++ = o->letter;
            if (has_value)
                *s++ = ':';
        }
    }
    *s = '\0';
    p->longopts[k++] = (struct option){"help", no_argument, NULL, VAL_HELP};
    p->longopts[k++] = (struct option){"version", no_argument, NULL, VAL_VERSION};
    p->longopts[k] = (struct option){0};
    optind = 0; /* a fresh scan, also when a process parses twice */
    opterr = 0;
}

int tm_cli_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The option whose getopt value is val, or -1. */
static int option_index(const tm_cli *p, int val)
{
    if (val >= LONG_BASE)
        return val - LONG_BASE;
    for (int i = 0; val > 0 && p->cmd->options[i].name; i++)
        if (p->cmd->options[i].letter == val)
            return i;
    return -1;
}

static void join_choices(const char *const *c, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; c[i] && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s",
                                i == 0     ? ""
                                : c[i + 1] ? ", "
                                           : " or ",
                                c[i]);
}

static int parse_choice(tm_cli *p, const tm_option *o)
{
    for (int i = 0; o->choices[i]; i++)
        if (!strcmp(o->choices[i], p->arg)) {
            p->choice = i;
            return 0;
        }
    char list[256];
    join_choices(o->choices, list, sizeof list);
    return fail(p, "--%s must be %s, not '%s'", o->name, list, p->arg);
}

/* Parses p->arg as o's kind of value. */
static int parse_value(tm_cli *p, const tm_option *o)
{
    switch (o->kind) {
    case TM_OPT_UINT:
        if (tm_cli_uint(p->arg, o->min, o->max, &p->num) == 0)
            return 0;
        if (o->expect)
            return fail(p, "--%s %s, not '%s'", o->name, o->expect, p->arg);
        return fail(p, "--%s needs a whole number from %llu to %llu, not '%s'", o->name,
                    (unsigned long long)o->min, (unsigned long long)o->max, p->arg);
    case TM_OPT_LSN:
        if (tm_lsn_parse(p->arg, &p->num) == 0)
            return 0;
        return fail(p, "--%s %s, not '%s'", o->name,
                    o->expect ? o->expect : "needs an LSN such as 0/16B3748", p->arg);
    case TM_OPT_CHOICE:
        return parse_choice(p, o);
    default:
        return 0;
    }
}

/* --quiet and --verbose set the logger's level; not both. */
static int set_level(tm_cli *p, const tm_option *o)
{
    unsigned other = o->flags & TM_OPT_QUIET ? TM_OPT_VERBOSE : TM_OPT_QUIET;
    for (int i = 0; p->cmd->options[i].name; i++)
        if (p->seen[i] && (p->cmd->options[i].flags & other))
            return fail(p, "--%s and --%s do not go together", p->cmd->options[i].name, o->name);
    tm_log_set_level(o->flags & TM_OPT_QUIET ? TM_LOG_WARNING : TM_LOG_DEBUG);
    return 0;
}

/* What getopt_long did not take ('?'): an unknown option, or a value given
 * to one that takes none (--quiet=yes). */
static int bad_option(tm_cli *p)
{
    const char *typed = p->argv[optind - 1];
    int len = (int)strcspn(typed, "=");
    bool long_form = !strncmp(typed, "--", 2);
    if (long_form && typed[len] == '=' &&
        (optopt >= LONG_BASE || optopt == VAL_HELP || optopt == VAL_VERSION))
        return fail(p, "%.*s takes no value", len, typed);
    if (optopt > 0 && optopt < LONG_BASE)
        return fail(p, "unknown option '-%c'", optopt);
    return fail(p, "unknown option '%.*s'", len, typed);
}

/* After the last option: nothing left over, nothing required missing. */
static int finish(tm_cli *p)
{
    if (optind < p->argc)
        return fail(p, "unexpected argument '%s'", p->argv[optind]);
    for (int i = 0; p->cmd->options[i].name; i++) {
        const tm_option *o = &p->cmd->options[i];
        if ((o->flags & TM_OPT_REQUIRED) && !p->seen[i])
            return fail(p, "--%s%s%s is required", o->name, o->value ? " " : "",
                        o->value ? o->value : "");
    }
    return 0;
}

int tm_cli_next(tm_cli *p)
{
    p->opt = NULL;
    p->arg = NULL;
    p->num = 0;
    p->choice = 0;
    int c = getopt_long(p->argc, p->argv, p->shortopts, p->longopts, NULL);
    if (c == -1)
        return finish(p);
    if (c == VAL_HELP) {
        tm_cli_help(p->cmd, stdout);
        return done(p, 0);
    }
    if (c == VAL_VERSION) {
        printf("tidemark %s\n", TIDEMARK_VERSION);
        return done(p, 0);
    }
    if (c == ':') {
        int i = option_index(p, optopt);
        if (i < 0)
            return fail(p, "%s needs a value", p->argv[optind - 1]);
        return fail(p, "--%s needs a value", p->cmd->options[i].name);
    }
    int i = c == '?' ? -1 : option_index(p, c);
    if (i < 0)
        return bad_option(p);
    const tm_option *o = &p->cmd->options[i];
    p->opt = o;
    p->arg = optarg;
    p->seen[i] = 1;
    if (parse_value(p, o) != 0)
        return TM_CLI_EXIT;
    if ((o->flags & (TM_OPT_QUIET | TM_OPT_VERBOSE)) && set_level(p, o) != 0)
        return TM_CLI_EXIT;
    return o->id;
}

int tm_cli_parse(const tm_command *cmd, int argc, char **argv, tm_cli_take_fn take,
                 tm_cli_check_fn check, void *ctx, int *status)
{
    tm_cli p;
    tm_cli_begin(&p, cmd, argc, argv);
    int id;
    *status = 0;
    while ((id = tm_cli_next(&p)) > 0)
        if ((*status = take(ctx, &p, id)) != 0)
            return -1;
    if (id == TM_CLI_EXIT) {
        *status = p.status;
        return -1;
    }
    if (check)
        *status = check(ctx);
    return *status ? -1 : 0;
}
