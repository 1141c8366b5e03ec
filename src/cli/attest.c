/* Checking result records against their hosts' keys (see attest.h). */
#include "config.h"
#include "attest.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crerr.h"
#include "record.h"

static const char *str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

void verifier_init(struct verifier *v)
{
	const char *env = getenv("CELERYROOT_UNSIGNED_HOSTS");

	memset(v, 0, sizeof(*v));
	v->kh_ok = kh_load(&v->kh, v->kh_err, sizeof(v->kh_err)) == 0;
	v->accept_unsigned = env != NULL && !strcmp(env, "accept");
}

void verifier_prefetch(struct verifier *v, redisContext *c, const char *const *hosts, size_t n)
{
	size_t m = 0;

	if (!v->kh_ok || n == 0)
		return;
	v->names = calloc(n, sizeof(*v->names));
	v->keys = calloc(n, sizeof(*v->keys));
	if (v->names == NULL || v->keys == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		int dup = 0;
		for (size_t j = 0; j < m; j++)
			dup |= !strcmp(v->names[j], hosts[i]);
		if (!dup && cr_valid_hostname(hosts[i]) && kh_find(&v->kh, hosts[i]) == NULL)
			v->names[m++] = hosts[i];
	}
	if (m > 0 && reg_keys_fetch(c, v->names, m, v->keys) < 0)
		m = 0;
	v->n = m;
}

void verifier_free(struct verifier *v)
{
	kh_free(&v->kh);
	free(v->names);
	free(v->keys);
	v->names = NULL;
	v->keys = NULL;
}

/* What the registry said of host, if it was read (NULL: not read, or
 * unknown: a host that was not prefetched is taken as having no key). */
static const struct reg_key *registry_key(const struct verifier *v, const char *host)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->names[i], host))
			return &v->keys[i];
	return NULL;
}

/* Failed, "forged", and why: never the host's outcome. */
static json_t *forged(const char *shown, const char *host, const char *why)
{
	json_t *rec = cr_record_new(shown, "failed");
	char err[CR_ERR_MAX];

	snprintf(err, sizeof(err), "forged or unsigned result, not shown as %s's outcome: %s", host[0] ? host : shown, why);
	cr_record_set_error(rec, err);
	json_object_set_new(rec, "forged", json_true());
	return rec;
}

/* The payload names what was asked of whom. */
static int names_match(json_t *payload, const char *host, const char *task_id, const char *job_id, char *why, size_t len)
{
	if (strcmp(str(payload, "host"), host) != 0)
		return snprintf(why, len, "signed by %s for host '%.64s'", host, str(payload, "host")), -1;
	if (strcmp(str(payload, "task"), task_id) != 0 || strcmp(str(payload, "job"), job_id) != 0)
		return snprintf(why, len, "signed by %s for another task (task '%.64s' of job '%.64s'): a replayed "
				"result", host, str(payload, "task"), str(payload, "job")), -1;
	return 0;   /* a valid status: cr_hostsig_verify_record checked it */
}

/* The key to check host's records with: 1, 0 none, -1 error (why set). */
static int host_key(struct verifier *v, const char *host, unsigned char pk[HOST_KEY_LEN], char *why, size_t len)
{
	int got;

	if (!v->kh_ok)
		return snprintf(why, len, "cannot check it: %.400s", v->kh_err), -1;
	if (!cr_valid_hostname(host))
		return snprintf(why, len, "it names no valid host"), -1;
	got = kh_use(&v->kh, host, registry_key(v, host), pk);
	return got;
}

json_t *attest_record(struct verifier *v, const char *host, const char *shown, const char *task_id,
		      const char *job_id, json_t *result)
{
	const char *who = host[0] ? host : str(result, "host");
	unsigned char pk[HOST_KEY_LEN];
	char why[CR_ERR_MAX], fp[FINGERPRINT_MAX];
	json_t *payload = NULL, *rec;
	int got = host_key(v, who, pk, why, sizeof(why));

	if (got < 0)
		return forged(shown, who, why);
	if (got == 0 && v->accept_unsigned) {
		/* Allowed for hosts that have no key at all (CELERYROOT_UNSIGNED_HOSTS). */
		rec = json_deep_copy(result);
		json_object_set_new(rec, "unsigned", json_true());
		return rec;
	}
	if (got == 0) {
		snprintf(why, sizeof(why), "unsigned: %s publishes no host key (a daemon older than host keys?), so "
			 "nothing shows this is its word", who);
		return forged(shown, who, why);
	}
	if (attest_check(result, pk, &payload, why, sizeof(why)) < 0 ||
	    names_match(payload, who, task_id, job_id, why, sizeof(why)) < 0) {
		json_decref(payload);
		kh_fingerprint(pk, fp);
		size_t l = strlen(why);
		snprintf(why + l, sizeof(why) - l, " (checked with %s's known key %s; if it has a new key, check it and "
			 "run 'celeryroot hosts trust %s')", who, fp, who);
		return forged(shown, who, why);
	}
	/* The host's word, and net's measure of time beside it. */
	rec = payload;
	json_object_set_new(rec, "duration_s", json_is_number(json_object_get(result, "duration_s"))
					       ? json_real(json_number_value(json_object_get(result, "duration_s")))
					       : json_real(0.0));
	return rec;
}
