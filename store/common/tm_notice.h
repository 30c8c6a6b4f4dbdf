/* Notices: what a library layer has to say that is not an error (a setting
 * it changed, a warning about what will be missing, a step done). Library
 * layers never print: they hand each notice, one line of text without a
 * newline, to the caller's tm_notice, and the command decides where it
 * goes (stderr today, a logger tomorrow). A NULL tm_notice, or one without
 * fn, drops notices. */
#ifndef TM_NOTICE_H
#define TM_NOTICE_H

typedef struct tm_notice {
    void (*fn)(void *ctx, const char *line);
    void *ctx;
} tm_notice;

/* Formats one notice and hands it to n (nothing when n or n->fn is NULL). */
void tm_notice_say(const tm_notice *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
