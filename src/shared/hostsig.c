/* Host signatures (see hostsig.h): the attest of a result record, the "sig"
 * of an audit line, and their verification.  Everything a verifier reads
 * may come from Redis, so every field is checked for its kind and bounds
 * before it is used, and reasons never quote it raw. */
#include "config.h"
#include "hostsig.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "names.h"
#include "record.h"

void cr_hostsig_fingerprint(const unsigned char pk[32], char out[HOSTSIG_FP_MAX])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pk, 32);
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, HOSTSIG_FP_MAX - 7, h, sizeof(h), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

void cr_hostsig_pk_encode(const unsigned char pk[32], char out[HOSTSIG_PK_B64_MAX])
{
	sodium_bin2base64(out, HOSTSIG_PK_B64_MAX, pk, 32, sodium_base64_VARIANT_ORIGINAL);
}

/* Exactly 32 bytes, and the canonical spelling of them: a key has one form,
 * so that comparing two of them as text is comparing the keys. */
static int decode_exact(const char *b64, unsigned char *out, size_t want, size_t maxlen)
{
	size_t n = 0, len = b64 ? strnlen(b64, maxlen + 1) : 0;
	unsigned char *raw = len > 0 && len <= maxlen ? cr_b64_decode(b64, len, want, &n) : NULL;
	char *again = raw && n == want ? cr_b64_encode(raw, n) : NULL;
	int ok = again != NULL && strcmp(again, b64) == 0;

	if (ok)
		memcpy(out, raw, want);
	free(raw);
	free(again);
	return ok ? 0 : -1;
}

int cr_hostsig_pk_decode(const char *b64, unsigned char pk[32])
{
	return decode_exact(b64, pk, 32, HOSTSIG_PK_B64_MAX - 1);
}

char *cr_hostsig_dump(const json_t *o)
{
	return o ? json_dumps(o, HOSTSIG_DUMP_FLAGS) : NULL;
}

static char *sign_b64(const struct host_key *k, const char *msg, size_t len)
{
	unsigned char sig[crypto_sign_BYTES];

	crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len, k->sk);
	return cr_b64_encode(sig, sizeof(sig));
}

json_t *cr_hostsig_attest(const struct host_key *k, const json_t *rec)
{
	char *payload = cr_hostsig_dump(rec), *sig = NULL;
	json_t *a = NULL;

	if (payload != NULL && strlen(payload) <= HOSTSIG_PAYLOAD_MAX && (sig = sign_b64(k, payload, strlen(payload))))
		a = json_pack("{s:i, s:s, s:s, s:s}", "v", HOSTSIG_ATTEST_V, "alg", HOSTSIG_ALG, "payload", payload, "sig",
			      sig);
	free(payload);
	free(sig);
	return a;
}

int cr_hostsig_sign_line(const struct host_key *k, json_t *line)
{
	char *text, *sig = NULL;

	if (!json_is_object(line))
		return -1;
	json_object_del(line, "sig");
	if ((text = cr_hostsig_dump(line)) != NULL)
		sig = sign_b64(k, text, strlen(text));
	free(text);
	if (sig == NULL || json_object_set_new(line, "sig", json_string(sig)) < 0) {
		free(sig);
		return -1;
	}
	free(sig);
	return 0;
}

/* ---- verification ----------------------------------------------------------- */

static int verify_b64(const char *sig_b64, const char *msg, size_t len, const unsigned char pk[32])
{
	unsigned char sig[crypto_sign_BYTES];

	if (decode_exact(sig_b64, sig, sizeof(sig), HOSTSIG_SIG_B64_MAX - 1) < 0)
		return -1;
	return crypto_sign_verify_detached(sig, (const unsigned char *)msg, len, pk) == 0 ? 0 : -1;
}

/* The payload names what it is about: a string field equal to want (when
 * asked), printable for the reason when it is not. */
static int expect_field(const json_t *payload, const char *key, const char *want, char *err, size_t errlen)
{
	const char *got = json_string_value(json_object_get(payload, key));

	if (want == NULL)
		return 0;
	if (got == NULL)
		return cr_err_fail(err, errlen, "the signed record names no %s", key);
	if (strcmp(got, want) != 0) {
		char q[72];
		cr_quote_printable(q, sizeof(q), got, 64);
		return cr_err_fail(err, errlen, "the signed record is about %s '%s', not '%s'", key, q, want);
	}
	return 0;
}

static int attest_fields(const json_t *a, const char **payload, const char **sig, char *err, size_t errlen)
{
	if (!json_is_object(a))
		return cr_err_fail(err, errlen, "unsigned: the result carries no attest");
	if (!json_is_integer(json_object_get(a, "v")) || json_integer_value(json_object_get(a, "v")) != HOSTSIG_ATTEST_V)
		return cr_err_fail(err, errlen, "the attest is of an unknown version");
	if (json_string_value(json_object_get(a, "alg")) == NULL ||
	    strcmp(json_string_value(json_object_get(a, "alg")), HOSTSIG_ALG) != 0)
		return cr_err_fail(err, errlen, "the attest names an unknown algorithm");
	*payload = json_string_value(json_object_get(a, "payload"));
	*sig = json_string_value(json_object_get(a, "sig"));
	if (*payload == NULL || *sig == NULL || json_string_length(json_object_get(a, "payload")) != strlen(*payload) ||
	    strlen(*payload) > HOSTSIG_PAYLOAD_MAX)
		return cr_err_fail(err, errlen, "the attest's payload or sig is missing or malformed");
	return 0;
}

int cr_hostsig_verify_record(const json_t *result, const unsigned char pk[32], const struct hostsig_expect *want,
			  json_t **record_out, char *err, size_t errlen)
{
	const char *text = NULL, *sig = NULL;
	json_t *payload, *dur;

	if (record_out)
		*record_out = NULL;
	if (attest_fields(json_object_get(result, "attest"), &text, &sig, err, errlen) < 0)
		return -1;
	if (verify_b64(sig, text, strlen(text), pk) < 0)
		return cr_err_fail(err, errlen, "bad signature: the record was not signed by this host's key, or was altered");
	payload = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(payload) || !cr_record_status_valid(json_string_value(json_object_get(payload, "status")))) {
		json_decref(payload);
		return cr_err_fail(err, errlen, "the signed payload is not a result record");
	}
	if (want && (expect_field(payload, "host", want->host, err, errlen) < 0 ||
		     expect_field(payload, "task", want->task, err, errlen) < 0 ||
		     expect_field(payload, "job", want->job, err, errlen) < 0)) {
		json_decref(payload);
		return -1;
	}
	/* Only net's measurement comes from outside what was signed. */
	dur = json_object_get(result, "duration_s");
	json_object_del(payload, "duration_s");
	if (json_is_number(dur))
		json_object_set(payload, "duration_s", dur);
	if (record_out)
		*record_out = payload;
	else
		json_decref(payload);
	return 0;
}

int cr_hostsig_verify_line(const json_t *line, const unsigned char pk[32], char *err, size_t errlen)
{
	const char *sig = json_string_value(json_object_get(line, "sig"));
	json_t *rest;
	char *text;
	int rc;

	if (!json_is_object(line))
		return cr_err_fail(err, errlen, "not an audit record");
	if (sig == NULL)
		return cr_err_fail(err, errlen, "unsigned: the record carries no sig");
	/* A shallow copy: the caller's line is left as it is. */
	if ((rest = json_copy((json_t *)line)) == NULL)
		return cr_err_fail(err, errlen, "out of memory");
	json_object_del(rest, "sig");
	text = cr_hostsig_dump(rest);
	json_decref(rest);
	if (text == NULL)
		return cr_err_fail(err, errlen, "out of memory");
	rc = verify_b64(sig, text, strlen(text), pk);
	free(text);
	if (rc < 0)
		return cr_err_fail(err, errlen, "bad signature: not signed by this host's key, or altered");
	return 0;
}
