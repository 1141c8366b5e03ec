/* Whose word each audit record in the stream is.  Anyone who can write to
 * Redis can XADD a record naming any host; only the host's root helper can
 * sign one with its host key.  So 'celeryroot audit' checks each record
 * against the key known_hosts holds for the host it names (learnt on first
 * use, as for results) and marks it: "host" (signed by it), "forged" (not
 * signed by its key: never shown as what it did), "unsigned" (the host has
 * no key: a daemon older than host keys), or "net" (net's own note of a
 * refusal, which only net vouches for). */
#include "config.h"
#include "audit_verify.h"

#include <stdlib.h>
#include <string.h>

#include "crerr.h"

static const char *str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* The distinct hosts the entries name, for one registry read. */
static size_t hosts_of(json_t *entries, const char **names)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(entries, i, e) {
		const char *h = str(e, "host");
		int dup = 0;
		for (size_t j = 0; j < n; j++)
			dup |= !strcmp(names[j], h);
		if (!dup && cr_valid_hostname(h))
			names[n++] = h;
	}
	return n;
}

static const char *judge(json_t *e, const unsigned char *pk)
{
	json_t *r = json_object_get(e, "record");

	if (json_object_get(r, "sig") == NULL && !strcmp(str(r, "by"), "net"))
		return "net";
	if (pk == NULL)
		return "unsigned";
	return av_sig_check(r, pk) == 1 && !strcmp(str(r, "host"), str(e, "host")) ? "host" : "forged";
}

void audit_mark(redisContext *c, json_t *entries)
{
	const char **names = calloc(json_array_size(entries) + 1, sizeof(*names));
	struct reg_key *rk = calloc(json_array_size(entries) + 1, sizeof(*rk));
	struct known_hosts kh;
	char err[CR_ERR_MAX];
	size_t n, i;
	json_t *e;
	int kh_ok = kh_load(&kh, err, sizeof(err)) == 0;

	if (!kh_ok)
		cli_err("%s: audit records cannot be checked", err);
	n = names && rk ? hosts_of(entries, names) : 0;
	if (kh_ok && n > 0)
		reg_keys_fetch(c, names, n, rk);
	json_array_foreach(entries, i, e) {
		unsigned char pk[HOST_KEY_LEN];
		int have = 0;
		for (size_t j = 0; kh_ok && j < n; j++)
			if (!strcmp(names[j], str(e, "host")))
				have = kh_use(&kh, names[j], &rk[j], pk) == 1;
		const char *who = kh_ok ? judge(e, have ? pk : NULL) : "forged";
		json_object_set_new(e, "signature", json_string(who));
		if (!strcmp(who, "forged"))
			json_object_set_new(e, "forged", json_true());
	}
	if (kh_ok)
		kh_free(&kh);
	free(names);
	free(rk);
}
