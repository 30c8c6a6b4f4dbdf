/* Timestamp parsing (store/common/tm_time_parse.c), as --at, --since and
 * --until reach it: the input is the text, or a time zone name, a NUL and
 * the text. Properties: what parses is formatted by tm_time_format into
 * text that parses again, in any zone (it carries its offset), to the same
 * instant; a text parsed in UTC and in "+00" is the same instant. */
#include <stdlib.h>
#include <string.h>

#include "store/common/tm_time.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    char *tz = nul ? tm_fuzz_cstr(data, (size_t)(nul - data)) : NULL;
    char *s =
        nul ? tm_fuzz_cstr(nul + 1, size - (size_t)(nul - data) - 1) : tm_fuzz_cstr(data, size);
    int64_t t;
    tm_error err;
    if (tm_time_parse(s, tz, &t, &err) != 0)
        TM_FUZZ_CHECK(err.msg[0] != '\0', "a refused time comes without a reason");
    if (tm_time_parse(s, NULL, &t, &err) == 0) {
        int64_t t2;
        TM_FUZZ_CHECK(tm_time_parse(s, "+00", &t2, &err) == 0 && t2 == t,
                      "'%s' differs between UTC and +00", s);
        char buf[TM_TIME_BUFLEN];
        tm_time_format(t, buf);
        int rc = tm_time_parse(buf, "America/New_York", &t2, &err);
        TM_FUZZ_CHECK(rc == 0, "'%s' parsed, but its formatted form '%s' does not: %s", s, buf,
                      err.msg);
        TM_FUZZ_CHECK(t2 == t, "'%s' is %lld, its formatted form '%s' is %lld", s, (long long)t,
                      buf, (long long)t2);
    }
    free(s);
    free(tz);
    return 0;
}
