/* What host keys sign, checked without any I/O: a result's attest, an
 * audit line's signature, a registry record's host key, a known_hosts line.
 * Everything here reads bytes from Redis or files others may write, and is
 * a fuzz target (tests/fuzz/fuzz_hostcheck.c). */
#ifndef CR_CLI_HOSTCHECK_H
#define CR_CLI_HOSTCHECK_H

#include <jansson.h>
#include <stddef.h>

#include "names.h"

#define HOST_KEY_LEN 32
#define ATTEST_VERSION 1

/* result's attest against pk: 0 and the parsed payload (a new reference),
 * or -1 with the reason.  {"v": 1, "alg": "ed25519", "payload": STRING,
 * "sig": BASE64}: Ed25519 over the payload string's bytes. */
int attest_check(json_t *result, const unsigned char pk[HOST_KEY_LEN], json_t **payload, char *why, size_t len);

/* An audit record's "sig": over json_dumps(the object without "sig",
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII).  1 verified, 0 it has
 * none, -1 bad. */
int av_sig_check(json_t *obj, const unsigned char pk[HOST_KEY_LEN]);
/* SHA-256 of that same canonical form (with "sig"), for comparing records. */
int av_canon_hash(json_t *obj, unsigned char h[32]);

/* The registry's host key of one host, as net publishes it. */
struct reg_key {
	int present;                       /* 1: a valid key; 0: none (an old daemon, or no record) */
	int invalid;                       /* "host_key" was there and not 32 bytes of base64 */
	unsigned char pk[HOST_KEY_LEN];
};
/* The "host_key" of a registry record's JSON. */
void reg_key_parse(const char *json, size_t len, struct reg_key *rk);

/* 32 bytes of base64, exactly: 1, else 0. */
int host_key_decode(const char *b64, unsigned char pk[HOST_KEY_LEN]);
/* One known_hosts line, "HOST ed25519 BASE64" (line is cut up): 1 and its
 * parts, or 0 when malformed. */
int kh_parse_line(char *line, char host[HOSTNAME_MAX + 1], unsigned char pk[HOST_KEY_LEN]);

#endif
