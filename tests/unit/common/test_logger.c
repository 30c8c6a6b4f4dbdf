/* The logger (store/common/log.h): the prefix with and without a command,
 * WARNING on warnings, levels, inert messages, progress lines. */
#include <check.h>
#include <stdlib.h>

#include "store/common/log.h"
#include "tests/harness/support_store.h"
#include "tests/harness/tm_check.h"

static tmt_capture cap;

static void expect(const char *want)
{
    char *got = tmt_stderr_end(&cap);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(shapes)
{
    tmt_stderr_begin(&cap);
    tm_log_error("cannot open %s", "x");
    tm_log_set_command("replay");
    tm_log_error("cannot open %s", "x");
    tm_log_warning("%d rows", 3);
    tm_log_info("state as of %s", "T");
    tm_log_debug("not shown at the default level");
    expect("tidemark: cannot open x\n"
           "tidemark replay: cannot open x\n"
           "tidemark replay: WARNING: 3 rows\n"
           "tidemark replay: state as of T\n");
    tm_log_set_command(NULL);
}
END_TEST

START_TEST(levels)
{
    tm_log_set_command("capture");
    tmt_stderr_begin(&cap);
    tm_log_set_level(TM_LOG_DEBUG);
    tm_log_debug("d");
    tm_log_set_level(TM_LOG_WARNING);
    tm_log_info("i");
    tm_log_warning("w");
    tm_log_set_level(TM_LOG_ERROR);
    tm_log_warning("w2");
    tm_log_error("e");
    expect("tidemark capture: d\ntidemark capture: WARNING: w\ntidemark capture: e\n");
    ck_assert(tm_log_enabled(TM_LOG_ERROR) && !tm_log_enabled(TM_LOG_WARNING));
    tm_log_set_level(TM_LOG_INFO);
    tm_log_set_command(NULL);
}
END_TEST

START_TEST(inert)
{
    tmt_stderr_begin(&cap);
    tm_log_error("table %s is not in the journal", "evil\x1b[2J\nname");
    expect("tidemark: table evil\\x1b[2J\\nname is not in the journal\n");
}
END_TEST

START_TEST(progress)
{
    tmt_stderr_begin(&cap);
    tm_log_progress(false, false, "%d read", 1);
    tm_log_progress(true, false, "%d read", 2);
    tm_log_warning("between");
    tm_log_progress(true, false, "%d read", 3);
    tm_log_progress(true, true, "%d read", 4);
    expect("tidemark: 1 read\n"
           "\rtidemark: 2 read   \ntidemark: WARNING: between\n"
           "\rtidemark: 3 read   \rtidemark: 4 read\n\n");
}
END_TEST

int main(void)
{
    return tm_check_main("logger", "core", 0, TM_TESTS(shapes, levels, inert, progress));
}
