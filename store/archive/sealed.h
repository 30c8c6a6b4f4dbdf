/* Encrypted archive objects (--encrypt-key-file): the archive's side of
 * store/crypt. An object sealed with AES-256-GCM carries the id of its key
 * as the metadata x-amz-meta-tm-key-id (and in its header); the manifest
 * names the key id of every sealed file too (push.h).
 *
 * Readers of an archive call tm_archive_decrypt on every body they GET
 * whole: sealed bodies are authenticated and decrypted in place, plain
 * ones (archived without a key) are left as they are. An encrypted object
 * cannot be read by ranges: its tag covers the whole of it. Check the body
 * against the manifest first (its SIZE and SHA256 are the stored object's;
 * a file with a KEYID must come back sealed with that key): the plaintext
 * is shorter by tm_seal_overhead. */
#ifndef TM_ARCHIVE_SEALED_H
#define TM_ARCHIVE_SEALED_H

#include "store/archive/s3.h"
#include "store/crypt/keyring.h"

#define TM_ARCHIVE_KEY_META "tm-key-id"

/* Opens the body of the archived object name (its name in the archive,
 * relative to the prefix, as the manifest lists it) in place. info is what
 * the GET returned (may be NULL); url names the object in errors
 * ("s3://BUCKET/PREFIX/NAME"; NULL: name). kr may be NULL (no key file):
 * then a sealed object is an error saying a key file is needed.
 *
 * Errors (body->len is then 0): the object's key id is not in kr
 * (TM_ERR_NOT_FOUND), it does not authenticate (TM_ERR_CORRUPT: altered,
 * damaged, a wrong key), its metadata names a key but the body is not
 * sealed, or the two name different keys (TM_ERR_CORRUPT). */
int tm_archive_decrypt(const tm_keyring *kr, const char *name, const char *url, tm_buf *body,
                       const tm_s3_object *info, tm_error *err);

/* Seals the local file path for the archived object name with kr's
 * current key into tmp_path (created 0600, replaced), for upload; *len
 * gets its size. The caller removes tmp_path. */
int tm_archive_seal_file(const tm_keyring *kr, const char *name, const char *path,
                         const char *tmp_path, uint64_t *len, tm_error *err);

#endif
