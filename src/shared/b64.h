/* Base64 (RFC 4648, with padding) through libsodium. */
#ifndef CR_B64_H
#define CR_B64_H

#include <stddef.h>

/* Returns a malloc'd NUL-terminated string, or NULL. */
char *cr_b64_encode(const unsigned char *in, size_t len);
/* Decodes into a malloc'd buffer (NUL-terminated for convenience) of at most
 * max bytes; returns NULL on bad input or when the result would exceed max. */
unsigned char *cr_b64_decode(const char *in, size_t inlen, size_t max, size_t *outlen);

#endif
