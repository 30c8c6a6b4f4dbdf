/* Notices handed from library layers to their caller (see tm_notice.h). */
#include "store/common/tm_notice.h"

#include <stdarg.h>
#include <stdio.h>

void tm_notice_say(const tm_notice *n, const char *fmt, ...)
{
    if (!n || !n->fn)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    n->fn(n->ctx, line);
}
