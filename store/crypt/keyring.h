/* The key file of --encrypt-key-file: the keys that seal and open archived
 * objects (seal.h).
 *
 * Format: one key a line, "KEYID HEX64": an id of 1-32 characters
 * [A-Za-z0-9._-] and 64 hex digits (32 random bytes, AES-256). Blank lines
 * and lines starting with '#' are ignored. The first key is the current
 * one: new objects are sealed with it. The others are old keys, kept so
 * that objects sealed with them stay readable by their id (rotation: put a
 * new key first, keep the old ones below it). Make a key with
 *   echo "k2 $(openssl rand -hex 32)"
 *
 * Like ssh with a private key, a key file that group or others may read
 * (or write) is refused: chmod 600. Errors name the file and the line,
 * never a key. */
#ifndef TM_KEYRING_H
#define TM_KEYRING_H

#include <stddef.h>

#include "store/common/tm_error.h"

#define TM_KEY_ID_MAX 32
#define TM_KEY_BYTES 32
#define TM_KEYRING_MAX 64

typedef struct tm_key {
    char id[TM_KEY_ID_MAX + 1];
    unsigned char key[TM_KEY_BYTES];
} tm_key;

typedef struct tm_keyring {
    char path[512]; /* the key file, for messages */
    tm_key keys[TM_KEYRING_MAX];
    size_t n; /* keys[0] is the current key */
} tm_keyring;

/* Reads the key file at path into a new keyring (*out). TM_ERR_USAGE for a
 * file that is too open, TM_ERR_FORMAT for one that does not parse (no key,
 * a bad line, an id twice), TM_ERR_NOT_FOUND / TM_ERR_IO when it cannot be
 * read. */
int tm_keyring_load(const char *path, tm_keyring **out, tm_error *err);
/* Wipes the keys and frees kr (NULL is fine). */
void tm_keyring_free(tm_keyring *kr);

/* The key with that id, or NULL. */
const tm_key *tm_keyring_find(const tm_keyring *kr, const char *id);
/* The key new objects are sealed with. */
const tm_key *tm_keyring_current(const tm_keyring *kr);
/* Whether s is a well-formed key id. */
int tm_key_id_valid(const char *s, size_t len);

#endif
