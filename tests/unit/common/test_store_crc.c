/* CRC32C: published test vectors on both implementations, incremental use,
 * and the hardware and table paths agreeing on random buffers of random
 * lengths and alignments. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/crc32c.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f, const char *name)
{
    unsigned char buf[32];
    ck_assert_msg(f(0, "", 0) == 0, "%s: empty", name);
    ck_assert_msg(f(0, "123456789", 9) == 0xE3069283u, "%s: 123456789", name);
    /* RFC 3720 (iSCSI) appendix B.4 vectors. */
    memset(buf, 0, sizeof buf);
    ck_assert_msg(f(0, buf, 32) == 0x8A9136AAu, "%s: zeros", name);
    memset(buf, 0xff, sizeof buf);
    ck_assert_msg(f(0, buf, 32) == 0x62A8AB43u, "%s: ones", name);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    ck_assert_msg(f(0, buf, 32) == 0x46DD794Eu, "%s: incrementing", name);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    ck_assert_msg(f(0, buf, 32) == 0x113FDB5Cu, "%s: decrementing", name);
}

START_TEST(vectors)
{
    check_vectors(tm_crc32c_sw, "table");
    check_vectors(tm_crc32c, "dispatch");
    if (tm_crc32c_hw_available())
        check_vectors(tm_crc32c_hw, "sse4.2");
}
END_TEST

START_TEST(incremental)
{
    const char *s = "The quick brown fox jumps over the lazy dog, twice over.";
    size_t n = strlen(s);
    uint32_t whole = tm_crc32c(0, s, n);
    for (size_t cut = 0; cut <= n; cut++) {
        ck_assert_uint_eq(tm_crc32c(tm_crc32c(0, s, cut), s + cut, n - cut), whole);
        ck_assert_uint_eq(tm_crc32c_sw(tm_crc32c_sw(0, s, cut), s + cut, n - cut), whole);
    }
}
END_TEST

START_TEST(paths_agree)
{
    if (!tm_crc32c_hw_available())
        return; /* nothing to compare on this CPU; vectors cover the table path */
    tmt_rng r = {42};
    unsigned char *buf = malloc(70000);
    for (int iter = 0; iter < 3000; iter++) {
        size_t off = tmt_below(&r, 16);
        size_t len = tmt_below(&r, 8) == 0 ? tmt_below(&r, 65000) : tmt_below(&r, 300);
        for (size_t i = 0; i < off + len; i++)
            buf[i] = (unsigned char)tmt_rand(&r);
        uint32_t seed = (uint32_t)tmt_rand(&r);
        ck_assert_msg(tm_crc32c_sw(seed, buf + off, len) == tm_crc32c_hw(seed, buf + off, len),
                      "paths disagree at offset %zu length %zu", off, len);
    }
    free(buf);
}
END_TEST

int main(void)
{
    return tm_check_main("store_crc", "core", 0, TM_TESTS(vectors, incremental, paths_agree));
}
