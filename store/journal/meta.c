/* DIR/journal.meta: "key=value" lines, replaced atomically. Values escape
 * backslash, newline and carriage return as \\, \n, \r so that any name
 * PostgreSQL allows round-trips. Unknown keys are ignored (newer writers may
 * add some); a newer format_version is refused. The last line,
 * "crc32c=XXXXXXXX", is the CRC32C of every byte before it, so that a
 * flipped bit in a name or a number is damage, not another journal's
 * identity (files written before it have no such line and read as before). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/common/crc32c.h"
#include "store/common/fsutil.h"
#include "store/journal/journal.h"
#include "store/common/lsn.h"

#define META_NAME "journal.meta"
#define META_MAX (64 * 1024)
#define CRC_KEY "crc32c="
#define CRC_LINE_LEN (sizeof CRC_KEY - 1 + 8 + 1)

static int put_escaped(char *out, size_t cap, size_t *len, const char *key, const char *v,
                       size_t vmax, tm_error *err)
{
    int n = snprintf(out + *len, cap - *len, "%s=", key);
    if (n < 0 || (size_t)n >= cap - *len)
        goto full;
    *len += (size_t)n;
    if (strnlen(v, vmax) == vmax) {
        tm_error_set(err, "journal metadata field %s is not terminated", key);
        return -1;
    }
    for (; *v; v++) {
        const char *e = *v == '\\' ? "\\\\" : *v == '\n' ? "\\n" : *v == '\r' ? "\\r" : NULL;
        size_t need = e ? 2 : 1;
        if (cap - *len < need + 2)
            goto full;
        if (e) {
            memcpy(out + *len, e, 2);
        } else {
            out[*len] = *v;
        }
        *len += need;
    }
    out[(*len)++] = '\n';
    return 0;
full:
    tm_error_set(err, "journal metadata is too large");
    return -1;
}

int tm_meta_write(const char *dir, const tm_meta *m, tm_error *err)
{
    char buf[4096], lsn[TM_LSN_BUFLEN];
    size_t len = 0;
    int n = snprintf(buf, sizeof buf,
                     "# tidemark journal metadata; written atomically, do not edit\n"
                     "format_version=%d\nsystem_identifier=%" PRIu64 "\nstart_lsn=%s\n"
                     "created_at=%" PRId64 "\n",
                     m->format_version, m->system_identifier, tm_lsn_format(m->start_lsn, lsn),
                     m->created_at);
    if (n < 0 || (size_t)n >= sizeof buf) {
        tm_error_set(err, "journal metadata is too large");
        return -1;
    }
    len = (size_t)n;
    if (put_escaped(buf, sizeof buf, &len, "database", m->database, sizeof m->database, err) != 0 ||
        put_escaped(buf, sizeof buf, &len, "slot", m->slot, sizeof m->slot, err) != 0 ||
        put_escaped(buf, sizeof buf, &len, "publication", m->publication, sizeof m->publication,
                    err) != 0)
        return -1;
    if (len + CRC_LINE_LEN >= sizeof buf) {
        tm_error_set(err, "journal metadata is too large");
        return -1;
    }
    len += (size_t)snprintf(buf + len, sizeof buf - len, CRC_KEY "%08" PRIx32 "\n",
                            tm_crc32c(0, buf, len));
    if (tm_write_file_atomic(dir, META_NAME, buf, len, err) != 0) {
        tm_error_prefix(err, "cannot write the journal metadata");
        return -1;
    }
    return 0;
}

static int unescape(const char *v, char *out, size_t cap)
{
    size_t n = 0;
    for (; *v; v++) {
        char c = *v;
        if (c == '\\') {
            c = *++v;
            if (c == '\\')
                c = '\\';
            else if (c == 'n')
                c = '\n';
            else if (c == 'r')
                c = '\r';
            else
                return -1;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

static int parse_line(char *key, char *val, tm_meta *m, bool *have_version)
{
    uint64_t u;
    if (!strcmp(key, "format_version")) {
        if (parse_u64(val, &u) != 0 || u == 0 || u > INT_MAX)
            return -1;
        m->format_version = (int)u;
        *have_version = true;
    } else if (!strcmp(key, "system_identifier")) {
        return parse_u64(val, &m->system_identifier);
    } else if (!strcmp(key, "start_lsn")) {
        return tm_lsn_parse(val, &m->start_lsn);
    } else if (!strcmp(key, "created_at")) {
        if (parse_u64(val, &u) != 0 || u > INT64_MAX)
            return -1;
        m->created_at = (int64_t)u;
    } else if (!strcmp(key, "database")) {
        return unescape(val, m->database, sizeof m->database);
    } else if (!strcmp(key, "slot")) {
        return unescape(val, m->slot, sizeof m->slot);
    } else if (!strcmp(key, "publication")) {
        return unescape(val, m->publication, sizeof m->publication);
    }
    return 0; /* unknown keys: from a newer tidemark, ignored */
}

/* With a checksum line (the last one), the bytes before it must match it;
 * *len is cut to them. Without one (an older file), nothing to check. */
static int check_crc(const char *path, const char *data, size_t *len, tm_error *err)
{
    const char *end = data + *len, *line = NULL;
    for (const char *p = data; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if ((size_t)(end - p) >= sizeof CRC_KEY - 1 && !memcmp(p, CRC_KEY, sizeof CRC_KEY - 1))
            line = p;
        if (!nl)
            break;
        p = nl + 1;
    }
    /* no checksum line but its key somewhere: a line break before it lost */
    if (!line && !memmem(data, *len, CRC_KEY, sizeof CRC_KEY - 1))
        return 0;
    char want[9] = "";
    if (line)
        snprintf(want, sizeof want, "%08" PRIx32, tm_crc32c(0, data, (size_t)(line - data)));
    if (!line || (size_t)(end - line) != CRC_LINE_LEN ||
        memcmp(line + sizeof CRC_KEY - 1, want, 8) || line[CRC_LINE_LEN - 1] != '\n') {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "%s does not match its checksum; the file is damaged (restore it from a "
                      "backup)",
                      path);
        return -1;
    }
    *len = (size_t)(line - data);
    return 0;
}

/* Parses the text of path into m; -1 with err (CORRUPT or FORMAT) when it
 * is not metadata this tidemark reads. data is modified. */
static int parse_meta(const char *path, char *data, size_t len, tm_meta *m, tm_error *err)
{
    memset(m, 0, sizeof *m);
    bool have_version = false;
    int lineno = 0;
    char *save = NULL;
    if (memchr(data, '\0', len)) {
        tm_error_setc(err, TM_ERR_CORRUPT, "%s is not a text file; it may be damaged", path);
        return -1;
    }
    if (check_crc(path, data, &len, err) != 0)
        return -1;
    data[len] = '\0'; /* the lines before the checksum */
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            tm_error_setc(err, TM_ERR_CORRUPT,
                          "%s line %d is not key=value; the file may be damaged", path, lineno);
            return -1;
        }
        *eq = '\0';
        if (parse_line(line, eq + 1, m, &have_version) != 0) {
            tm_error_setc(err, TM_ERR_CORRUPT,
                          "%s line %d has a bad value for %s; the file may be damaged", path,
                          lineno, line);
            return -1;
        }
    }
    if (!have_version) {
        tm_error_setc(err, TM_ERR_CORRUPT, "%s has no format_version; the file may be damaged",
                      path);
        return -1;
    }
    if (m->format_version > TM_JOURNAL_FORMAT_VERSION) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "%s has format version %d, newer than this tidemark reads (%d): upgrade "
                      "tidemark",
                      path, m->format_version, TM_JOURNAL_FORMAT_VERSION);
        return -1;
    }
    return 0;
}

int tm_meta_read(const char *dir, tm_meta *m, tm_error *err)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, META_NAME) >= sizeof path) {
        tm_error_set(err, "journal path %s is too long", dir);
        return -1;
    }
    unsigned char *data;
    size_t len;
    if (tm_read_file(path, META_MAX, &data, &len, err) != 0) {
        if (tm_error_is(err, TM_ERR_NOT_FOUND))
            tm_error_setc(err, TM_ERR_NOT_FOUND,
                          "%s has no %s: not a tidemark journal (or not created yet)", dir,
                          META_NAME);
        tm_error_in(err, path);
        return -1;
    }
    int rc = parse_meta(path, (char *)data, len, m, err);
    if (rc != 0)
        tm_error_in(err, path);
    free(data);
    return rc;
}
