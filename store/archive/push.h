/* Copying a journal to object storage: what `tidemark archive` (and capture
 * --archive, which runs it as a child) does in each pass.
 *
 * A pass uploads every finished file of DIR that the archive lacks or holds
 * an older copy of: sealed segments (a segment is sealed once its index
 * exists; the live one is never copied), their indexes, key summaries,
 * row counts, checkpoints (checkpoints/NNNN.ckpt), the retention horizon
 * and journal.meta. A
 * segment goes up before its index. Each upload is checked by the server
 * (x-amz-content-sha256) and then by a HEAD (size and SHA-256 as written);
 * only then does it count as archived. Last, the pass writes the manifest,
 * PREFIX/MANIFEST, which names every archived file with its size and
 * SHA-256: a reader trusts the manifest, never a listing, so a file whose
 * upload was cut short is not part of the archive.
 *
 * DIR/archive.state (replaced atomically after every file) remembers what
 * is archived (name, size, mtime, SHA-256), what is still to do (the archive
 * lag: files and bytes, the live segment included), when the last pass
 * succeeded and the last error. `tidemark status` shows it.
 *
 *   state:    "tidemark-archive-state 1" / "url URL" / "pass USEC" /
 *             "success USEC" / "pending FILES BYTES" / "error TEXT" /
 *             "file NAME SIZE MTIME_NS SHA256 [KEYID OBJ_SIZE OBJ_SHA256]" ...
 *   manifest: "tidemark-archive 1" / "source SYSID DATABASE" / "updated USEC" /
 *             "range MIN_TIME MAX_TIME LAST_LSN" (of the archived segments'
 *             commits, from their indexes) / "file NAME SIZE SHA256 [KEYID]" ...
 *
 * With a key file (--encrypt-key-file, store/crypt/keyring.h) every file
 * goes up sealed with the current key (sealed.h): the manifest's SIZE and
 * SHA256 are then those of the stored object and KEYID names its key; the
 * state keeps both the local file's (to notice changes) and the object's.
 * Files archived before without encryption go up again sealed; files
 * sealed with an older key stay as they are (readable while the key file
 * holds that key). A pass without a key file refuses an archive that holds
 * sealed objects, so that nothing goes up unencrypted by mistake. */
#ifndef TM_ARCHIVE_PUSH_H
#define TM_ARCHIVE_PUSH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "store/archive/s3.h"
#include "store/crypt/keyring.h"

#define TM_ARCHIVE_STATE "archive.state"
#define TM_ARCHIVE_MANIFEST "MANIFEST"

typedef struct tm_archive_file {
    char name[128]; /* relative to DIR: "0000000000000001.seg", "checkpoints/...ckpt" */
    uint64_t size;
    int64_t mtime_ns; /* of the local file when it was archived (0: not known) */
    char sha256[65];
    char key_id[TM_KEY_ID_MAX + 1]; /* the key the object is sealed with, "" when plain */
    uint64_t obj_size;              /* of the stored object (the sealed one, or the file) */
    char obj_sha256[65];
} tm_archive_file;

typedef struct tm_archive_state {
    char url[1024];
    int64_t pass_us, success_us; /* last pass started / last pass that finished (0: never) */
    uint64_t pending_files, pending_bytes;
    char error[1024];           /* the last pass's error, "" when it succeeded */
    int64_t min_time, max_time; /* manifest: commit times of the archived segments (0: none) */
    uint64_t last_lsn;          /* manifest: the last archived commit */
    tm_archive_file *files;
    size_t n_files, cap_files;
} tm_archive_state;

/* Reads DIR/archive.state: 1 when there is one, 0 when not (st empty), -1 on error. */
int tm_archive_state_read(const char *dir, tm_archive_state *st, tm_error *err);
void tm_archive_state_free(tm_archive_state *st);

/* What a pass did. */
typedef struct tm_archive_pass_result {
    uint64_t uploaded_files, uploaded_bytes;
    uint64_t pending_files, pending_bytes; /* after the pass */
} tm_archive_pass_result;

/* One pass over journal dir into the archive at url (s3://BUCKET/PREFIX)
 * through s3, sealing with kr's current key (NULL: no encryption). Returns
 * 0, or -1 with err (the state records the error and the lag; what was
 * archived before it stays archived). */
int tm_archive_pass(tm_s3 *s3, const char *dir, const char *url, const tm_keyring *kr,
                    tm_archive_pass_result *res, tm_error *err);

/* Reads the manifest of the archive at prefix into st->files (url and the
 * pass fields stay empty): 1, 0 when there is no manifest, -1 on error. */
int tm_archive_manifest_read(tm_s3 *s3, const char *prefix, tm_archive_state *st, uint64_t *sysid,
                             char *database, size_t dblen, tm_error *err);

/* The sources archived under prefix (a fleet: one prefix per source, or
 * prefix itself when it holds a manifest), a line each on out: prefix,
 * system identifier and database, files and bytes, the commit time range,
 * and when the manifest was last written. Returns how many, or -1. */
long tm_archive_fleet(tm_s3 *s3, const char *prefix, FILE *out, tm_error *err);

/* Reads every file the manifest names back and checks its size and SHA-256,
 * and with kr (may be NULL) authenticates and decrypts every sealed one; a
 * line per file on out (may be NULL). Returns the number of damaged,
 * missing or unreadable objects, or -1 with err when the manifest cannot
 * be read. */
long tm_archive_check(tm_s3 *s3, const char *prefix, const tm_keyring *kr, FILE *out,
                      tm_error *err);

#endif
