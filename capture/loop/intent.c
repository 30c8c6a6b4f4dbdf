/* Intent records: see intent.h. */
#include "capture/loop/intent.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/common/fsutil.h"
#include "store/common/lsn.h"

int tm_intent_save(const char *dir, const tm_intent_kind *k, const tm_intent *r, tm_error *err)
{
    char text[512], lsn[TM_LSN_BUFLEN];
    int n = snprintf(text, sizeof text, "%s\nslot %s\nsystem %" PRIu64 "\n", k->magic, r->slot,
                     r->system_identifier);
    if (n >= 0 && (size_t)n < sizeof text && r->lsn)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s %s\n", k->lsn_key,
                      tm_lsn_format(r->lsn, lsn));
    if (n < 0 || (size_t)n >= sizeof text) {
        tm_error_set(err, "slot name \"%s\" is too long", r->slot);
        return -1;
    }
    return tm_write_file_atomic(dir, k->file, text, (size_t)n, err);
}

/* Reads one "key value" line into r; false when unknown or bad. */
static bool take_line(char *line, const tm_intent_kind *k, tm_intent *r)
{
    char *sp = strchr(line, ' ');
    if (!sp)
        return false;
    *sp++ = '\0';
    if (!strcmp(line, "slot") && strlen(sp) < sizeof r->slot)
        return snprintf(r->slot, sizeof r->slot, "%s", sp) >= 0;
    if (!strcmp(line, "system"))
        return sscanf(sp, "%" SCNu64, &r->system_identifier) == 1;
    if (!strcmp(line, k->lsn_key))
        return tm_lsn_parse(sp, &r->lsn) == 0;
    return false;
}

int tm_intent_load(const char *dir, const tm_intent_kind *k, tm_intent *r, tm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, k->file);
    unsigned char *data;
    size_t len;
    if (tm_read_file(path, 4096, &data, &len, err) != 0)
        return tm_error_is(err, TM_ERR_NOT_FOUND) ? 0 : -1;
    memset(r, 0, sizeof *r);
    char *text = (char *)data, *save = NULL;
    bool ok = len > 0 && text[len - 1] == '\n';
    text[len ? len - 1 : 0] = '\0';
    char *line = strtok_r(text, "\n", &save);
    ok = ok && line && !strcmp(line, k->magic);
    while (ok && (line = strtok_r(NULL, "\n", &save)) != NULL)
        ok = take_line(line, k, r);
    free(data);
    if (!ok || !r->slot[0] || !r->system_identifier) {
        tm_error_setc(err, TM_ERR_CORRUPT, "%s does not parse; it records %s: %s", path, k->records,
                      k->advice);
        tm_error_in(err, path);
        return -1;
    }
    return 1;
}

int tm_intent_remove(const char *dir, const tm_intent_kind *k, tm_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, k->file);
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return 0;
        tm_error_errno(err, "cannot remove %s", path);
        return -1;
    }
    return tm_fsync_dir(dir, err);
}
