/* Encrypted archive objects: see sealed.h. */
#include "store/archive/sealed.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "store/crypt/seal.h"

int tm_archive_decrypt(const tm_keyring *kr, const char *name, const char *url, tm_buf *body,
                       const tm_s3_object *info, tm_error *err)
{
    const char *what = url ? url : name;
    const char *meta_id = info ? tm_s3_object_meta(info, TM_ARCHIVE_KEY_META) : "";
    bool sealed = body->p && tm_sealed(body->p, body->len);
    if (!sealed && !meta_id[0])
        return 0; /* archived without encryption */
    if (!sealed) {
        body->len = 0;
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "%s is damaged: its metadata says it is encrypted with key id \"%s\", but "
                      "it is not an encrypted object",
                      what, meta_id);
        return -1;
    }
    char id[TM_KEY_ID_MAX + 1];
    if (tm_sealed_key_id(body->p, body->len, what, id, err) < 0) {
        body->len = 0;
        return -1;
    }
    if (meta_id[0] && strcmp(meta_id, id) != 0) {
        body->len = 0;
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "%s is damaged: its metadata names key id \"%s\", its header \"%s\"", what,
                      meta_id, id);
        return -1;
    }
    if (!kr) {
        body->len = 0;
        tm_error_setc(err, TM_ERR_USAGE,
                      "%s is encrypted (key id \"%s\"): give the key file with --encrypt-key-file",
                      what, id);
        return -1;
    }
    return tm_open_inplace(kr, name, what, body->p, &body->len, err);
}

int tm_archive_seal_file(const tm_keyring *kr, const char *name, const char *path,
                         const char *tmp_path, uint64_t *len, tm_error *err)
{
    *len = 0;
    int fd = open(tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        tm_error_errno(err, "cannot create %s", tmp_path);
        return -1;
    }
    size_t n = 0;
    int rc = tm_seal_file(tm_keyring_current(kr), name, path, fd, tmp_path, &n, err);
    if (close(fd) < 0 && rc == 0) {
        tm_error_errno(err, "cannot write %s", tmp_path);
        rc = -1;
    }
    *len = n;
    return rc;
}
