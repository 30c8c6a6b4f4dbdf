/* Hexadecimal digits, read and written: uuids, COPY's \x escapes, JSON's
 * \uXXXX, LSNs and test fixtures. Inline, since the uuid paths of sorting
 * and key summaries call them once per character. */
#ifndef TM_HEX_H
#define TM_HEX_H

/* The value of the hex digit c (either case), or -1 when c is not one. */
static inline int tm_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The lower-case hex digit of v & 15. */
static inline char tm_hex_digit(unsigned v)
{
    return "0123456789abcdef"[v & 15];
}

#endif
