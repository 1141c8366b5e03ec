/* Signing and checking tasks (see sign.h). */
#include "config.h"
#include "sign.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "canon.h"
#include "ops.h"

#define SIG_DOMAIN "celeryroot-task-v1\n"

const char *cr_sig_operation(const char *task)
{
	static const char apt[] = "celeryroot.apt.", top[] = "celeryroot.";
	const struct cr_op *op = cr_op_by_task(task);

	if (op != NULL)
		return op->name;
	/* Not a task of ours: its tail, for the reason that names it. */
	if (!strncmp(task, apt, sizeof(apt) - 1))
		return task + sizeof(apt) - 1;
	if (!strncmp(task, top, sizeof(top) - 1))
		return task + sizeof(top) - 1;
	return task;
}

static int valid_nonce(const char *s)
{
	if (s == NULL || strlen(s) != SIG_NONCE_HEX)
		return 0;
	for (const char *c = s; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return 0;
	return 1;
}

static int valid_target(const char *s)
{
	return s != NULL && cr_valid_queue_name(s);
}

/* A schedule name as the CLI allows them (src/cli/schedule.c). */
static int valid_schedule(const char *s)
{
	return cr_valid_short_name(s, SIG_SCHEDULE_MAX);
}

/* {"schedule": NAME[, "key": KEYID]}, or NULL when the task is not a schedule's. */
static json_t *for_json(const struct sig_claims *c)
{
	if (c->for_schedule[0] == '\0')
		return NULL;
	if (c->for_key[0] == '\0')
		return json_pack("{s:s}", "schedule", c->for_schedule);
	return json_pack("{s:s, s:s}", "schedule", c->for_schedule, "key", c->for_key);
}

/* The exact bytes that are signed; malloc'd, NULL with a reason. */
static unsigned char *signed_bytes(const struct sig_claims *c, size_t *len, char *err, size_t errlen)
{
	json_t *o = json_pack("{s:O, s:I, s:s, s:s, s:O, s:s, s:s, s:s, s:i}", "args", c->args, "expires",
			      (json_int_t)c->expires, "job", c->job, "key", c->key, "kwargs", c->kwargs,
			      "nonce", c->nonce, "target", c->target, "task", c->task, "v", SIG_VERSION);
	json_t *f = for_json(c);

	/* Only when present: a task without it signs as it always did. */
	if (o && f)
		json_object_set(o, "for", f);
	json_decref(f);
	if (o == NULL) {
		snprintf(err, errlen, "cannot build the signed form (args must be a list, kwargs an object)");
		return NULL;
	}
	unsigned char *out = cr_canon_signed(SIG_DOMAIN, o, len, err, errlen);

	json_decref(o);
	return out;
}

json_t *cr_sig_make_header(const struct signing_key *k, const char *task, json_t *args, json_t *kwargs,
			const char *target, const char *job, long long expires, char *err, size_t errlen)
{
	return cr_sig_make_header_for(k, task, args, kwargs, target, job, expires, NULL, NULL, err, errlen);
}

json_t *cr_sig_make_header_for(const struct signing_key *k, const char *task, json_t *args, json_t *kwargs,
			    const char *target, const char *job, long long expires, const char *for_schedule,
			    const char *for_key, char *err, size_t errlen)
{
	struct sig_claims c;
	unsigned char raw[SIG_NONCE_HEX / 2], *msg;
	size_t len = 0;
	char *sig64;
	json_t *h = NULL;

	memset(&c, 0, sizeof(c));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(c.nonce, sizeof(c.nonce), raw, sizeof(raw));
	if (!cr_copy_str(c.key, sizeof(c.key), k->id) || !cr_copy_str(c.target, sizeof(c.target), target) ||
	    !cr_copy_str(c.job, sizeof(c.job), job ? job : "") || !cr_copy_str(c.task, sizeof(c.task), task)) {
		snprintf(err, errlen, "cannot sign: a field is too long");
		return NULL;
	}
	if ((for_schedule && for_schedule[0] && !valid_schedule(for_schedule)) ||
	    (for_key && for_key[0] && (!cr_valid_key_id(for_key) || !for_schedule || !for_schedule[0]))) {
		snprintf(err, errlen, "cannot sign: invalid schedule name or schedule key");
		return NULL;
	}
	cr_copy_str(c.for_schedule, sizeof(c.for_schedule), for_schedule ? for_schedule : "");
	cr_copy_str(c.for_key, sizeof(c.for_key), for_key ? for_key : "");
	c.expires = expires;
	c.args = args;
	c.kwargs = kwargs;
	if ((msg = signed_bytes(&c, &len, err, errlen)) == NULL)
		return NULL;
	crypto_sign_detached(c.sig, NULL, msg, len, k->sk);
	free(msg);
	if ((sig64 = cr_b64_encode(c.sig, sizeof(c.sig))) != NULL)
		h = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s}", "v", SIG_VERSION, "key", c.key, "nonce",
			      c.nonce, "expires", (json_int_t)c.expires, "target", c.target, "job", c.job, "sig",
			      sig64);
	if (h && c.for_schedule[0])
		json_object_set_new(h, "for", for_json(&c));
	free(sig64);
	if (h == NULL)
		snprintf(err, errlen, "cannot sign: out of memory");
	return h;
}

/* "for": exactly {"schedule": NAME} or {"schedule": NAME, "key": KEYID}. */
static int for_field(json_t *f, struct sig_claims *c, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(f, "schedule"));
	json_t *key = json_object_get(f, "key");
	size_t want = key ? 2 : 1;

	if (f == NULL)
		return 0;
	if (!json_is_object(f) || json_object_size(f) != want || !valid_schedule(name) ||
	    (key && !cr_valid_key_id(json_string_value(key))))
		return snprintf(err, errlen, "the signature's \"for\" is not {\"schedule\": NAME, \"key\": KEYID}"), -1;
	cr_copy_str(c->for_schedule, sizeof(c->for_schedule), name);
	cr_copy_str(c->for_key, sizeof(c->for_key), key ? json_string_value(key) : "");
	return 0;
}

/* The header's own fields, each checked for kind and bounds. */
static int header_fields(json_t *h, struct sig_claims *c, char *err, size_t errlen)
{
	static const char *const keys[] = { "v", "key", "nonce", "expires", "target", "job", "sig", "for" };
	const char *k, *sig64 = json_string_value(json_object_get(h, "sig"));
	json_t *v, *exp = json_object_get(h, "expires");
	size_t n = 0;
	unsigned char *raw;

	if (!json_is_object(h))
		return snprintf(err, errlen, "the %s header is not an object", SIG_HEADER), -1;
	json_object_foreach(h, k, v) {
		int known = 0;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			known |= !strcmp(k, keys[i]);
		if (!known) {
			char shown[33];
			cr_copy_printable(shown, sizeof(shown), k);
			return snprintf(err, errlen, "the signature has an unexpected field '%s'", shown), -1;
		}
	}
	if (json_integer_value(json_object_get(h, "v")) != SIG_VERSION || !json_is_integer(json_object_get(h, "v")))
		return snprintf(err, errlen, "the signature is not of version %d", SIG_VERSION), -1;
	if (!cr_valid_key_id(json_string_value(json_object_get(h, "key"))) ||
	    !valid_nonce(json_string_value(json_object_get(h, "nonce"))) || !json_is_integer(exp) ||
	    !valid_target(json_string_value(json_object_get(h, "target"))) ||
	    !json_is_string(json_object_get(h, "job")) || sig64 == NULL)
		return snprintf(err, errlen, "the signature's key, nonce, expires, target, job or sig is missing or invalid"), -1;
	cr_copy_str(c->key, sizeof(c->key), json_string_value(json_object_get(h, "key")));
	cr_copy_str(c->nonce, sizeof(c->nonce), json_string_value(json_object_get(h, "nonce")));
	cr_copy_str(c->target, sizeof(c->target), json_string_value(json_object_get(h, "target")));
	c->expires = json_integer_value(exp);
	if (!cr_copy_str(c->job, sizeof(c->job), json_string_value(json_object_get(h, "job"))) ||
	    (c->job[0] && !cr_valid_task_id(c->job)))
		return snprintf(err, errlen, "the signature's job id is invalid"), -1;
	raw = cr_b64_decode(sig64, strlen(sig64), sizeof(c->sig), &n);
	if (raw == NULL || n != sizeof(c->sig)) {
		free(raw);
		return snprintf(err, errlen, "the signature is not 64 bytes of base64"), -1;
	}
	memcpy(c->sig, raw, sizeof(c->sig));
	free(raw);
	return for_field(json_object_get(h, "for"), c, err, errlen);
}

static int set_body(struct sig_claims *c, const char *task, json_t *args, json_t *kwargs, char *err, size_t errlen)
{
	if (task == NULL || !cr_valid_task_name(task) || !cr_copy_str(c->task, sizeof(c->task), task) ||
	    !json_is_array(args) || !json_is_object(kwargs)) {
		snprintf(err, errlen, "signed task name, args or kwargs invalid");
		return -1;
	}
	c->args = json_incref(args);
	c->kwargs = json_incref(kwargs);
	return 0;
}

int cr_sig_claims_from_header(json_t *hdr, const char *task, json_t *args, json_t *kwargs,
			   struct sig_claims *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (header_fields(hdr, c, err, errlen) < 0 || set_body(c, task, args, kwargs, err, errlen) < 0) {
		cr_sig_claims_free(c);
		return -1;
	}
	return 0;
}

json_t *cr_sig_claims_to_json(const struct sig_claims *c)
{
	char *sig64 = cr_b64_encode(c->sig, sizeof(c->sig));
	json_t *o = sig64 ? json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:O, s:O}", "v", SIG_VERSION,
				      "key", c->key, "nonce", c->nonce, "expires", (json_int_t)c->expires,
				      "target", c->target, "job", c->job, "sig", sig64, "task", c->task,
				      "args", c->args, "kwargs", c->kwargs) : NULL;
	free(sig64);
	if (o && c->for_schedule[0])
		json_object_set_new(o, "for", for_json(c));
	return o;
}

int cr_sig_claims_from_json(json_t *o, struct sig_claims *c, char *err, size_t errlen)
{
	json_t *h;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(o))
		return snprintf(err, errlen, "signature claims are not an object"), -1;
	/* The header's fields, then exactly task, args and kwargs besides. */
	if ((h = json_deep_copy(o)) == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	json_object_del(h, "task");
	json_object_del(h, "args");
	json_object_del(h, "kwargs");
	rc = cr_sig_claims_from_header(h, json_string_value(json_object_get(o, "task")), json_object_get(o, "args"),
				    json_object_get(o, "kwargs"), c, err, errlen);
	json_decref(h);
	return rc;
}

void cr_sig_claims_free(struct sig_claims *c)
{
	json_decref(c->args);
	json_decref(c->kwargs);
	c->args = c->kwargs = NULL;
}

static int has_role(const struct sig_host *h, const char *role)
{
	for (int i = 0; i < h->nroles; i++)
		if (!strcmp(h->roles[i], role))
			return 1;
	return 0;
}

static int meant_for(const struct sig_claims *c, const struct sig_host *h)
{
	if (!strncmp(c->target, "host.", 5))
		return !strcmp(c->target + 5, h->hostname);
	return !strncmp(c->target, "role.", 5) && has_role(h, c->target + 5);
}

/* The key's limits: its operations, and hosts of its roles. */
static int within_limits(const struct trusted_key *k, const struct sig_claims *c, const struct sig_host *h,
			 char *err, size_t errlen)
{
	const char *op = cr_sig_operation(c->task);
	int ok = k->nops == 0, in_role = k->nroles == 0;

	for (int i = 0; i < k->nops; i++)
		ok |= !strcmp(k->ops[i], op);
	if (!ok)
		return snprintf(err, errlen, "key '%s' may not sign '%s' operations", k->id, op), -1;
	for (int i = 0; i < k->nroles; i++)
		in_role |= has_role(h, k->roles[i]);
	if (!in_role)
		return snprintf(err, errlen, "key '%s' may not sign tasks for host %s (not in its roles)", k->id,
				h->hostname), -1;
	return 0;
}

int cr_sig_verify(const struct keyring *kr, const struct sig_claims *c, const struct sig_host *h,
	       char *err, size_t errlen)
{
	const struct trusted_key *k = cr_keyring_find(kr, c->key);
	unsigned char *msg;
	size_t len = 0;
	int bad;

	if (k == NULL)
		return snprintf(err, errlen, "signed by key '%s', which this host does not trust", c->key), -1;
	if ((msg = signed_bytes(c, &len, err, errlen)) == NULL)
		return -1;
	bad = crypto_sign_verify_detached(c->sig, msg, len, k->pk) != 0;
	free(msg);
	if (bad)
		return snprintf(err, errlen, "bad signature (key '%s'): the task was altered or forged", c->key), -1;
	if ((double)c->expires <= h->now)
		return snprintf(err, errlen, "the signed task expired %.0f s ago", h->now - (double)c->expires), -1;
	if ((double)c->expires > h->now + SIG_MAX_LIFETIME + 300)
		return snprintf(err, errlen, "the signed task is valid for more than %d days", SIG_MAX_LIFETIME / 86400), -1;
	if (!meant_for(c, h))
		return snprintf(err, errlen, "the task was signed for %s, not for this host (%s)", c->target,
				h->hostname), -1;
	return within_limits(k, c, h, err, errlen);
}
