/* Host signatures (src/shared/hostsig.c) and the registry record that
 * carries the host key (src/shared/registry.c): the CLI reads results,
 * audit records and registry records from Redis, where anyone with write
 * access may put anything.  Each input that is JSON is read as a published
 * result and checked against a fixed host key, as an audit line, and as a
 * registry record; every input is also read as a key file (priv's
 * host.key and host.pub, keys.c).  Besides what ASan and UBSan catch: nothing verifies
 * that the key did not sign (the seeds carry real signatures, so the
 * fuzzer mutates past the check), what verifies is shown only from the
 * signed payload, and every refusal has a printable reason. */
#include "config.h"

#include <jansson.h>
#include <sodium.h>

#include "fuzz.h"
#include "hostsig.h"
#include "record.h"
#include "registry.h"
#include "sign.h"

/* corpus/hostsig/ is signed with this key (make_seeds.py). */
#define FUZZ_KEY_SEED 0x02

static struct host_key key;

static void key_init(void)
{
	unsigned char seed[32];
	static int done;

	if (done)
		return;
	if (sodium_init() < 0)
		abort();
	memset(seed, FUZZ_KEY_SEED, sizeof(seed));
	crypto_sign_seed_keypair(key.pk, key.sk, seed);
	done = 1;
}

static void check_record(json_t *v)
{
	struct hostsig_expect want = { "web01", NULL, NULL };
	char err[256] = "";
	json_t *shown = NULL;

	if (cr_hostsig_verify_record(v, key.pk, &want, &shown, err, sizeof(err)) < 0) {
		FUZZ_ASSERT(shown == NULL && err[0] != '\0' && fuzz_printable(err), "refusal '%s'", err);
		return;
	}
	/* What verified is exactly a payload this key signed: re-signing the
	 * shown record (without duration_s) gives the same payload. */
	const char *payload = json_string_value(json_object_get(json_object_get(v, "attest"), "payload"));
	json_t *again = json_loads(payload, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_ASSERT(json_is_object(shown) && json_is_object(again), "verified but unreadable");
	FUZZ_ASSERT(!strcmp(json_string_value(json_object_get(shown, "host")), "web01"), "another host's record shown");
	FUZZ_ASSERT(cr_record_status_valid(json_string_value(json_object_get(shown, "status"))), "status");
	json_object_del(shown, "duration_s");
	json_object_del(again, "duration_s");
	FUZZ_ASSERT(json_equal(shown, again), "shown fields that are not the payload's");
	json_decref(again);
	json_decref(shown);
}

static void check_line(json_t *v)
{
	char err[256] = "";

	if (cr_hostsig_verify_line(v, key.pk, err, sizeof(err)) == 0) {
		/* Signing it again gives the same signature (Ed25519 is deterministic). */
		json_t *copy = json_deep_copy(v);
		FUZZ_ASSERT(copy && cr_hostsig_sign_line(&key, copy) == 0 && json_equal(copy, v), "a verified line differs");
		json_decref(copy);
	} else {
		FUZZ_ASSERT(err[0] != '\0' && fuzz_printable(err), "refusal '%s'", err);
	}
}

static void check_registry(const uint8_t *data, size_t size)
{
	struct host_rec h;
	char err[256] = "";
	unsigned char pk[32];

	if (cr_registry_decode((const char *)data, size, &h, err, sizeof(err)) < 0) {
		FUZZ_ASSERT(err[0] != '\0' && fuzz_printable(err), "refusal '%s'", err);
		return;
	}
	if (h.host_key[0]) {
		char back[HOSTSIG_PK_B64_MAX];
		FUZZ_ASSERT(cr_hostsig_pk_decode(h.host_key, pk) == 0, "accepted a host key that does not decode");
		cr_hostsig_pk_encode(pk, back);
		FUZZ_ASSERT(!strcmp(back, h.host_key), "accepted a second spelling of a key");
	}
	char *s = cr_registry_encode(&h);
	FUZZ_ASSERT(s != NULL, "an accepted record cannot be written back");
	free(s);
}

/* The key files priv reads at start: what parses is a whole key. */
static void check_keyfiles(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size), err[256] = "";
	struct signing_key sk;
	struct trusted_key pk;

	if (cr_key_parse_secret(text, &sk) == 0)
		FUZZ_ASSERT(cr_valid_key_id(sk.id), "secret key with id '%s'", sk.id);
	if (cr_key_parse_public(text, "host", &pk, err, sizeof(err)) == 0)
		FUZZ_ASSERT(!strcmp(pk.id, "host"), "public key named '%s' read as host's", pk.id);
	else
		FUZZ_ASSERT(err[0] != '\0' && fuzz_printable(err), "refusal '%s'", err);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v;

	key_init();
	check_keyfiles(data, size);
	check_registry(data, size);
	v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (v == NULL)
		return 0;
	check_record(v);
	check_line(v);
	json_decref(v);
	return 0;
}
