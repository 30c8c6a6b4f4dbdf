/* Replay's row allocator: blocks of the asked size or more (16-byte
 * classes), no two live blocks overlapping, freed blocks reused by their
 * class, large blocks from malloc, and everything released at once. Under
 * ASan a freed block is poisoned (a use after free is caught). */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay/engine/rowalloc.h"
#include "tests/harness/tm_check.h"

#define N 20000

/* Whether all n bytes at b are c. One assertion per block, not per byte:
 * each Check assertion reports its location to the runner, which made
 * this test take minutes under ASan. */
static bool holds(const unsigned char *b, uint32_t n, int c)
{
    for (uint32_t k = 0; k < n; k++)
        if (b[k] != c)
            return false;
    return true;
}

START_TEST(blocks_do_not_overlap)
{
    tm_rowalloc a = {0};
    static unsigned char *p[N];
    static uint32_t cap[N], size[N];
    srand(7);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            if (p[i] && rand() % 2) {
                tm_rowalloc_put(&a, p[i], cap[i]);
                p[i] = NULL;
            }
            if (!p[i]) {
                size[i] = 1 + (uint32_t)(rand() % (rand() % 50 ? 300 : 3000));
                p[i] = tm_rowalloc_get(&a, size[i], &cap[i]);
                ck_assert_ptr_nonnull(p[i]);
                ck_assert_uint_ge(cap[i], size[i]);
                if (size[i] <= TM_ROWALLOC_MAX) {
                    ck_assert_uint_eq(cap[i] % 16, 0);
                    ck_assert_uint_lt(cap[i] - size[i], 16);
                    ck_assert_uint_eq((uintptr_t)p[i] % 16, 0);
                }
                memset(p[i], i & 0xff, size[i]);
            }
        }
        /* every live block still holds its own pattern: none overlaps another */
        for (int i = 0; i < N; i++)
            ck_assert_msg(holds(p[i], size[i], i & 0xff), "block %d overwritten", i);
    }
    for (int i = 0; i < N; i++)
        if (p[i] && cap[i] > TM_ROWALLOC_MAX)
            tm_rowalloc_put(&a, p[i], cap[i]);
    tm_rowalloc_release(&a);
    ck_assert_ptr_null(a.slabs);
}
END_TEST

START_TEST(freed_blocks_are_reused_by_class)
{
    tm_rowalloc a = {0};
    uint32_t c1, c2, c3;
    void *x = tm_rowalloc_get(&a, 100, &c1);
    void *y = tm_rowalloc_get(&a, 40, &c2);
    ck_assert_uint_eq(c1, 112);
    ck_assert_uint_eq(c2, 48);
    tm_rowalloc_put(&a, x, c1);
    ck_assert_ptr_eq(tm_rowalloc_get(&a, 97, &c3), x); /* same class */
    tm_rowalloc_put(&a, y, c2);
    ck_assert_ptr_ne(tm_rowalloc_get(&a, 100, &c3), y); /* another class */
    void *big = tm_rowalloc_get(&a, TM_ROWALLOC_MAX + 1, &c3);
    ck_assert_uint_eq(c3, TM_ROWALLOC_MAX + 1);
    tm_rowalloc_put(&a, big, c3);
    tm_rowalloc_release(&a);
}
END_TEST

int main(void)
{
    return tm_check_main("rowalloc", "core", 0,
                         TM_TESTS(blocks_do_not_overlap, freed_blocks_are_reused_by_class));
}
