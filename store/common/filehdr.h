/* The frame shared by tidemark's fixed-size file headers (segments and
 * checkpoints), little-endian:
 *   0 magic (4 bytes), 4 u16 format version, 6 u16 header size,
 *   8 .. size-9: the file's own fields,
 *   size-8 u32 reserved (0), size-4 u32 CRC32C of the bytes before it.
 * Each kind of file says how it names itself in messages. */
#ifndef TM_FILEHDR_H
#define TM_FILEHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a failed check says, in the words of the file's other messages. */
typedef struct tm_filehdr_says {
    const char *bad_magic; /* the magic differs */
    const char *bad_crc;   /* the checksum does not match */
    const char *whose;     /* "<whose> format version N is not supported" */
} tm_filehdr_says;

typedef struct tm_filehdr_kind {
    const char *magic; /* 4 bytes */
    uint16_t version, size;
    tm_filehdr_says says;
} tm_filehdr_kind;

/* Writes magic, version and size into out[0..8). */
void tm_filehdr_start(unsigned char *out, const tm_filehdr_kind *k);
/* Writes the reserved word and the checksum: the header is complete. */
void tm_filehdr_seal(unsigned char *out, const tm_filehdr_kind *k);
/* Whether in[0..k->size) is a sound header of this kind (magic, checksum,
 * version and size); otherwise false with the reason in why. */
bool tm_filehdr_check(const unsigned char *in, const tm_filehdr_kind *k, char *why, size_t whylen);

#endif
