/* What the fuzz targets share (README.md): a private scratch directory for
 * the readers that take a path, splitting one input into parts, sealing
 * checksums so that mutated bytes get past them, and a property check that
 * fails the run like a crash does. */
#ifndef TM_FUZZ_H
#define TM_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every target defines this (libFuzzer's entry point); the plain driver of
 * the gcc builds calls it for each file it is given. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold: otherwise the input and what failed are
 * printed and the process aborts, which libFuzzer keeps as a crash. */
#define TM_FUZZ_CHECK(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tm_fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                  \
    } while (0)
void tm_fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* The scratch directory of this process, in $TM_FUZZ_TMPDIR, else on
 * tmpfs when /dev/shm is writable (so that the fsyncs of the code under
 * test cost nothing), else in $TMPDIR or /tmp; emptied by tm_fuzz_clean and
 * removed at exit. */
const char *tm_fuzz_dir(void);
void tm_fuzz_clean(void);
/* Writes DIR/name (creating DIR/subdir first when name has one) with
 * data; returns the path (static storage, valid until the next call). */
const char *tm_fuzz_put(const char *name, const void *data, size_t len);

/* For targets whose input is a flags byte and a file image: defines the
 * entry point, which skips an empty input and otherwise calls fn with the
 * flags and a heap copy of the rest (len bytes, freed when fn returns; fn
 * may change it, e.g. seal it). */
typedef void tm_fuzz_image_fn(uint8_t *img, size_t len, unsigned flags);
int tm_fuzz_run_flagged(const uint8_t *data, size_t size, tm_fuzz_image_fn *fn);
#define TM_FUZZ_FLAGGED_TARGET(fn)                                                                 \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                   \
    {                                                                                              \
        return tm_fuzz_run_flagged(data, size, fn);                                                \
    }

/* A NUL-terminated heap copy of data[0..len) (the caller frees it). */
char *tm_fuzz_cstr(const uint8_t *data, size_t len);

/* Consumes the next part of an input cut into parts by a big-endian u16
 * length before each: *part, *len, and true; false at the end. A length
 * running past the end takes what is left. */
bool tm_fuzz_next_part(const uint8_t **data, size_t *size, const uint8_t **part, size_t *len);

/* Seals a file image whose last 4 bytes are the CRC32C (little-endian) of
 * the bytes before them, as key summaries and row counts are. */
void tm_fuzz_seal_tail_crc(uint8_t *data, size_t len);
/* Empties the scratch directory and writes DIR/name with img, sealed
 * first by tm_fuzz_seal_tail_crc when seal_tail; returns the path as
 * tm_fuzz_put does. */
const char *tm_fuzz_put_file(const char *name, uint8_t *img, size_t len, bool seal_tail);
/* Seals the journal frames that start at off in data[0..len): each header
 * gets the CRC32C of its payload (as much of it as there is) and then its
 * own; it stops at the first place without a frame magic. Returns where
 * it stopped. */
size_t tm_fuzz_seal_frames(uint8_t *data, size_t len, size_t off);

#endif
