/* An archived journal as the readers' journal source (store/common/jsource.h):
 * `replay`, `log`, `verify` and `status` read "s3://BUCKET/PREFIX" as a
 * journal directory. The archive's MANIFEST says which files exist and
 * their sizes (never a listing); a file's bytes are fetched with ranged
 * GETs the first time a reader reads them, in blocks, with a readahead that
 * grows while reading goes on in order; small files a reader takes whole
 * (indexes, key summaries, metadata) come in one GET checked against the
 * SHA-256 the manifest records. Every object body goes through one
 * function (fetch() in source.c).
 *
 * With a cache directory the fetched blocks are kept there, named by the
 * object's SHA-256 (so a changed object is never served stale): the data
 * written and fsynced first, then the list of blocks held replaced
 * atomically. Without one they live in memory while the file is open.
 *
 * An encrypted archive (sealed.h) needs the key file: each sealed object
 * comes whole (its tag covers all of it), authenticated and decrypted,
 * and is kept in memory only, never in the cache directory. */
#ifndef TM_ARCHIVE_SOURCE_H
#define TM_ARCHIVE_SOURCE_H

#include <stdint.h>

#include "store/common/tm_error.h"

/* Opens the archive at url (s3://BUCKET/PREFIX; settings from the
 * environment, s3.h), reads its manifest and registers it as the journal
 * source, so that url reads as a journal directory. cache_dir and key_file
 * (store/crypt/keyring.h) may be NULL. TM_ERR_NOT_FOUND when there is no
 * archived journal at url. */
int tm_archive_source_open(const char *url, const char *cache_dir, const char *key_file,
                           tm_error *err);

/* For a command: when journal is an s3:// address, opens it as above
 * and says why not (the logger). Returns 0, or the exit status: 2 for a
 * usage error (no credentials, a bad address), else 1. */
int tm_archive_source_use(const char *journal, const char *cache_dir, const char *key_file);

/* What reading cost so far: GET requests, bytes received, and the bytes of
 * the archived files (for tests and --verbose). */
typedef struct tm_archive_source_stats {
    uint64_t requests, bytes, archived_bytes;
} tm_archive_source_stats;
tm_archive_source_stats tm_archive_source_get_stats(void);

/* Unregisters and frees it (logs the stats at debug level). */
void tm_archive_source_close(void);

#endif
