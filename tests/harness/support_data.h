/* Test data files under tests/data: reading them, and decoding COPY text
 * format (the rows of a COPY ... FROM stdin block, tab-separated lines). */
#ifndef TM_SUPPORT_DATA_H
#define TM_SUPPORT_DATA_H

#include <stddef.h>

#include "replay/query/value.h"

/* The whole of tests/data/NAME, NUL-terminated; the caller frees it. Fails
 * the running test if the file cannot be read. */
char *tm_test_slurp(const char *name, size_t *len);

/* Decodes one COPY text field in place, as capture does (copy_text.h): \N
 * is NULL, backslash escapes are undone. The value points into f. */
void tm_test_copy_field(char *f, tm_value *v);

/* The COPY ... FROM stdin block of a data file, decoded. */
typedef struct tm_test_rows {
    char *file;  /* the file, split in place */
    char *block; /* a copy of the block's raw lines */
    size_t block_len;
    size_t nrows, ncols;
    tm_value *vals; /* nrows * ncols, row-major */
} tm_test_rows;

void tm_test_load_rows(const char *name, size_t ncols, tm_test_rows *r);
void tm_test_free_rows(tm_test_rows *r);

#endif
