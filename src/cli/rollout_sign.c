/* A signed rollout plan.  Every task of a rollout is signed as any task,
 * so a Redis writer cannot forge one; but the plan (which hosts go in
 * which wave, the canary, the budget, the pause) is what a driver obeys,
 * and it lives in Redis too.  So the operator who starts a rollout also
 * signs its plan:
 *
 *   "celeryroot-rollout-v1\n" + canon(the plan without "sig")
 *
 * (the plan names its "key"), and a driver that resumes it (another CLI,
 * beat) pushes nothing unless that signature verifies with a key it trusts:
 * [beat] trusted_keys (default the trusted keys directory), or its own
 * signing key.  A driver with signing on (a signing key, or trusted keys)
 * refuses an unsigned plan too: stripping the signature widens nothing. */
#include "config.h"
#include "rollout.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "canon.h"
#include "crerr.h"
#include "schedule.h"

#define RO_DOMAIN "celeryroot-rollout-v1\n"

/* The bytes signed: malloc'd, NULL with err. */
static unsigned char *signed_bytes(json_t *plan, size_t *len, char *err, size_t errlen)
{
	json_t *copy = json_deep_copy(plan);
	unsigned char *out;

	json_object_del(copy, "sig");
	out = cr_canon_signed(RO_DOMAIN, copy, len, err, errlen);   /* NULL copy: "nothing to sign" */
	json_decref(copy);
	return out;
}

int ro_plan_sign(json_t *plan, const struct signing_key *k, char *err, size_t errlen)
{
	unsigned char sig[crypto_sign_BYTES], *msg;
	size_t len = 0;
	char *b64;

	json_object_set_new(plan, "key", json_string(k->id));
	if ((msg = signed_bytes(plan, &len, err, errlen)) == NULL)
		return -1;
	crypto_sign_detached(sig, NULL, msg, len, k->sk);
	free(msg);
	if ((b64 = cr_b64_encode(sig, sizeof(sig))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_object_set_new(plan, "sig", json_string(b64));
	free(b64);
	return 0;
}

static int verifies(json_t *plan, const unsigned char pk[32])
{
	const char *sig64 = json_string_value(json_object_get(plan, "sig"));
	char err[CR_ERR_MAX];
	size_t len = 0, n = 0;
	unsigned char *raw = sig64 ? cr_b64_decode(sig64, strlen(sig64), crypto_sign_BYTES, &n) : NULL;
	unsigned char *msg = raw && n == crypto_sign_BYTES ? signed_bytes(plan, &len, err, sizeof(err)) : NULL;
	int ok = msg != NULL && crypto_sign_verify_detached(raw, msg, len, pk) == 0;

	free(raw);
	free(msg);
	return ok;
}

/* The keys this driver trusts; *own set when it has a signing key. */
static int trust(struct cli_opts *o, struct keyring *kr, int *own, char *dir, size_t dirlen)
{
	char err[CR_ERR_MAX];
	int have_ring = schedule_keyring(&o->cfg, kr, err, sizeof(err)) == 0 && kr->n > 0;

	snprintf(dir, dirlen, "%s", o->cfg.beat_trusted_keys[0] ? o->cfg.beat_trusted_keys : TRUSTED_KEYS_DEFAULT);
	if (!have_ring)
		kr->n = 0;
	*own = cli_load_signer(o, "") == 1;
	return have_ring || *own;
}

int ro_plan_verify(struct cli_opts *o, json_t *plan, char *err, size_t errlen)
{
	struct keyring *kr = calloc(1, sizeof(*kr));
	const char *key = json_string_value(json_object_get(plan, "key"));
	const struct trusted_key *k;
	char dir[PATH_MAX];
	int own = 0, signing, ok = 0;

	if (kr == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	signing = trust(o, kr, &own, dir, sizeof(dir));
	if (!json_is_string(json_object_get(plan, "sig")) || key == NULL) {
		ok = !signing;
		if (!ok)
			snprintf(err, errlen, "its plan is not signed, and signing is on here: refused (a Redis writer may "
				 "have stripped the signature); abort it with 'celeryroot job ID --abort'");
	} else if (own && !strcmp(key, o->signer.id)) {
		ok = verifies(plan, o->signer.sk + 32);   /* libsodium: seed, then the public key */
	} else if ((k = cr_keyring_find(kr, key)) != NULL) {
		ok = verifies(plan, k->pk);
	} else {
		snprintf(err, errlen, "its plan is signed by key '%s', which is neither this driver's key nor in %s: "
			 "refused; resume it where that key is trusted", key, dir);
		sodium_memzero(&o->signer, sizeof(o->signer));
		free(kr);
		return -1;
	}
	if (!ok && json_is_string(json_object_get(plan, "sig")))
		snprintf(err, errlen, "its plan does not match its signature (key '%s'): it was changed in Redis "
			 "after it was signed; nothing was sent; abort it with 'celeryroot job ID --abort'", key);
	sodium_memzero(&o->signer, sizeof(o->signer));
	free(kr);
	return ok ? 0 : -1;
}
