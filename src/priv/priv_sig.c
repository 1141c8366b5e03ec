/* Signed requests, checked again in priv.  net has checked them already,
 * but net may be compromised: priv holds the same trusted keys and accepts
 * a request only when its claims carry a valid signature of a key it
 * trusts, for this host, not expired, within the key's limits, never seen
 * before, and when the request asks for exactly what was signed. */
#include "config.h"
#include "priv.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proto.h"
#include "sign.h"
#include "taskreq.h"

/* Nonces seen, until their task's expiry.  net keeps the fleet-wide record
 * in Redis; this one guards priv against a net that replays. */
#define NONCE_SLOTS 8192

struct seen {
	unsigned char h[16];    /* hash of key id and nonce */
	long long expires;
};

static struct seen seen[NONCE_SLOTS];

static void nonce_hash(const struct sig_claims *c, unsigned char h[16])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, (const unsigned char *)c->key, strlen(c->key) + 1);
	crypto_generichash_update(&st, (const unsigned char *)c->nonce, strlen(c->nonce));
	crypto_generichash_final(&st, h, 16);
}

/* 0 and remembered, or -1 when seen before.  When every slot holds a live
 * nonce the one closest to its expiry gives way (logged): Redis still
 * guards it, and priv must not stop serving. */
static int remember(const struct sig_claims *c, double now)
{
	unsigned char h[16];
	size_t victim = 0;

	nonce_hash(c, h);
	for (size_t i = 0; i < NONCE_SLOTS; i++) {
		if (seen[i].expires > 0 && (double)seen[i].expires >= now && !memcmp(seen[i].h, h, 16))
			return -1;
		if (seen[i].expires < seen[victim].expires)
			victim = i;
	}
	if (seen[victim].expires > 0 && (double)seen[victim].expires >= now)
		info_f("nonce table full: forgetting one that expires at %lld", seen[victim].expires);
	memcpy(seen[victim].h, h, 16);
	seen[victim].expires = c->expires;
	return 0;
}

/* What the signed task asks for must be what net sent. */
static int same_request(const struct sig_claims *c, const struct proto_req *r, char *err, size_t errlen)
{
	struct proto_req *want = calloc(1, sizeof(*want));
	char why[256];
	int ok;

	if (want == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	ok = taskreq_build(c->task, c->args, c->kwargs, want, why, sizeof(why)) == 0 && taskreq_same(want, r) &&
	     strcmp(c->job, r->job) == 0;
	free(want);
	if (!ok)
		snprintf(err, errlen, "the request differs from what key '%s' signed (task %s)", c->key, c->task);
	return ok ? 0 : -1;
}

static int trusts_any(const struct priv_ctx *p)
{
	return p->keys != NULL && p->keys->n > 0;
}

int priv_sig_check(struct priv_ctx *p, struct proto_req *r, char *err, size_t errlen)
{
	struct sig_host h = { p->hostname, p->roles, p->nroles, (double)time(NULL) };
	struct sig_claims c;
	int rc = -1;

	if (r->type == REQ_HELLO)
		return 0;
	if (r->sig == NULL) {
		if (p->require_signed)
			return snprintf(err, errlen, "unsigned %s refused: this host requires signed tasks",
					proto_type_name(r->type)), -1;
		return 0;
	}
	if (!trusts_any(p) && !p->require_signed)
		return 0;
	if (sig_claims_from_json(r->sig, &c, err, errlen) < 0)
		return -1;
	copy_str(r->key, sizeof(r->key), c.key);
	if (sig_verify(p->keys, &c, &h, err, errlen) == 0 && same_request(&c, r, err, errlen) == 0) {
		rc = remember(&c, h.now);
		if (rc < 0)
			snprintf(err, errlen, "replayed request refused: nonce %s of key '%s' was already used", c.nonce, c.key);
	}
	sig_claims_free(&c);
	return rc;
}
