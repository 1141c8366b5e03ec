/* Settling a taken message: one MULTI/EXEC writes everything that follows
 * from it (its audit record in the stream, its nonce marked used, its
 * deferral, its result meta and the PUBLISH a waiting client hears) and
 * removes it from the host's taken list.  Either all of that happens or
 * none of it, so a message is never answered twice nor dropped unanswered:
 * a commit that cannot reach the broker is kept in its slot and tried again
 * (net_consumer_commit_due) until it succeeds, and if net dies first the message
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
static int commit_exec(struct net_state *st, const struct cr_rconn_cmd *cmds, int n)
{
	char err[CR_ERR_MAX];
	int rc = cr_rconn_pipeline(st->link.cc, cmds, n, 1, err, sizeof(err));

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

static int commit_build(struct net_state *st, struct inflight *f, struct cr_rconn_cmd *cmds, struct commit_bufs *b)
{
	const struct settle *s = &f->settle;
	int n = 0;

	memset(cmds, 0, sizeof(struct cr_rconn_cmd) * COMMIT_MAX_CMDS);
	snprintf(b->maxlen, sizeof(b->maxlen), "%d", AUDIT_STREAM_MAXLEN);
	snprintf(b->ttl, sizeof(b->ttl), "%d", st->cfg->result_expires_s);
	snprintf(b->meta_key, sizeof(b->meta_key), CELERY_META_PREFIX "%s", f->msg.id);
	if (s->audit) {
		struct cr_rconn_cmd *c = &cmds[n++];
		cr_rconn_arg(c, "XADD", S); cr_rconn_arg(c, AUDIT_STREAM, S); cr_rconn_arg(c, "MAXLEN", S); cr_rconn_arg(c, "~", S);
		cr_rconn_arg(c, b->maxlen, S); cr_rconn_arg(c, "*", S); cr_rconn_arg(c, "host", S); cr_rconn_arg(c, st->cfg->hostname, S);
		cr_rconn_arg(c, "record", S); cr_rconn_arg(c, s->audit, S);
	}
	if (s->nonce_done && f->claims.key[0]) {
		struct cr_rconn_cmd *c = &cmds[n++];
		net_sig_nonce_key(&f->claims, b->nonce, sizeof(b->nonce));
		net_sig_nonce_value(st, f->msg.id, 1, b->done, sizeof(b->done));
		cr_rconn_arg(c, "SET", S); cr_rconn_arg(c, b->nonce, S); cr_rconn_arg(c, b->done, S); cr_rconn_arg(c, "XX", S); cr_rconn_arg(c, "KEEPTTL", S);
	}
	if (s->defer) {
		struct cr_rconn_cmd *c = &cmds[n++];
		snprintf(b->at, sizeof(b->at), "%lld", s->defer_at);
		snprintf(b->defer_key, sizeof(b->defer_key), DEFER_PREFIX "%s", st->cfg->hostname);
		cr_rconn_arg(c, "ZADD", S); cr_rconn_arg(c, b->defer_key, S); cr_rconn_arg(c, b->at, S); cr_rconn_arg(c, s->defer, S);
	}
	if (s->meta) {
		struct cr_rconn_cmd *set = &cmds[n++], *pub = &cmds[n++];
		cr_rconn_arg(set, "SETEX", S); cr_rconn_arg(set, b->meta_key, S); cr_rconn_arg(set, b->ttl, S); cr_rconn_arg(set, s->meta, S);
		cr_rconn_arg(pub, "PUBLISH", S); cr_rconn_arg(pub, b->meta_key, S); cr_rconn_arg(pub, s->meta, S);
	}
	struct cr_rconn_cmd *rem = &cmds[n++];
	cr_rconn_arg(rem, "LREM", S); cr_rconn_arg(rem, st->taken_key, S); cr_rconn_arg(rem, "1", S); cr_rconn_arg(rem, f->raw, f->rawlen);
	return n;
}

/* 1 done (the slot is free again), 0 not yet. */
static int consumer_commit(struct net_state *st, struct inflight *f)
{
	struct cr_rconn_cmd cmds[COMMIT_MAX_CMDS];
	struct commit_bufs b;
	int rc = commit_exec(st, cmds, commit_build(st, f, cmds, &b));

	if (rc == 1) {
		net_consumer_release(f);
		return 1;
	}
	/* Refused: the broker will not change its mind at once. */
	f->settle.retry_at = cr_now_mono() + (rc == 0 ? COMMIT_RETRY_S : 0);
	return 0;
}

void net_consumer_settle(struct net_state *st, struct inflight *f, const char *status, json_t *result)
{
	f->state = SLOT_SETTLING;
	if (status != NULL && (f->settle.meta = net_result_meta(f->msg.id, status, result)) == NULL)
		error_f("cannot encode the %s result of %s", status, f->msg.id);
	if (status == NULL)
		json_decref(result);
	f->settle.retry_at = 0;
	if (net_link_up(st))
		consumer_commit(st, f);
}

void net_consumer_commit_due(struct net_state *st)
{
	double now = cr_now_mono();

	for (int i = 0; i < NET_MAX_INFLIGHT && net_link_up(st); i++) {
		struct inflight *f = &st->fl[i];
		if (f->state == SLOT_SETTLING && f->settle.retry_at <= now)
			consumer_commit(st, f);
	}
}
