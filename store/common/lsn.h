/* WAL positions as PostgreSQL prints them: "X/Y" in hex, X = high 32 bits. */
#ifndef TM_LSN_H
#define TM_LSN_H

#include <stdint.h>

#define TM_LSN_BUFLEN 20

/* Parses "X/Y"; returns 0, or -1 when s is not an LSN. */
int tm_lsn_parse(const char *s, uint64_t *lsn);
/* Formats into buf (at least TM_LSN_BUFLEN bytes) and returns buf. */
char *tm_lsn_format(uint64_t lsn, char *buf);

#endif
