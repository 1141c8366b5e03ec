/* Signed tasks on net's side: checked before anything reaches priv, with a
 * replay guard in Redis.  A nonce is taken with SET NX until the task's
 * signed expiry; the value is the task id, so that kombu's redelivery of an
 * unfinished task (same id) is not mistaken for a replay, and becomes
 * "done:<id>" once the task has been answered. */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rconn.h"
#include "timeutil.h"

#define NONCE_PREFIX "celeryroot:nonce:"
/* A nonce outlives its task's expiry a little, for clocks that disagree. */
#define NONCE_SLACK 300

static void nonce_key(const struct sig_claims *c, char *buf, size_t len)
{
	snprintf(buf, len, NONCE_PREFIX "%s:%s", c->key, c->nonce);
}

static int trusts_any(const struct net_state *st)
{
	return st->trusted != NULL && st->trusted->n > 0;
}

int netsig_check(struct net_state *st, const struct celery_msg *m, struct sig_claims *c, char *err, size_t errlen)
{
	struct sig_host h = { st->cfg->hostname, st->cfg->roles, st->cfg->nroles, now_wall() };

	memset(c, 0, sizeof(*c));
	if (m->sig == NULL) {
		if (st->cfg->require_signed)
			return snprintf(err, errlen, "unsigned task refused: this host requires signed tasks "
				        "(sign with 'celeryroot' and a key from its trusted_keys)"), -1;
		return 0;
	}
	/* A host that trusts no key and requires none ignores signatures. */
	if (!trusts_any(st) && !st->cfg->require_signed)
		return 0;
	if (sig_claims_from_header(m->sig, m->task, m->args, m->kwargs, c, err, errlen) < 0)
		return -1;
	if (strcmp(c->job, m->group) != 0) {
		snprintf(err, errlen, "bad signature: the task's job id differs from the signed one");
		sig_claims_free(c);
		return -1;
	}
	if (sig_verify(st->trusted, c, &h, err, errlen) < 0) {
		sig_claims_free(c);
		return -1;
	}
	return 0;
}

/* 0: the nonce is ours (new, or this very task redelivered); -1 refused. */
int netsig_take_nonce(struct net_state *st, const struct sig_claims *c, const char *task_id, char *err,
		      size_t errlen)
{
	char key[sizeof(NONCE_PREFIX) + KEY_ID_MAX + SIG_NONCE_HEX + 2], exat[24];
	redisReply *r;
	int rc = -1;

	nonce_key(c, key, sizeof(key));
	snprintf(exat, sizeof(exat), "%lld", c->expires + NONCE_SLACK);
	if (net_redis_ensure(st) < 0)
		return snprintf(err, errlen, "cannot check the nonce: the broker is unreachable"), -1;
	r = rconn_cmd(st->cc, "SET", key, task_id, "NX", "EXAT", exat, NULL);
	if (r && r->type == REDIS_REPLY_STATUS) {
		rc = 0;
	} else if (r && r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		r = rconn_cmd(st->cc, "GET", key, NULL);
		if (r && r->type == REDIS_REPLY_STRING && strcmp(r->str, task_id) == 0)
			rc = 0;   /* redelivered before it was answered */
		else
			snprintf(err, errlen, "replayed task refused: nonce %s of key '%s' was already used", c->nonce, c->key);
	} else {
		snprintf(err, errlen, "cannot check the nonce: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

void netsig_nonce_done(struct net_state *st, const struct sig_claims *c, const char *task_id)
{
	char key[sizeof(NONCE_PREFIX) + KEY_ID_MAX + SIG_NONCE_HEX + 2], val[TASK_ID_MAX + 8];
	redisReply *r;

	nonce_key(c, key, sizeof(key));
	snprintf(val, sizeof(val), "done:%s", task_id);
	if (net_redis_ensure(st) < 0)
		return;
	r = rconn_cmd(st->cc, "SET", key, val, "XX", "KEEPTTL", NULL);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		error_f("cannot mark nonce %s as used", c->nonce);
	if (r)
		freeReplyObject(r);
}
