/* The help texts, generated from the commands' descriptions (opts.h):
 * tidemark C --help and tidemark help C print the same. */
#include <stdbool.h>
#include <string.h>

#include "store/cli/opts.h"

#define WIDTH 79
#define OPTION_COLUMN_MAX 30 /* an option longer than this has its help below */

static bool is_operator(const char *p, size_t n)
{
    return n > 0 && strspn(p, "<>=!") >= n;
}

/* The length of the word at p. With group, spaces inside [...] and (...)
 * do not end it (a synopsis keeps "[--tz ZONE]" on one line). An operator
 * stays with the word after it ("<= LSN"). */
static size_t word_len(const char *p, bool group)
{
    int depth = 0;
    size_t n = 0;
    for (; p[n] && p[n] != '\n' && (p[n] != ' ' || depth > 0); n++)
        if (group)
            depth += (p[n] == '[' || p[n] == '(') - (p[n] == ']' || p[n] == ')');
    if (is_operator(p, n) && p[n] == ' ' && p[n + 1] && !strchr(" \n", p[n + 1]))
        return n + 1 + word_len(p + n + 1, group);
    return n;
}

/* Prints text from column col (what is before it is printed already),
 * wrapped at WIDTH, lines after the first indented by indent; '\n' ends a
 * line and "\n\n" leaves an empty one. Ends the last line. */
static void wrap(FILE *f, const char *p, int col, int indent, bool group)
{
    bool fresh = true; /* no word on this line yet */
    while (*p) {
        if (*p == '\n') {
            fputc('\n', f);
            col = 0;
            fresh = true;
            p++;
            continue;
        }
        if (*p == ' ') {
            p++;
            continue;
        }
        int n = (int)word_len(p, group);
        if (!fresh && col + 1 + n > WIDTH) {
            fputc('\n', f);
            col = 0;
            fresh = true;
        }
        if (fresh && col < indent) {
            fprintf(f, "%*s", indent - col, "");
            col = indent;
        } else if (!fresh) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, (size_t)n, f);
        col += n;
        p += n;
        fresh = false;
    }
    fputc('\n', f);
}

/* "  -j, --journal DIR" or "      --journal DIR" into buf. */
static int option_left(const char *name, char letter, const char *value, char *buf, size_t len)
{
    char shortform[8] = "    ";
    if (letter)
        snprintf(shortform, sizeof shortform, "-%c, ", letter);
    return snprintf(buf, len, "  %s--%s%s%s", shortform, name, value ? " " : "",
                    value ? value : "");
}

static void option_line(FILE *f, const char *name, char letter, const char *value, const char *help,
                        int column)
{
    char left[128];
    int n = option_left(name, letter, value, left, sizeof left);
    fputs(left, f);
    if (n + 2 > column) {
        fputc('\n', f);
        n = 0;
    }
    wrap(f, help, n, column, false);
}

static void options(const tm_command *c, FILE *f)
{
    char left[128];
    int column = 0;
    for (const tm_option *o = c->options; o->name; o++) {
        int n = option_left(o->name, o->letter, o->value, left, sizeof left);
        if (n <= OPTION_COLUMN_MAX && n > column)
            column = n;
    }
    column += 2;
    fputs("Options:\n", f);
    for (const tm_option *o = c->options; o->name; o++)
        option_line(f, o->name, o->letter, o->value, o->help, column);
    option_line(f, "help", 'h', NULL, "show this help", column);
    option_line(f, "version", 'V', NULL, "show the version", column);
}

static void exit_codes(const tm_exit_code *e, FILE *f)
{
    fputs("Exit status:\n", f);
    for (; e->meaning; e++) {
        fprintf(f, "  %d  ", e->code);
        wrap(f, e->meaning, 5, 5, false);
    }
}

void tm_cli_help(const tm_command *c, FILE *f)
{
    int col = fprintf(f, "Usage: tidemark %s ", c->name);
    wrap(f, c->synopsis, col, col, true);
    fputc('\n', f);
    wrap(f, c->description, 0, 0, false);
    fputc('\n', f);
    options(c, f);
    if (c->notes) {
        fputc('\n', f);
        wrap(f, c->notes, 0, 0, false);
    }
    fputc('\n', f);
    exit_codes(c->exits, f);
}

void tm_cli_help_all(const tm_command *const *cmds, size_t n, FILE *f)
{
    fprintf(f,
            "tidemark %s: point-in-time history of chosen PostgreSQL tables\n\n"
            "Usage: tidemark COMMAND [OPTIONS]\n\nCommands:\n",
            TIDEMARK_VERSION);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-10s  %s\n", cmds[i]->name, cmds[i]->summary);
    fputs("\nRun 'tidemark COMMAND --help' (or 'tidemark help COMMAND') for its options.\n\n"
          "Options:\n"
          "  -h, --help      show this help\n"
          "  -V, --version   show the version\n\n"
          "Exit status: 0 success, 1 failure, 2 usage error; each command's help says what\n"
          "they mean for it.\n",
          f);
}
