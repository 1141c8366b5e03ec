/* Signed requests, checked again in priv.  net has checked them already,
 * but net may be compromised: priv holds the same trusted keys and accepts
 * a request only when its claims carry a valid signature of a key it
 * trusts, for this host, not expired, within the key's limits, never seen
 * before under another task id (the nonce file, nonces.h: it survives
 * restarts), and when the request asks for exactly what was signed. */
#include "config.h"
#include "crerr.h"
#include "priv.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "nonces.h"
#include "proto.h"
#include "sign.h"
#include "taskreq.h"

/* What the signed task asks for must be what net sent. */
static int same_request(const struct sig_claims *c, const struct proto_req *r, char *err, size_t errlen)
{
	struct proto_req *want = calloc(1, sizeof(*want));
	char why[CR_ERR_MAX];
	int ok;

	if (want == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	ok = cr_taskreq_build(c->task, c->args, c->kwargs, want, why, sizeof(why)) == 0 && cr_taskreq_same(want, r) &&
	     strcmp(c->job, r->job) == 0;
	free(want);
	if (!ok)
		snprintf(err, errlen, "the request differs from what key '%s' signed (task %s)", c->key, c->task);
	return ok ? 0 : -1;
}

/* On disk before priv acts: a first use, or this task delivered again. */
static int remember(struct priv_ctx *p, const struct sig_claims *c, const struct proto_req *r, double now, char *err,
		    size_t errlen)
{
	struct nonce_rec n = { .expires = c->expires };

	if (p->nonces == NULL)
		return snprintf(err, errlen, "refused: priv has no nonce file to record signed requests in"), -1;
	cr_copy_str(n.key, sizeof(n.key), c->key);
	cr_copy_str(n.nonce, sizeof(n.nonce), c->nonce);
	cr_copy_str(n.task, sizeof(n.task), r->task);
	switch (priv_nonces_use(p->nonces, &n, now, err, errlen)) {
	case NONCE_NEW:
		return 0;
	case NONCE_AGAIN:
		info_f("task %s (nonce %s of key '%s') delivered again", r->task, c->nonce, c->key);
		return 0;
	default:
		return -1;
	}
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

	/* Whether a request needs one is the dispatch table's call (PRIV_NEEDS_SIG). */
	if (r->sig == NULL)
		return snprintf(err, errlen, "no signature to check"), -1;
	if (!trusts_any(p) && !p->require_signed)
		return 0;
	if (cr_sig_claims_from_json(r->sig, &c, err, errlen) < 0)
		return -1;
	cr_copy_str(r->key, sizeof(r->key), c.key);
	/* For the audit: which schedule beat fired, and who signed it. */
	cr_copy_str(r->schedule, sizeof(r->schedule), c.for_schedule);
	cr_copy_str(r->schedule_key, sizeof(r->schedule_key), c.for_key);
	if (cr_sig_verify(p->keys, &c, &h, err, errlen) == 0 && same_request(&c, r, err, errlen) == 0)
		rc = remember(p, &c, r, h.now, err, errlen);
	cr_sig_claims_free(&c);
	return rc;
}
