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

/* Scoped by the signed target: only the daemons that consume host.H (or
 * role.R) may write its nonces (celeryroot acl), so another host's stolen
 * password cannot reset them. */
void net_sig_nonce_key(const struct sig_claims *c, char *buf, size_t len)
{
	snprintf(buf, len, NONCE_PREFIX "%s:%s:%s", c->target, c->key, c->nonce);
}

/* The nonce's value names the host that took it: the same task on another
 * host (a --one-of task copied into a second queue) is a replay there. */
void net_sig_nonce_value(const struct net_state *st, const char *task_id, int done, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s:%s", done ? "done:" : "", st->cfg->hostname, task_id);
}

static int trusts_any(const struct net_state *st)
{
	return st->trusted != NULL && st->trusted->n > 0;
}

int net_sig_check(struct net_state *st, const struct celery_msg *m, struct sig_claims *c, char *err, size_t errlen)
{
	struct sig_host h = { st->cfg->hostname, st->cfg->roles, st->cfg->nroles, cr_now_wall() };

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
	if (cr_sig_claims_from_header(m->sig, m->task, m->args, m->kwargs, c, err, errlen) < 0)
		return -1;
	if (strcmp(c->job, m->group) != 0) {
		snprintf(err, errlen, "bad signature: the task's job id differs from the signed one");
		cr_sig_claims_free(c);
		return -1;
	}
	if (cr_sig_verify(st->trusted, c, &h, err, errlen) < 0) {
		cr_sig_claims_free(c);
		return -1;
	}
	return 0;
}

/* 0: the nonce is ours (new, or this very task redelivered); -CR_E_REPLAY
 * refused; -CR_E_AGAIN the broker could not be asked. */
int net_sig_take_nonce(struct net_state *st, const struct sig_claims *c, const char *task_id, char *err,
		      size_t errlen)
{
	char key[NETSIG_NONCE_KEY_MAX], val[NETSIG_NONCE_VAL_MAX], exat[24];
	redisReply *r;
	int rc = -CR_E_AGAIN;

	net_sig_nonce_key(c, key, sizeof(key));
	net_sig_nonce_value(st, task_id, 0, val, sizeof(val));
	snprintf(exat, sizeof(exat), "%lld", c->expires + NONCE_SLACK);
	if (!net_link_up(st))
		return snprintf(err, errlen, "cannot check the nonce: the broker is unreachable"), -CR_E_AGAIN;
	r = cr_rconn_cmd(st->link.cc, "SET", key, val, "NX", "EXAT", exat, NULL);
	if (r && r->type == REDIS_REPLY_STATUS) {
		rc = 0;
	} else if (r && r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		r = cr_rconn_cmd(st->link.cc, "GET", key, NULL);
		if (r && r->type == REDIS_REPLY_STRING && strcmp(r->str, val) == 0) {
			rc = 0;   /* taken back by this host before it was answered */
		} else if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL)) {
			rc = -CR_E_REPLAY;
			snprintf(err, errlen, "replayed task refused: nonce %s of key '%s' was already used", c->nonce, c->key);
		} else {
			snprintf(err, errlen, "cannot check the nonce: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
		}
	} else {
		snprintf(err, errlen, "cannot check the nonce: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : "no reply");
	}
	if (r)
		freeReplyObject(r);
	return rc;
}
