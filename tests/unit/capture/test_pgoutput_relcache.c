/* Relation cache: stores copies of Relation messages, reports changes of
 * name, namespace, identity and columns, keeps the caller's version on an
 * identical re-announcement, and frees everything (ASan leak check). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode/relcache.h"
#include "tests/harness/tm_check.h"

static tm_relcache *rc;
static tm_error err;

static void setup(void)
{
    ck_assert_int_eq(tm_relcache_create(&rc, &err), 0);
}

static void teardown(void)
{
    tm_relcache_destroy(rc);
}

/* A Relation message whose strings live in scratch buffers that the test
 * overwrites afterwards, as the network buffer would be. */
typedef struct relmsg {
    char nsp[32], name[32], colnames[3][16];
    tm_pgo_relcol cols[3];
    tm_pgo_relation r;
} relmsg;

static void make(relmsg *m, uint32_t oid)
{
    memset(m, 0, sizeof *m);
    strcpy(m->nsp, "public");
    strcpy(m->name, "prefs");
    static const char *names[] = {"id", "email", "settings"};
    static const uint32_t types[] = {23, 1043, 3802};
    for (int i = 0; i < 3; i++) {
        strcpy(m->colnames[i], names[i]);
        m->cols[i] = (tm_pgo_relcol){m->colnames[i], types[i], i == 1 ? 44 : -1, i == 0};
    }
    m->r = (tm_pgo_relation){oid, m->nsp, m->name, 'd', 3, m->cols};
}

static bool put(relmsg *m, tm_rel **out)
{
    bool changed;
    ck_assert_int_eq(tm_relcache_put(rc, &m->r, out, &changed, &err), 0);
    return changed;
}

START_TEST(copies_and_reports_changes)
{
    relmsg m;
    tm_rel *r;
    make(&m, 16384);
    ck_assert_ptr_null(tm_relcache_get(rc, 16384));
    ck_assert(put(&m, &r));
    ck_assert_uint_eq(r->version, 0);
    r->version = 7;
    /* the cache holds copies: scribble over the message */
    memset(m.nsp, 'X', sizeof m.nsp - 1);
    memset(m.colnames, 'Y', sizeof m.colnames);
    r = tm_relcache_get(rc, 16384);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->nspname, "public");
    ck_assert_str_eq(r->relname, "prefs");
    ck_assert_int_eq(r->replident, 'd');
    ck_assert_uint_eq(r->ncols, 3);
    ck_assert_str_eq(r->cols[0].name, "id");
    ck_assert_uint_eq(r->cols[0].flags, TM_PGO_COL_KEY);
    ck_assert_str_eq(r->cols[1].name, "email");
    ck_assert_int_eq(r->cols[1].typmod, 44);
    ck_assert_str_eq(r->cols[2].name, "settings");
    ck_assert_uint_eq(r->cols[2].type_oid, 3802);

    /* identical again (a new walsender re-sends it): unchanged, version kept */
    make(&m, 16384);
    tm_rel *same;
    ck_assert(!put(&m, &same));
    ck_assert_ptr_eq(same, r);
    ck_assert_uint_eq(same->version, 7);
    ck_assert_uint_eq(tm_relcache_count(rc), 1);
}
END_TEST

/* Each kind of difference counts as a change and resets the version. */
START_TEST(each_difference_is_a_change)
{
    relmsg m;
    tm_rel *r;
    for (int kind = 0; kind < 9; kind++) {
        make(&m, 16384);
        put(&m, &r);
        r->version = 3;
        switch (kind) {
        case 0:
            strcpy(m.nsp, "other");
            break;
        case 1:
            strcpy(m.name, "prefs2");
            break;
        case 2:
            m.r.replident = 'f';
            break;
        case 3:
            m.r.ncols = 2;
            break; /* DROP COLUMN */
        case 4:
            strcpy(m.colnames[2], "conf");
            break; /* RENAME COLUMN */
        case 5:
            m.cols[2].type_oid = 25;
            break; /* ALTER TYPE */
        case 6:
            m.cols[1].typmod = 104;
            break; /* varchar(40) -> varchar(100) */
        case 7:
            m.cols[1].flags = 1;
            break; /* key changed */
        case 8:
            strcpy(m.colnames[0], "idx");
            break;
        }
        ck_assert_msg(put(&m, &r), "difference %d not reported", kind);
        ck_assert_uint_eq(r->version, 0);
        ck_assert_uint_eq(tm_relcache_get(rc, 16384)->ncols, kind == 3 ? 2 : 3);
        /* and back to the original: a change again */
        make(&m, 16384);
        ck_assert(put(&m, &r));
    }
    /* ADD COLUMN: a wider relation */
    tm_pgo_relcol cols[4];
    make(&m, 16384);
    memcpy(cols, m.cols, sizeof m.cols);
    cols[3] = (tm_pgo_relcol){"extra", 23, -1, 0};
    m.r.cols = cols;
    m.r.ncols = 4;
    ck_assert(put(&m, &r));
    ck_assert_str_eq(r->cols[3].name, "extra");
    ck_assert_uint_eq(tm_relcache_count(rc), 1);
}
END_TEST

START_TEST(many_relations)
{
    relmsg m;
    tm_rel *r;
    for (uint32_t oid = 1; oid <= 2000; oid++) {
        make(&m, oid);
        snprintf(m.name, sizeof m.name, "t%u", oid);
        ck_assert(put(&m, &r));
        r->version = oid * 10;
    }
    ck_assert_uint_eq(tm_relcache_count(rc), 2000);
    for (uint32_t oid = 1; oid <= 2000; oid++) {
        r = tm_relcache_get(rc, oid);
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->oid, oid);
        ck_assert_uint_eq(r->version, oid * 10);
        char want[32];
        snprintf(want, sizeof want, "t%u", oid);
        ck_assert_str_eq(r->relname, want);
    }
    ck_assert_ptr_null(tm_relcache_get(rc, 2001));
    ck_assert_ptr_null(tm_relcache_get(rc, 0));
    tm_relcache_destroy(NULL); /* allowed */
}
END_TEST

START_TEST(zero_columns)
{
    relmsg m;
    tm_rel *r;
    make(&m, 5);
    m.r.ncols = 0;
    m.r.cols = NULL;
    ck_assert(put(&m, &r));
    ck_assert_uint_eq(r->ncols, 0);
    ck_assert(!put(&m, &r));
}
END_TEST

int main(void)
{
    return tm_check_main_fixture("relcache", "core", 0,
                                 TM_TESTS(copies_and_reports_changes, each_difference_is_a_change,
                                          many_relations, zero_columns),
                                 setup, teardown);
}
