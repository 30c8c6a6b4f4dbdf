#include "store/journal/copy_text.h"

#include "store/common/hex.h"

int tm_copy_text_split(char *line, size_t len, tm_value *vals, size_t n)
{
    size_t i = 0, f = 0;
    for (;;) {
        if (f == n)
            return -1;
        if (i + 2 <= len && line[i] == '\\' && line[i + 1] == 'N' &&
            (i + 2 == len || line[i + 2] == '\t')) {
            vals[f++] = (tm_value){NULL, 0, TM_KIND_NULL};
            i += 2;
        } else {
            char *out = line + i, *w = out;
            while (i < len && line[i] != '\t') {
                char c = line[i++];
                if (c == '\\' && i < len) {
                    c = line[i++];
                    switch (c) {
                    case 'b':
                        c = '\b';
                        break;
                    case 'f':
                        c = '\f';
                        break;
                    case 'n':
                        c = '\n';
                        break;
                    case 'r':
                        c = '\r';
                        break;
                    case 't':
                        c = '\t';
                        break;
                    case 'v':
                        c = '\v';
                        break;
                    case 'x': {
                        int v = 0, d, k = 0;
                        while (k < 2 && i < len && (d = tm_hex_value(line[i])) >= 0) {
                            v = v * 16 + d;
                            i++;
                            k++;
                        }
                        if (k)
                            c = (char)v;
                        break;
                    }
                    default:
                        if (c >= '0' && c <= '7') {
                            int v = c - '0', k = 1;
                            while (k < 3 && i < len && line[i] >= '0' && line[i] <= '7') {
                                v = v * 8 + (line[i++] - '0');
                                k++;
                            }
                            c = (char)v;
                        }
                        break;
                    }
                }
                *w++ = c;
            }
            vals[f++] = (tm_value){out, (uint32_t)(w - out), TM_KIND_TEXT};
        }
        if (i == len)
            break;
        i++; /* the tab */
    }
    return f == n ? 0 : -1;
}
