/* journal.meta (store/journal/meta.c), which every command reads first:
 * the input is the file. Property: metadata that reads is written back
 * (tm_meta_write) into a file that reads to the same fields. */
#include <stdio.h>
#include <string.h>

#include "store/journal/journal.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tm_fuzz_clean();
    tm_fuzz_put("journal.meta", data, size);
    tm_meta m, back;
    tm_error err;
    if (tm_meta_read(tm_fuzz_dir(), &m, &err) != 0) {
        TM_FUZZ_CHECK(err.msg[0] != '\0', "refused metadata comes without a reason");
        return 0;
    }
    TM_FUZZ_CHECK(memchr(m.database, '\0', sizeof m.database) &&
                      memchr(m.slot, '\0', sizeof m.slot) &&
                      memchr(m.publication, '\0', sizeof m.publication),
                  "a name read from journal.meta is not terminated");
    tm_fuzz_put("again/.keep", "", 0);
    char again[4200];
    snprintf(again, sizeof again, "%s/again", tm_fuzz_dir());
    TM_FUZZ_CHECK(tm_meta_write(again, &m, &err) == 0, "metadata that read does not write: %s",
                  err.msg);
    TM_FUZZ_CHECK(tm_meta_read(again, &back, &err) == 0,
                  "metadata written from what read does not read: %s", err.msg);
    TM_FUZZ_CHECK(back.format_version == m.format_version &&
                      back.system_identifier == m.system_identifier &&
                      !strcmp(back.database, m.database) && !strcmp(back.slot, m.slot) &&
                      !strcmp(back.publication, m.publication) && back.start_lsn == m.start_lsn &&
                      back.created_at == m.created_at,
                  "metadata written and read back differs");
    return 0;
}
