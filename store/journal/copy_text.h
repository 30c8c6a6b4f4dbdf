/* Reading COPY text format (what COPY ... TO STDOUT writes without
 * options): fields separated by tabs, \N for NULL, backslash escapes. */
#ifndef TM_COPY_TEXT_H
#define TM_COPY_TEXT_H

#include <stddef.h>

#include "store/journal/tuple.h"

/* Splits one data line (without its newline) into n values, decoding the
 * escapes in place; the values point into line. Returns 0, or -1 when the
 * line does not hold exactly n fields. */
int tm_copy_text_split(char *line, size_t len, tm_value *vals, size_t n);

#endif
