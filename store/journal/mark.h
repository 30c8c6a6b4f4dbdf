/* The durable confirmed mark, DIR/confirmed.mark: how far the journal is
 * durable and protected, and the position confirmed to the server. Capture
 * writes it after an fsync of the segments and before it confirms anything
 * to the server, so that confirmed <= mark <= fsynced data always holds.
 * At open, only what lies above the mark may be cut (the server sends it
 * again); damage at or below it is corruption.
 *
 * On disk: two slots of TM_MARK_SLOT_SIZE bytes at offsets 0 and 512 (in
 * different sectors), written alternately (sequence number parity) with
 * pwrite + fdatasync, so that a torn write of one slot leaves the other.
 * The valid slot with the highest sequence number is the mark. Each slot,
 * little-endian:
 *   0 magic "TMCM", 4 u16 version (1), 6 u16 flags (1: adopted),
 *   8 u64 sequence, 16 u64 segment, 24 u64 offset (end of the last durable
 *   frame in that segment), 32 u64 confirmed LSN, 40 i64 time written (us
 *   since the Unix epoch), 48 u32 reserved (0), 52 u32 CRC32C of 0..51. */
#ifndef TM_MARK_H
#define TM_MARK_H

#include "store/journal/journal.h"

#define TM_MARK_FILE "confirmed.mark"
#define TM_MARK_SLOT_SIZE 56
#define TM_MARK_SLOT_STRIDE 512
#define TM_MARK_FILE_SIZE (2 * TM_MARK_SLOT_STRIDE)

void tm_mark_encode(const tm_mark *m, unsigned char out[TM_MARK_SLOT_SIZE]);
bool tm_mark_decode(const unsigned char in[TM_MARK_SLOT_SIZE], tm_mark *m);

/* Creates DIR/confirmed.mark holding m (written to a temporary file,
 * fsynced, renamed, directory fsynced) and returns it open for
 * tm_mark_store in *fd. */
int tm_mark_create(const char *dir, const tm_mark *m, int *fd, tm_error *err);
/* Opens an existing mark file for tm_mark_store. */
int tm_mark_open(const char *dir, int *fd, tm_error *err);
/* Writes m into the slot its sequence number selects, then fdatasync. */
int tm_mark_store(int fd, const char *dir, const tm_mark *m, tm_error *err);

#endif
