/* The first run's intent record, DIR/init.pending: written (fsynced)
 * before the first run creates its slot, naming the slot and the source
 * system, and again with the slot's consistent point once it exists;
 * removed once journal.meta is written. A rerun that finds it knows that
 * a slot it made may be left on the server (tm_capture_init_resume). */
#ifndef TM_FIRSTRUN_H
#define TM_FIRSTRUN_H

#include <stdbool.h>
#include <stdint.h>

#include "capture/loop/intent.h"
#include "store/common/tm_error.h"

#define TM_FIRSTRUN_FILE "init.pending"

/* lsn: the slot's consistent point, 0 before it was created. */
typedef tm_intent tm_firstrun;

/* Replaces the record (temporary file, fsync, rename, fsync of DIR). */
int tm_firstrun_save(const char *dir, const tm_firstrun *f, tm_error *err);
/* 1 with *f when DIR holds a record, 0 when not, -1 with err. */
int tm_firstrun_load(const char *dir, tm_firstrun *f, tm_error *err);
/* Removes the record and fsyncs DIR (no record is fine). */
int tm_firstrun_forget(const char *dir, tm_error *err);

/* Removes what a first run made in DIR (segments, indexes, spools, the
 * mark, and the lock unless keep_lock), never the record, and DIR itself
 * when rmdir_too and it is empty then. */
void tm_firstrun_discard(const char *dir, bool keep_lock, bool rmdir_too);

#endif
