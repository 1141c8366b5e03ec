#include "config.h"
#include "b64.h"

#include <sodium.h>
#include <stdlib.h>

char *cr_b64_encode(const unsigned char *in, size_t len)
{
	const int variant = sodium_base64_VARIANT_ORIGINAL;
	size_t outlen = sodium_base64_ENCODED_LEN(len, variant);
	char *out = malloc(outlen);

	if (out == NULL)
		return NULL;
	return sodium_bin2base64(out, outlen, in, len, variant);
}

unsigned char *cr_b64_decode(const char *in, size_t inlen, size_t max, size_t *outlen)
{
	/* 3 bytes per 4 characters, checked before allocating. */
	size_t cap = inlen / 4 * 3 + 3;
	unsigned char *out;
	const char *end = NULL;

	if (inlen / 4 * 3 > max + 2)
		return NULL;
	/* libsodium 1.0.18 lets some bytes above 0x7f through; base64 is ASCII. */
	for (size_t i = 0; i < inlen; i++)
		if ((unsigned char)in[i] >= 0x80)
			return NULL;
	out = malloc(cap + 1);
	if (out == NULL)
		return NULL;
	if (sodium_base642bin(out, cap, in, inlen, NULL, outlen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != in + inlen || *outlen > max) {
		free(out);
		return NULL;
	}
	out[*outlen] = '\0';
	return out;
}
