/* The key file: see keyring.h. */
#include "store/crypt/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/common/hex.h"

#define KEYFILE_MAX (64u << 10)

void tm_keyring_free(tm_keyring *kr)
{
    if (!kr)
        return;
    OPENSSL_cleanse(kr, sizeof *kr);
    free(kr);
}

int tm_key_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > TM_KEY_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

const tm_key *tm_keyring_find(const tm_keyring *kr, const char *id)
{
    for (size_t i = 0; kr && i < kr->n; i++)
        if (strcmp(kr->keys[i].id, id) == 0)
            return &kr->keys[i];
    return NULL;
}

const tm_key *tm_keyring_current(const tm_keyring *kr)
{
    return kr && kr->n ? &kr->keys[0] : NULL;
}

/* One "KEYID HEX64" line (whitespace around it already trimmed). */
static int parse_line(tm_keyring *kr, const char *s, size_t len, int lineno, tm_error *err)
{
    size_t idlen = 0;
    while (idlen < len && s[idlen] != ' ' && s[idlen] != '\t')
        idlen++;
    size_t h = idlen;
    while (h < len && (s[h] == ' ' || s[h] == '\t'))
        h++;
    const char *why = NULL;
    if (!tm_key_id_valid(s, idlen))
        why = "the key id must be 1-32 characters of A-Z a-z 0-9 . _ -";
    else if (len - h != 2 * TM_KEY_BYTES)
        why = "the key must be 64 hex digits (32 bytes: openssl rand -hex 32)";
    else if (kr->n == TM_KEYRING_MAX)
        why = "too many keys (at most 64)";
    tm_key *k = &kr->keys[kr->n];
    for (size_t i = 0; !why && i < TM_KEY_BYTES; i++) {
        int a = tm_hex_value(s[h + 2 * i]), b = tm_hex_value(s[h + 2 * i + 1]);
        if (a < 0 || b < 0)
            why = "the key must be 64 hex digits (32 bytes: openssl rand -hex 32)";
        else
            k->key[i] = (unsigned char)(a << 4 | b);
    }
    if (!why) {
        memcpy(k->id, s, idlen);
        k->id[idlen] = '\0';
        if (tm_keyring_find(kr, k->id))
            why = "this key id is given twice";
    }
    if (why) {
        OPENSSL_cleanse(k, sizeof *k);
        tm_error_setc(err, TM_ERR_FORMAT, "key file %s, line %d: %s (lines are \"KEYID HEX64\")",
                      kr->path, lineno, why);
        return -1;
    }
    kr->n++;
    return 0;
}

static int parse(tm_keyring *kr, const char *text, size_t len, tm_error *err)
{
    int lineno = 0;
    for (size_t at = 0; at < len;) {
        size_t end = at;
        while (end < len && text[end] != '\n')
            end++;
        lineno++;
        size_t a = at, b = end;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r'))
            a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
            b--;
        if (a < b && text[a] != '#' && parse_line(kr, text + a, b - a, lineno, err) < 0)
            return -1;
        at = end + 1;
    }
    if (kr->n == 0) {
        tm_error_setc(err, TM_ERR_FORMAT,
                      "key file %s holds no key (lines are \"KEYID HEX64\", the current key first)",
                      kr->path);
        return -1;
    }
    return 0;
}

int tm_keyring_load(const char *path, tm_keyring **out, tm_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tm_error_errno(err, "cannot open the key file %s", path);
        return -1;
    }
    /* The mode of what was opened, not of a name that may change meanwhile. */
    struct stat st;
    if (fstat(fd, &st) < 0) {
        tm_error_errno(err, "cannot stat the key file %s", path);
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        tm_error_setc(err, TM_ERR_USAGE, "the key file %s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        tm_error_setc(err, TM_ERR_USAGE,
                      "permissions %04o for the key file %s are too open: it must be readable "
                      "by its owner only (chmod 600 %s)",
                      (unsigned)(st.st_mode & 07777), path, path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > KEYFILE_MAX) {
        tm_error_setc(err, TM_ERR_FORMAT, "the key file %s is larger than 64 kB", path);
        close(fd);
        return -1;
    }
    char *text = malloc(KEYFILE_MAX);
    tm_keyring *kr = calloc(1, sizeof *kr);
    if (!text || !kr) {
        free(text);
        free(kr);
        close(fd);
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
        return -1;
    }
    snprintf(kr->path, sizeof kr->path, "%s", path);
    size_t len = 0;
    int rc = 0;
    while (len < KEYFILE_MAX) {
        ssize_t n = read(fd, text + len, KEYFILE_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            tm_error_errno(err, "cannot read the key file %s", path);
            rc = -1;
        }
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (rc == 0)
        rc = parse(kr, text, len, err);
    OPENSSL_cleanse(text, KEYFILE_MAX);
    free(text);
    if (rc < 0) {
        tm_keyring_free(kr);
        return -1;
    }
    *out = kr;
    return 0;
}
