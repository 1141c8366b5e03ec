/* Signed schedules.  A runtime schedule lives in Redis, which the operator
 * ACL (and so anyone holding an operator's Redis password) may write; beat
 * signs and fires what it finds there.  So the definition carries the
 * signature of the operator who added (or last enabled or disabled) it:
 *
 *   "celeryroot-schedule-v1\n" + canon({"command", "cron", "enabled", "key",
 *                                        "name", "signed_at", "target", "tz", "v"})
 *
 * and beat fires it only when that signature verifies with a key in beat's
 * own trusted keys directory ([beat] trusted_keys) whose operations and
 * roles allow it.  Schedules from the config file are trusted as the file
 * is.  What a Redis writer can still do: delete a schedule, or put back an
 * older definition its operator signed (beat refuses one older than what
 * it has already seen while it runs). */
#include "config.h"
#include "schedule.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "canon.h"
#include "crerr.h"
#include "timeutil.h"

#define SCHED_DOMAIN "celeryroot-schedule-v1\n"
#define SCHED_SIG_VERSION 1

const char *schedule_trust_name(enum sched_trust t)
{
	static const char *const names[] = {
		[ST_CONFIG] = "config", [ST_TRUSTED] = "trusted", [ST_UNSIGNED] = "unsigned",
		[ST_BAD_SIG] = "bad signature", [ST_UNTRUSTED_KEY] = "key not trusted by beat",
		[ST_OUTSIDE_LIMITS] = "outside its key's limits", [ST_UNCHECKED] = "not checked here",
		[ST_STALE] = "older than one beat saw",
	};
	return names[t];
}

/* The bytes signed; malloc'd, NULL with a reason. */
static unsigned char *signed_bytes(const struct schedule *s, size_t *len, char *err, size_t errlen)
{
	json_t *o = json_pack("{s:O, s:s, s:b, s:s, s:s, s:I, s:s, s:s, s:i}", "command", s->command, "cron", s->cron,
			      "enabled", s->enabled, "key", s->signer, "name", s->name, "signed_at",
			      (json_int_t)s->signed_at, "target", s->target, "tz", s->tz, "v", SCHED_SIG_VERSION);
	unsigned char *out = o ? cr_canon_signed(SCHED_DOMAIN, o, len, err, errlen) : NULL;

	if (o == NULL)
		snprintf(err, errlen, "cannot build the schedule's signed form");
	json_decref(o);
	return out;
}

int schedule_sign(struct schedule *s, const struct signing_key *k, char *err, size_t errlen)
{
	unsigned char *msg;
	size_t len = 0;

	cr_copy_str(s->signer, sizeof(s->signer), k->id);
	s->signed_at = (long long)cr_now_wall();
	if ((msg = signed_bytes(s, &len, err, errlen)) == NULL)
		return -1;
	crypto_sign_detached(s->sig, NULL, msg, len, k->sk);
	free(msg);
	s->has_sig = 1;
	return 0;
}

static int verifies(const struct schedule *s, const unsigned char pk[32])
{
	char err[CR_ERR_MAX];
	size_t len = 0;
	unsigned char *msg = signed_bytes(s, &len, err, sizeof(err));
	int ok = msg != NULL && crypto_sign_verify_detached(s->sig, msg, len, pk) == 0;

	free(msg);
	return ok;
}

/* The key's operations allow what the schedule runs. */
static int op_allowed(const struct trusted_key *k, const struct schedule *s)
{
	const char *op = cr_sig_operation(s->task.task);
	int ok = k->nops == 0;

	for (int i = 0; i < k->nops; i++)
		ok |= !strcmp(k->ops[i], op);
	return ok;
}

const struct trusted_key *schedule_judge(struct schedule *s, const struct keyring *beat, const struct signing_key *own)
{
	const struct trusted_key *k = beat ? cr_keyring_find(beat, s->signer) : NULL;
	unsigned char own_pk[32];

	s->verified = 0;
	if (s->from_config)
		return s->trust = ST_CONFIG, NULL;
	if (!s->has_sig || s->signer[0] == '\0')
		return s->trust = ST_UNSIGNED, NULL;
	if (own && !strcmp(own->id, s->signer)) {
		memcpy(own_pk, own->sk + 32, sizeof(own_pk));   /* libsodium: seed, then the public key */
		s->verified = verifies(s, own_pk);
		if (!s->verified)
			return s->trust = ST_BAD_SIG, NULL;
	}
	if (k == NULL)
		return s->trust = beat ? ST_UNTRUSTED_KEY : ST_UNCHECKED, NULL;
	if (!verifies(s, k->pk))
		return s->trust = ST_BAD_SIG, NULL;
	s->verified = 1;
	if (!op_allowed(k, s))
		return s->trust = ST_OUTSIDE_LIMITS, NULL;
	return s->trust = ST_TRUSTED, k;
}

int schedule_keyring(const struct cr_config *cfg, struct keyring *kr, char *err, size_t errlen)
{
	const char *dir = cfg->beat_trusted_keys[0] ? cfg->beat_trusted_keys : TRUSTED_KEYS_DEFAULT;

	return cr_keyring_load(dir, kr, err, errlen);
}

/* ---- roles ------------------------------------------------------------------- */

static int key_has_role(const struct trusted_key *k, const char *role)
{
	for (int i = 0; i < k->nroles; i++)
		if (!strcmp(k->roles[i], role))
			return 1;
	return 0;
}

int schedule_within_roles(const struct trusted_key *k, redisContext *c, const struct dest *d, size_t nd, char *why,
			  size_t len)
{
	struct host_rec *hosts = NULL;
	size_t n = 0;
	int rc = 0;

	if (k == NULL || k->nroles == 0)
		return 0;
	if (cli_load_registry(c, &hosts, &n) < 0)
		return snprintf(why, len, "cannot read the registry to check key '%s''s roles", k->id), -1;
	for (size_t i = 0; i < nd && rc == 0; i++) {
		int ok = 0;
		if (!strncmp(d[i].queue, "role.", 5))
			ok = key_has_role(k, d[i].queue + 5);
		for (size_t h = 0; !ok && h < n; h++)
			if (!strcmp(hosts[h].hostname, d[i].host))
				for (int r = 0; r < hosts[h].nroles; r++)
					ok |= key_has_role(k, hosts[h].roles[r]);
		if (!ok) {
			snprintf(why, len, "key '%s' may not sign for %s (not in its roles)", k->id, d[i].queue);
			rc = -1;
		}
	}
	free(hosts);
	return rc;
}

/* ---- stored form ----------------------------------------------------------------- */

void schedule_sig_to_json(const struct schedule *s, json_t *o)
{
	char *sig64 = s->has_sig ? cr_b64_encode(s->sig, sizeof(s->sig)) : NULL;

	if (sig64 == NULL)
		return;
	json_object_set_new(o, "key", json_string(s->signer));
	json_object_set_new(o, "signed_at", json_integer((json_int_t)s->signed_at));
	json_object_set_new(o, "sig", json_string(sig64));
	free(sig64);
}

void schedule_sig_from_json(json_t *o, struct schedule *s)
{
	const char *key = json_string_value(json_object_get(o, "key"));
	const char *sig64 = json_string_value(json_object_get(o, "sig"));
	json_t *at = json_object_get(o, "signed_at");
	unsigned char *raw = NULL;
	size_t n = 0;

	s->has_sig = 0;
	if (key == NULL || sig64 == NULL || !json_is_integer(at) || !cr_valid_key_id(key))
		return;
	raw = cr_b64_decode(sig64, strlen(sig64), sizeof(s->sig), &n);
	if (raw && n == sizeof(s->sig)) {
		memcpy(s->sig, raw, sizeof(s->sig));
		cr_copy_str(s->signer, sizeof(s->signer), key);
		s->signed_at = json_integer_value(at);
		s->has_sig = 1;
	}
	free(raw);
}
