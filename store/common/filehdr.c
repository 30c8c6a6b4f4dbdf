#include "store/common/filehdr.h"

#include <stdio.h>
#include <string.h>

#include "store/common/crc32c.h"
#include "store/common/le.h"

void tm_filehdr_start(unsigned char *out, const tm_filehdr_kind *k)
{
    memcpy(out, k->magic, 4);
    tm_put16(out + 4, k->version);
    tm_put16(out + 6, k->size);
}

void tm_filehdr_seal(unsigned char *out, const tm_filehdr_kind *k)
{
    tm_put32(out + k->size - 8, 0);
    tm_put32(out + k->size - 4, tm_crc32c(0, out, k->size - 4u));
}

bool tm_filehdr_check(const unsigned char *in, const tm_filehdr_kind *k, char *why, size_t whylen)
{
    if (memcmp(in, k->magic, 4) != 0) {
        snprintf(why, whylen, "%s", k->says.bad_magic);
        return false;
    }
    if (tm_get32(in + k->size - 4) != tm_crc32c(0, in, k->size - 4u)) {
        snprintf(why, whylen, "%s", k->says.bad_crc);
        return false;
    }
    if (tm_get16(in + 4) != k->version || tm_get16(in + 6) != k->size) {
        snprintf(why, whylen, "%s format version %u is not supported (this tidemark reads %u)",
                 k->says.whose, tm_get16(in + 4), k->version);
        return false;
    }
    return true;
}
