/* What host keys sign, as the CLI reads it from Redis and files others may
 * write (src/cli/hostsig.c): a result's attest, an audit line's signature,
 * a registry record's host key and known_hosts lines.  Each input is tried
 * as all four; the seeds (make_seeds.py) are signed with this target's
 * fixed key, so the fuzzer starts past the signature checks. */
#include "config.h"

#include <jansson.h>
#include <sodium.h>

#include "b64.h"
#include "fuzz.h"
#include "hostcheck.h"

#define FUZZ_HOST_SEED 0x02

static unsigned char pk[HOST_KEY_LEN];

static void key_init(void)
{
	static int done;
	unsigned char seed[32], sk[64];

	if (done++)
		return;
	if (sodium_init() < 0)
		abort();
	memset(seed, FUZZ_HOST_SEED, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
}

/* Accepted means: the payload's very bytes carry a valid signature, and
 * the object returned is the payload (plus the result's duration_s). */
static void check_attest(json_t *v)
{
	json_t *payload = NULL;
	char why[256] = "";

	if (attest_check(v, pk, &payload, why, sizeof(why)) < 0) {
		FUZZ_ASSERT(payload == NULL && why[0] && fuzz_printable(why), "refusal '%s'", why);
		return;
	}
	json_t *a = json_object_get(v, "attest"), *p = json_object_get(a, "payload");
	const char *sig64 = json_string_value(json_object_get(a, "sig"));
	size_t n = 0;
	unsigned char *sig = cr_b64_decode(sig64, strlen(sig64), 64, &n);
	FUZZ_ASSERT(sig && n == 64 && crypto_sign_verify_detached(sig, (const unsigned char *)json_string_value(p),
								       json_string_length(p), pk) == 0, "accepted unsigned");
	json_t *again = json_loadb(json_string_value(p), json_string_length(p), 0, NULL);
	/* The record shown is the signed payload, plus only the result's own
	 * duration_s (net's measurement) when that is a number. */
	json_t *dur = json_object_get(v, "duration_s");
	FUZZ_ASSERT(json_is_object(payload) && json_is_object(again), "payload is not an object");
	FUZZ_ASSERT(json_is_number(dur) ? json_equal(json_object_get(payload, "duration_s"), dur)
				       : json_object_get(payload, "duration_s") == NULL,
		    "duration_s not taken from the result alone");
	json_object_del(payload, "duration_s");
	json_object_del(again, "duration_s");
	FUZZ_ASSERT(json_equal(again, payload), "payload differs from the signed bytes");
	free(sig);
	json_decref(again);
	json_decref(payload);
}

/* A verified audit record stays verified, and its hash is stable. */
static void check_audit(json_t *v)
{
	unsigned char h1[32], h2[32];
	int s = av_sig_check(v, pk);

	FUZZ_ASSERT(s >= -1 && s <= 1, "av_sig_check %d", s);
	if (s == 1) {
		json_t *copy = json_deep_copy(v);
		FUZZ_ASSERT(av_sig_check(copy, pk) == 1, "a copy does not verify");
		FUZZ_ASSERT(av_canon_hash(v, h1) == 0 && av_canon_hash(copy, h2) == 0 && !memcmp(h1, h2, 32),
			    "canonical hash unstable");
		json_object_set_new(copy, "fuzz", json_true());
		FUZZ_ASSERT(av_sig_check(copy, pk) == -1, "an added field still verifies");
		json_decref(copy);
	}
}

static void check_reg_key(const uint8_t *data, size_t size)
{
	struct reg_key rk;

	reg_key_parse((const char *)data, size, &rk);
	FUZZ_ASSERT(!(rk.present && rk.invalid), "present and invalid");
}

/* known_hosts lines: an accepted one names a valid host and re-reads the same. */
static void check_lines(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size), *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char host[HOSTNAME_MAX + 1], again[HOSTNAME_MAX + 1], buf[512];
		unsigned char key[HOST_KEY_LEN], key2[HOST_KEY_LEN];
		if (!kh_parse_line(line, host, key))
			continue;
		FUZZ_ASSERT(cr_valid_hostname(host), "host '%s'", host);
		char *b = cr_b64_encode(key, sizeof(key));
		snprintf(buf, sizeof(buf), "%s ed25519 %s", host, b);
		free(b);
		FUZZ_ASSERT(kh_parse_line(buf, again, key2) && !strcmp(host, again) && !memcmp(key, key2, 32),
			    "a written line reads back differently");
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v;

	key_init();
	check_reg_key(data, size);
	check_lines(data, size);
	v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (v == NULL)
		return 0;
	check_attest(v);
	check_audit(v);
	json_decref(v);
	return 0;
}
