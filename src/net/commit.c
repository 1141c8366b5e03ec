/* Settling a taken message: one MULTI/EXEC writes everything that follows
 * from it (its audit record in the stream, its nonce marked used, its
 * deferral, its result meta and the PUBLISH a waiting client hears) and
 * removes it from the host's taken list.  Either all of that happens or
 * none of it, so a message is never answered twice nor dropped unanswered:
 * a commit that cannot reach the broker is kept in its slot and tried again
 * (worker_commit_due) until it succeeds, and if net dies first the message
 * is still in the taken list and is taken back by the next start. */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crerr.h"
#include "log.h"
#include "rconn.h"
#include "timeutil.h"

#define DEFER_PREFIX "celeryroot:deferred:"
#define COMMIT_MAX_CMDS 8
/* After the broker refused a commit (an ACL error, say): try again then. */
#define COMMIT_RETRY_S 5.0

#define S ((size_t)-1)

/* 1 committed, 0 the broker refused it (nothing was done), -1 the link
 * failed (we do not know; the retry is harmless: every command is
 * idempotent). */
static int commit_exec(struct net_state *st, const struct rconn_cmd *cmds, int n)
{
	char err[CR_ERR_MAX];
	int rc = rconn_pipeline(st->link.cc, cmds, n, 1, err, sizeof(err));

	if (rc == 0)
		log_refusal("the broker refused a commit: %s (check this host's ACL: 'celeryroot acl --help')", err);
	if (rc < 0)
		net_link_drop(st, st->link.cc->errstr);
	return rc;
}

/* The strings the commands point into. */
struct commit_bufs {
	char maxlen[24], ttl[24], at[24];
	char nonce[NETSIG_NONCE_KEY_MAX];
	char done[NETSIG_NONCE_VAL_MAX];
	char meta_key[sizeof(CELERY_META_PREFIX) + TASK_ID_MAX];
	char defer_key[sizeof(DEFER_PREFIX) + HOSTNAME_MAX];
};

static int commit_build(struct net_state *st, struct inflight *f, struct rconn_cmd *cmds, struct commit_bufs *b)
{
	const struct settle *s = &f->settle;
	int n = 0;

	memset(cmds, 0, sizeof(struct rconn_cmd) * COMMIT_MAX_CMDS);
	snprintf(b->maxlen, sizeof(b->maxlen), "%d", AUDIT_STREAM_MAXLEN);
	snprintf(b->ttl, sizeof(b->ttl), "%d", st->cfg->result_expires_s);
	snprintf(b->meta_key, sizeof(b->meta_key), CELERY_META_PREFIX "%s", f->msg.id);
	if (s->audit) {
		struct rconn_cmd *c = &cmds[n++];
		rconn_arg(c, "XADD", S); rconn_arg(c, AUDIT_STREAM, S); rconn_arg(c, "MAXLEN", S); rconn_arg(c, "~", S);
		rconn_arg(c, b->maxlen, S); rconn_arg(c, "*", S); rconn_arg(c, "host", S); rconn_arg(c, st->cfg->hostname, S);
		rconn_arg(c, "record", S); rconn_arg(c, s->audit, S);
	}
	if (s->nonce_done && f->claims.key[0]) {
		struct rconn_cmd *c = &cmds[n++];
		netsig_nonce_key(&f->claims, b->nonce, sizeof(b->nonce));
		netsig_nonce_value(st, f->msg.id, 1, b->done, sizeof(b->done));
		rconn_arg(c, "SET", S); rconn_arg(c, b->nonce, S); rconn_arg(c, b->done, S); rconn_arg(c, "XX", S); rconn_arg(c, "KEEPTTL", S);
	}
	if (s->defer) {
		struct rconn_cmd *c = &cmds[n++];
		snprintf(b->at, sizeof(b->at), "%lld", s->defer_at);
		snprintf(b->defer_key, sizeof(b->defer_key), DEFER_PREFIX "%s", st->cfg->hostname);
		rconn_arg(c, "ZADD", S); rconn_arg(c, b->defer_key, S); rconn_arg(c, b->at, S); rconn_arg(c, s->defer, S);
	}
	if (s->meta) {
		struct rconn_cmd *set = &cmds[n++], *pub = &cmds[n++];
		rconn_arg(set, "SETEX", S); rconn_arg(set, b->meta_key, S); rconn_arg(set, b->ttl, S); rconn_arg(set, s->meta, S);
		rconn_arg(pub, "PUBLISH", S); rconn_arg(pub, b->meta_key, S); rconn_arg(pub, s->meta, S);
	}
	struct rconn_cmd *rem = &cmds[n++];
	rconn_arg(rem, "LREM", S); rconn_arg(rem, st->taken_key, S); rconn_arg(rem, "1", S); rconn_arg(rem, f->raw, f->rawlen);
	return n;
}

/* 1 done (the slot is free again), 0 not yet. */
static int worker_commit(struct net_state *st, struct inflight *f)
{
	struct rconn_cmd cmds[COMMIT_MAX_CMDS];
	struct commit_bufs b;
	int rc = commit_exec(st, cmds, commit_build(st, f, cmds, &b));

	if (rc == 1) {
		worker_release(f);
		return 1;
	}
	/* Refused: the broker will not change its mind at once. */
	f->settle.retry_at = now_mono() + (rc == 0 ? COMMIT_RETRY_S : 0);
	return 0;
}

void worker_settle(struct net_state *st, struct inflight *f, const char *status, json_t *result)
{
	f->state = SLOT_SETTLING;
	if (status != NULL && (f->settle.meta = result_meta(f->msg.id, status, result)) == NULL)
		error_f("cannot encode the %s result of %s", status, f->msg.id);
	if (status == NULL)
		json_decref(result);
	f->settle.retry_at = 0;
	if (net_link_up(st))
		worker_commit(st, f);
}

void worker_commit_due(struct net_state *st)
{
	double now = now_mono();

	for (int i = 0; i < NET_MAX_INFLIGHT && net_link_up(st); i++) {
		struct inflight *f = &st->fl[i];
		if (f->state == SLOT_SETTLING && f->settle.retry_at <= now)
			worker_commit(st, f);
	}
}
