/* Sealing an object with AES-256-GCM, and opening it again.
 *
 * A sealed body is
 *   "tmcrypt1" (8 bytes) | id length (1 byte) | key id | nonce (12 bytes,
 *   random for every object) | ciphertext (as long as the plaintext) |
 *   tag (16 bytes)
 * and the tag authenticates the ciphertext, everything before it, and the
 * object's name (the additional data is the header followed by the name;
 * the name is not stored). The name is the object's name in its archive
 * (as the manifest lists it: "0000000000000001.seg", "checkpoints/...").
 * Binding the name means an object copied over another one does not open.
 *
 * Opening checks the tag before anything is returned: a flipped byte
 * anywhere, a wrong key or another name is an error naming the object
 * (what), never garbage. Random 96-bit nonces bound one key to about 2^32
 * objects; rotate keys long before that (keyring.h). */
#ifndef TM_SEAL_H
#define TM_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#include "store/common/fsutil.h"
#include "store/common/tm_error.h"
#include "store/crypt/keyring.h"

#define TM_SEAL_MAGIC "tmcrypt1"
#define TM_SEAL_MAGIC_LEN 8
#define TM_SEAL_NONCE 12
#define TM_SEAL_TAG 16

/* Bytes a sealed body has beyond its plaintext, with key k. */
size_t tm_seal_overhead(const tm_key *k);

/* Whether p starts like a sealed body. */
bool tm_sealed(const void *p, size_t len);

/* The key id in the header of the sealed body p (into id). TM_ERR_CORRUPT
 * naming what when the header is damaged or cut short. */
int tm_sealed_key_id(const void *p, size_t len, const char *what, char id[TM_KEY_ID_MAX + 1],
                     tm_error *err);

/* Appends the sealed form of [p, p+len) under key k for the object name to
 * out. */
int tm_seal_buf(const tm_key *k, const char *name, const void *p, size_t len, tm_buf *out,
                tm_error *err);

/* Writes the sealed form of the file at path under key k for the object
 * name to out_fd (from offset 0; out_what names it in errors), reading and
 * encrypting in blocks. *out_len gets its size. Not synced: the caller
 * decides. */
int tm_seal_file(const tm_key *k, const char *name, const char *path, int out_fd,
                 const char *out_what, size_t *out_len, tm_error *err);

/* Opens the sealed body [p, p + *len) of the object name in place: on
 * success p holds the plaintext and *len its length. The key is the one of
 * kr whose id the header names. On failure *len is 0 (nothing of the body
 * is to be used) and err says why, naming the object as what:
 * TM_ERR_NOT_FOUND when kr lacks the key id, TM_ERR_CORRUPT when the body
 * does not authenticate (altered, damaged, a wrong key, another name). */
int tm_open_inplace(const tm_keyring *kr, const char *name, const char *what, unsigned char *p,
                    size_t *len, tm_error *err);

#endif
