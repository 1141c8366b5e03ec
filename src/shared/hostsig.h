/* Host signatures (issue 12).  Each host's priv holds an Ed25519 host key
 * (created at its first start under the host root's state directory) and
 * signs every result record and every audit line it writes, so that a
 * Redis writer, another host's daemon or a compromised net cannot pass off
 * a result or an audit record as this host's word.
 *
 * Result records ("attest"): priv serialises the record it built with
 * HOSTSIG_DUMP_FLAGS; that string is the payload, signed as it is.  The
 * published Celery result is the payload's fields, plus "duration_s"
 * (net's measurement, not signed), plus
 *   "attest": {"v": 1, "alg": "ed25519", "payload": "<payload>", "sig": "<b64>"}.
 * A verifier trusts only what the payload says.
 *
 * Audit lines: "sig" is the signature over the line's object without "sig"
 * dumped with the same flags (seq and prev already in it); the hash chain
 * (auditchain.h) covers the written line, sig included. */
#ifndef CR_HOSTSIG_H
#define CR_HOSTSIG_H

#include <jansson.h>
#include <stddef.h>

#define HOSTSIG_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define HOSTSIG_ATTEST_V 1
#define HOSTSIG_ALG "ed25519"
#define HOSTSIG_PK_B64_MAX 45      /* base64 of 32 bytes (44) and NUL */
#define HOSTSIG_SIG_B64_MAX 89     /* base64 of 64 bytes (88) and NUL */
#define HOSTSIG_FP_MAX 51          /* "SHA256:" + 43 + NUL */
/* A payload longer than this is not one priv could have sent (its frames
 * are 64 KiB at most). */
#define HOSTSIG_PAYLOAD_MAX (256 * 1024)

struct host_key {
	unsigned char pk[32];
	unsigned char sk[64];
};

/* "SHA256:" + unpadded base64 of SHA-256 of the public key (as ssh shows it). */
void cr_hostsig_fingerprint(const unsigned char pk[32], char out[HOSTSIG_FP_MAX]);
/* The public key as base64 (44 characters). */
void cr_hostsig_pk_encode(const unsigned char pk[32], char out[HOSTSIG_PK_B64_MAX]);
/* Base64 that decodes to exactly 32 bytes (and nothing else: no spaces, no
 * second form of the same key).  0, or -1. */
int cr_hostsig_pk_decode(const char *b64, unsigned char pk[32]);

/* o as HOSTSIG_DUMP_FLAGS JSON (malloc'd); NULL when it cannot be dumped. */
char *cr_hostsig_dump(const json_t *o);

/* priv: the attest object for rec (new reference), NULL when rec cannot be
 * dumped or is too big. */
json_t *cr_hostsig_attest(const struct host_key *k, const json_t *rec);
/* priv: adds "sig" to an audit line whose seq and prev are set (any old
 * "sig" is replaced).  0, or -1. */
int cr_hostsig_sign_line(const struct host_key *k, json_t *line);

/* What the verifier expects the payload to say; NULL members are not
 * checked ("" for job means "no job"). */
struct hostsig_expect {
	const char *host;
	const char *task;
	const char *job;
};

/* A published result checked against the host's key: attest well formed,
 * the signature valid over exactly the payload's bytes, the payload a JSON
 * object with a valid record "status" and the host, task and job that are
 * expected.  On success *record_out (when not NULL) is the record to show:
 * the payload's fields, and "duration_s" from the result when it is a
 * number (the only field taken from outside the payload).  -1 with a
 * printable one-line reason (missing attest, bad signature, other host…). */
int cr_hostsig_verify_record(const json_t *result, const unsigned char pk[32], const struct hostsig_expect *want,
			  json_t **record_out, char *err, size_t errlen);
/* An audit line (parsed) checked against the host's key: "sig" over the
 * line without it.  0, or -1 with a reason. */
int cr_hostsig_verify_line(const json_t *line, const unsigned char pk[32], char *err, size_t errlen);

#endif
