/* AES-256-GCM sealing: see seal.h. */
#include "store/crypt/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_BLOCK (256u << 10)
#define EVP_CHUNK (1u << 30) /* EVP takes int lengths */
#define HDR_MAX (TM_SEAL_MAGIC_LEN + 1 + TM_KEY_ID_MAX + TM_SEAL_NONCE)

/* The header for key k with a fresh random nonce; returns its length. */
static size_t make_header(const tm_key *k, unsigned char hdr[HDR_MAX], tm_error *err)
{
    size_t idlen = strlen(k->id);
    memcpy(hdr, TM_SEAL_MAGIC, TM_SEAL_MAGIC_LEN);
    hdr[TM_SEAL_MAGIC_LEN] = (unsigned char)idlen;
    memcpy(hdr + TM_SEAL_MAGIC_LEN + 1, k->id, idlen);
    unsigned char *nonce = hdr + TM_SEAL_MAGIC_LEN + 1 + idlen;
    if (RAND_bytes(nonce, TM_SEAL_NONCE) != 1) {
        tm_error_setc(err, TM_ERR_FAILED, "cannot draw a random nonce (OpenSSL RAND_bytes)");
        return 0;
    }
    return TM_SEAL_MAGIC_LEN + 1 + idlen + TM_SEAL_NONCE;
}

size_t tm_seal_overhead(const tm_key *k)
{
    return TM_SEAL_MAGIC_LEN + 1 + strlen(k->id) + TM_SEAL_NONCE + TM_SEAL_TAG;
}

bool tm_sealed(const void *p, size_t len)
{
    return len >= TM_SEAL_MAGIC_LEN && memcmp(p, TM_SEAL_MAGIC, TM_SEAL_MAGIC_LEN) == 0;
}

/* Parses the header: its length, or 0 with err. */
static size_t header_len(const unsigned char *p, size_t len, const char *what,
                         char id[TM_KEY_ID_MAX + 1], tm_error *err)
{
    size_t idlen = len > TM_SEAL_MAGIC_LEN ? p[TM_SEAL_MAGIC_LEN] : 0;
    size_t hlen = TM_SEAL_MAGIC_LEN + 1 + idlen + TM_SEAL_NONCE;
    if (!tm_sealed(p, len) || len < hlen + TM_SEAL_TAG ||
        !tm_key_id_valid((const char *)p + TM_SEAL_MAGIC_LEN + 1, idlen)) {
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "%s is damaged: its encryption header is not whole (%zu bytes in all)", what,
                      len);
        return 0;
    }
    memcpy(id, p + TM_SEAL_MAGIC_LEN + 1, idlen);
    id[idlen] = '\0';
    return hlen;
}

int tm_sealed_key_id(const void *p, size_t len, const char *what, char id[TM_KEY_ID_MAX + 1],
                     tm_error *err)
{
    return header_len(p, len, what, id, err) ? 0 : -1;
}

/* A GCM context for key k, nonce and the additional data header + name. */
static EVP_CIPHER_CTX *start(bool enc, const tm_key *k, const unsigned char *hdr, size_t hlen,
                             const char *name, tm_error *err)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl;
    const unsigned char *nonce = hdr + hlen - TM_SEAL_NONCE;
    if (!c || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, nonce, enc) != 1 ||
        EVP_CipherUpdate(c, NULL, &outl, hdr, (int)hlen) != 1 ||
        EVP_CipherUpdate(c, NULL, &outl, (const unsigned char *)name, (int)strlen(name)) != 1) {
        EVP_CIPHER_CTX_free(c);
        tm_error_setc(err, TM_ERR_FAILED, "OpenSSL cannot set up AES-256-GCM");
        return NULL;
    }
    return c;
}

/* Encrypts or decrypts [in, in+len) to out (may be in) in EVP-sized steps. */
static int crypt_run(EVP_CIPHER_CTX *c, const unsigned char *in, unsigned char *out, size_t len)
{
    while (len > 0) {
        int n = len > EVP_CHUNK ? (int)EVP_CHUNK : (int)len, outl;
        if (EVP_CipherUpdate(c, out, &outl, in, n) != 1 || outl != n)
            return -1;
        in += n;
        out += n;
        len -= (size_t)n;
    }
    return 0;
}

int tm_seal_buf(const tm_key *k, const char *name, const void *p, size_t len, tm_buf *out,
                tm_error *err)
{
    if (tm_buf_reserve(out, len + tm_seal_overhead(k), err) < 0)
        return -1;
    unsigned char *dst = out->p + out->len;
    size_t hlen = make_header(k, dst, err);
    if (!hlen)
        return -1;
    EVP_CIPHER_CTX *c = start(true, k, dst, hlen, name, err);
    if (!c)
        return -1;
    int outl, rc = 0;
    if ((len && crypt_run(c, p, dst + hlen, len) < 0) ||
        EVP_EncryptFinal_ex(c, dst + hlen + len, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TM_SEAL_TAG, dst + hlen + len) != 1) {
        tm_error_setc(err, TM_ERR_FAILED, "OpenSSL cannot encrypt %s", name);
        rc = -1;
    }
    EVP_CIPHER_CTX_free(c);
    if (rc == 0)
        out->len += hlen + len + TM_SEAL_TAG;
    return rc;
}

int tm_seal_file(const tm_key *k, const char *name, const char *path, int out_fd,
                 const char *out_what, size_t *out_len, tm_error *err)
{
    *out_len = 0;
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        tm_error_errno(err, "cannot open %s", path);
        return -1;
    }
    unsigned char hdr[HDR_MAX], tag[TM_SEAL_TAG];
    unsigned char *buf = malloc(FILE_BLOCK);
    size_t hlen = buf ? make_header(k, hdr, err) : 0;
    EVP_CIPHER_CTX *c = hlen ? start(true, k, hdr, hlen, name, err) : NULL;
    if (!buf)
        tm_error_setc(err, TM_ERR_NOMEM, "out of memory");
    int rc = c && tm_pwrite_full(out_fd, hdr, hlen, 0, out_what, err) == 0 ? 0 : -1;
    uint64_t off = hlen;
    for (;;) {
        if (rc < 0)
            break;
        ssize_t n = tm_pread_full(in, buf, FILE_BLOCK, off - hlen, path, err);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n > 0 && crypt_run(c, buf, buf, (size_t)n) < 0) {
            tm_error_setc(err, TM_ERR_FAILED, "OpenSSL cannot encrypt %s", path);
            rc = -1;
            break;
        }
        if (n > 0 && tm_pwrite_full(out_fd, buf, (size_t)n, off, out_what, err) < 0) {
            rc = -1;
            break;
        }
        off += (uint64_t)n;
        if ((size_t)n < FILE_BLOCK)
            break;
    }
    int outl;
    if (rc == 0 && (EVP_EncryptFinal_ex(c, tag, &outl) != 1 ||
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TM_SEAL_TAG, tag) != 1)) {
        tm_error_setc(err, TM_ERR_FAILED, "OpenSSL cannot encrypt %s", path);
        rc = -1;
    }
    if (rc == 0 && tm_pwrite_full(out_fd, tag, TM_SEAL_TAG, off, out_what, err) < 0)
        rc = -1;
    if (rc == 0)
        *out_len = (size_t)off + TM_SEAL_TAG;
    EVP_CIPHER_CTX_free(c);
    free(buf);
    close(in);
    return rc;
}

/* The ids kr holds, for a message: "k2, k1". */
static void list_ids(const tm_keyring *kr, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < kr->n && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ", " : "", kr->keys[i].id);
}

int tm_open_inplace(const tm_keyring *kr, const char *name, const char *what, unsigned char *p,
                    size_t *len, tm_error *err)
{
    size_t total = *len;
    *len = 0;
    char id[TM_KEY_ID_MAX + 1];
    size_t hlen = header_len(p, total, what, id, err);
    if (!hlen)
        return -1;
    const tm_key *k = tm_keyring_find(kr, id);
    if (!k) {
        char ids[512];
        list_ids(kr, ids, sizeof ids);
        tm_error_setc(err, TM_ERR_NOT_FOUND,
                      "%s is encrypted with key id \"%s\", which the key file %s does not hold "
                      "(it holds %s): add that key to it, below the current one",
                      what, id, kr->path, ids);
        return -1;
    }
    size_t n = total - hlen - TM_SEAL_TAG;
    EVP_CIPHER_CTX *c = start(false, k, p, hlen, name, err);
    if (!c)
        return -1;
    unsigned char tag[TM_SEAL_TAG];
    memcpy(tag, p + hlen + n, TM_SEAL_TAG);
    int outl;
    bool ok = crypt_run(c, p + hlen, p + hlen, n) == 0 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TM_SEAL_TAG, tag) == 1 &&
              EVP_DecryptFinal_ex(c, p + hlen + n, &outl) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        /* Nothing unauthenticated may be mistaken for the object. */
        memset(p, 0, total);
        tm_error_setc(err, TM_ERR_CORRUPT,
                      "%s does not authenticate with key \"%s\" of %s: the object was altered or "
                      "damaged, or it is not the key the object was encrypted with",
                      what, id, kr->path);
        return -1;
    }
    memmove(p, p + hlen, n);
    *len = n;
    return 0;
}
