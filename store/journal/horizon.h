/* The retention horizon, DIR/horizon: after `tidemark prune` (or capture's
 * --retention) the journal starts at a checkpoint instead of its base
 * snapshot. The file names that checkpoint (its commit LSN and the latest
 * commit time it holds) and the first segment kept; segments numbered
 * below it are gone or going, and every reader acts as if they were gone.
 * Replay at a time before the horizon, and log from before it, refuse and
 * name it.
 *
 * On disk (little-endian), 40 bytes, replaced atomically (temp file, fsync,
 * rename, fsync dir): 0 magic "TMHZ", 4 u16 version (1), 6 u16 0, 8 u64
 * LSN, 16 i64 time (us since the Unix epoch), 24 u64 first segment kept,
 * 32 u32 0, 36 u32 CRC32C of bytes 0..35. */
#ifndef TM_HORIZON_H
#define TM_HORIZON_H

#include <stdbool.h>
#include <stdint.h>

#include "store/common/tm_error.h"
#include "store/journal/verify.h"

#define TM_HORIZON_FILE "horizon"
/* The local horizon, DIR/local.horizon (same format): where the local copy
 * of an archived journal starts after capture's --local-retention removed
 * older files whose archived copies were checked. The archive keeps that
 * history (it is not archived itself). Local readers start at the later of
 * the two horizons. */
#define TM_LOCAL_HORIZON_FILE "local.horizon"

typedef struct tm_horizon {
    uint64_t lsn;           /* the checkpoint's commit LSN: the journal holds what follows */
    int64_t time;           /* its latest commit time: the oldest recoverable time */
    uint64_t first_segment; /* the first segment kept */
} tm_horizon;

/* 1 with *h when DIR has a horizon, 0 when it has none (the journal starts
 * at its base snapshot), -1 with err (TM_ERR_CORRUPT, the file as context,
 * when it is damaged). With a local horizon too, the later of the two. */
int tm_horizon_read(const char *dir, tm_horizon *h, tm_error *err);
/* The same of one file: TM_HORIZON_FILE or TM_LOCAL_HORIZON_FILE. */
int tm_horizon_read_file(const char *dir, const char *name, tm_horizon *h, tm_error *err);

/* Replaces DIR/horizon with h, durably. */
int tm_horizon_write(const char *dir, const tm_horizon *h, tm_error *err);
/* The same of DIR/name. */
int tm_horizon_write_file(const char *dir, const char *name, const tm_horizon *h, tm_error *err);

/* 0 when a point (an LSN when by_lsn, else a time) lies at or after the
 * horizon h of journal dir; else -1 with err naming the horizon (the
 * oldest recoverable time and LSN). */
int tm_horizon_refuse(const char *dir, const tm_horizon *h, bool by_lsn, uint64_t lsn, int64_t time,
                      tm_error *err);

/* tidemark verify's check of DIR/horizon. -1 with err only when out of
 * memory. */
int tm_horizon_verify(const char *path, tm_vresult *res, tm_error *err);

#endif
