/* scripts/check-layers.sh: clean on this tree; on a copy of it with an
 * include against the layers (capture reaching into replay, log into
 * undo, common up into the journal) or a folder it does not know, it fails
 * and names each offending file and line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"
#include "tests/harness/tm_run.h"

#define SCRIPT TM_SOURCE_DIR "/scripts/check-layers.sh"

static void run_script(tm_run_result *r, const char *root)
{
    const char *argv[] = {SCRIPT, root, NULL};
    tm_runv(argv, NULL, r);
}

START_TEST(this_tree_is_clean)
{
    tm_run_result r;
    run_script(&r, TM_SOURCE_DIR);
    tm_assert_exit(&r, 0);
    ck_assert_ptr_nonnull(strstr(r.out, ", 0 violations"));
    tm_run_result_free(&r);
}
END_TEST

static void append(const char *root, const char *file, const char *text)
{
    char *path = tmt_path(root, file);
    FILE *f = fopen(path, "a");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fputs(text, f);
    fclose(f);
    free(path);
}

START_TEST(violations_are_named)
{
    char *root = tmt_tempdir();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp -r '%s/store' '%s/capture' '%s/replay' '%s'/", TM_SOURCE_DIR,
             TM_SOURCE_DIR, TM_SOURCE_DIR, root);
    ck_assert_int_eq(system(cmd), 0);
    append(root, "capture/decode/txbuf.h", "#include \"replay/engine/state.h\"\n");
    append(root, "replay/log/log_tx.c", "#include \"replay/undo/undo_sql.h\"\n");
    append(root, "store/common/lsn.c", "#include \"store/journal/journal.h\"\n");
    char *dir = tmt_path(root, "replay/newroom");
    snprintf(cmd, sizeof cmd, "mkdir '%s' && touch '%s/x.c'", dir, dir);
    ck_assert_int_eq(system(cmd), 0);

    tm_run_result r;
    run_script(&r, root);
    tm_assert_exit(&r, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "capture/decode/txbuf.h:"));
    ck_assert_ptr_nonnull(strstr(r.out, "includes \"replay/engine/state.h\""));
    ck_assert_ptr_nonnull(strstr(r.out, "replay/log/log_tx.c:"));
    ck_assert_ptr_nonnull(strstr(r.out, "store/common/lsn.c:"));
    ck_assert_ptr_nonnull(strstr(r.out, "folder replay/newroom is not a known layer"));
    ck_assert_ptr_nonnull(strstr(r.out, ", 4 violations"));
    tm_run_result_free(&r);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
    free(root);
}
END_TEST

int main(void)
{
    return tm_check_main("layers", "core", 60, TM_TESTS(this_tree_is_clean, violations_are_named));
}
