/* The signature claims (src/shared/sign.c) and canonical JSON
 * (src/shared/canon.c): priv reads the claims net forwards over the
 * socketpair (cr_sig_claims_from_json), net reads the same fields from a
 * message's celeryroot_sig header, and both verify them.  Each input that
 * is JSON is read as claims, verified against a keyring holding one fixed
 * key, and written in canonical form. */
#include "config.h"

#include <jansson.h>
#include <sodium.h>

#include "canon.h"
#include "fuzz.h"
#include "sign.h"

/* The seeds in corpus/sig/ are signed with this key (make_seeds.py), so the
 * fuzzer starts past the signature check and mutates what follows it. */
#define FUZZ_KEY_SEED 0x01
#define FUZZ_NOW 1800000000.0

static struct keyring ring;

static void ring_init(void)
{
	unsigned char seed[32], sk[64];

	if (ring.n == 1)
		return;
	if (sodium_init() < 0)
		abort();
	memset(seed, FUZZ_KEY_SEED, sizeof(seed));
	crypto_sign_seed_keypair(ring.k[0].pk, sk, seed);
	cr_copy_str(ring.k[0].id, sizeof(ring.k[0].id), "fuzz");
	ring.k[0].nops = 0;
	ring.k[0].nroles = 0;
	ring.n = 1;
}

/* A parsed claim must say the same after net's to_json and priv's from_json. */
static void check_claims(const struct sig_claims *c)
{
	struct sig_claims again;
	char err[512] = "";
	json_t *o;

	FUZZ_ASSERT(cr_valid_key_id(c->key), "key '%s'", c->key);
	FUZZ_ASSERT(fuzz_printable(c->nonce) && fuzz_printable(c->target) && fuzz_printable(c->job) &&
		    fuzz_printable(c->task), "unprintable claim");
	FUZZ_ASSERT(json_is_array(c->args) && json_is_object(c->kwargs), "args or kwargs of the wrong type");
	o = cr_sig_claims_to_json(c);
	FUZZ_ASSERT(o != NULL, "claims cannot be written");
	FUZZ_ASSERT(cr_sig_claims_from_json(o, &again, err, sizeof(err)) == 0, "written claims refused: %s", err);
	FUZZ_ASSERT(strcmp(again.key, c->key) == 0 && strcmp(again.nonce, c->nonce) == 0 &&
		    again.expires == c->expires && strcmp(again.target, c->target) == 0 &&
		    strcmp(again.job, c->job) == 0 && strcmp(again.task, c->task) == 0 &&
		    memcmp(again.sig, c->sig, sizeof(c->sig)) == 0 && json_equal(again.args, c->args) &&
		    json_equal(again.kwargs, c->kwargs), "claims differ after a round trip");
	cr_sig_claims_free(&again);
	json_decref(o);
}

static void check_verify(const struct sig_claims *c)
{
	static const char roles[1][ROLE_MAX + 1] = { "webserver" };
	struct sig_host h = { .hostname = "web01", .roles = roles, .nroles = 1, .now = FUZZ_NOW };
	char err[512] = "";

	if (cr_sig_verify(&ring, c, &h, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(strcmp(c->key, "fuzz") == 0, "accepted under key '%s'", c->key);
		FUZZ_ASSERT(c->expires > FUZZ_NOW, "accepted after expiry");
		FUZZ_ASSERT(strcmp(c->target, "host.web01") == 0 || strcmp(c->target, "role.webserver") == 0,
			    "accepted for target '%s'", c->target);
	} else {
		FUZZ_ASSERT(err[0] != '\0' && fuzz_printable(err), "refusal reason '%s'", err);
	}
}

/* Canonical form: deterministic, and the same value when read back. */
static void check_canon(json_t *v)
{
	char err[256] = "";
	size_t len = 0, len2 = 0;
	char *a = cr_canon_dump(v, &len, err, sizeof(err)), *b;
	json_t *back;

	if (a == NULL) {
		FUZZ_ASSERT(err[0] != '\0' && fuzz_printable(err), "canon refusal '%s'", err);
		return;
	}
	back = json_loadb(a, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	FUZZ_ASSERT(back != NULL && json_equal(back, v), "canonical form reads back differently");
	b = cr_canon_dump(back, &len2, err, sizeof(err));
	FUZZ_ASSERT(b != NULL && len2 == len && memcmp(a, b, len) == 0, "canonical form is not stable");
	free(a);
	free(b);
	json_decref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sig_claims c;
	char err[512] = "";
	json_t *v;

	ring_init();
	v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (v == NULL)
		return 0;
	if (cr_sig_claims_from_json(v, &c, err, sizeof(err)) == 0) {
		check_claims(&c);
		check_verify(&c);
		cr_sig_claims_free(&c);
	} else {
		FUZZ_ASSERT(err[0] != '\0' && fuzz_printable(err), "claims refusal '%s'", err);
	}
	check_canon(v);
	json_decref(v);
	return 0;
}
