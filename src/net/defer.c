/* Maintenance windows on net's side.  priv decides (priv_defer.c: a
 * compromised net must not be able to skip a window): a disruptive change
 * that reaches it outside every window of this host is answered with a
 * signed "deferred" record saying when it will run.  net commits that:
 * the message goes to the sorted set celeryroot:deferred:<host>, scored by
 * run_at, its result becomes a DEFERRED state with that record, and it
 * leaves the taken list, all in one commit (commit.c).  Each second the due
 * ones go back to the host's queue (moved in one transaction), where they
 * run like any task (a signed one keeps its signature and its nonce, taken
 * by this task id and not yet answered, lets it through; priv's nonce file
 * knows the same task id).  net keeps one refusal of its own: a deferral
 * that would outlive the task's expiry, which only net knows. */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "crerr.h"
#include "log.h"
#include "ops.h"
#include "proto.h"
#include "rconn.h"
#include "timeutil.h"

#define DEFER_PREFIX "celeryroot:deferred:"
#define DEFER_BATCH "16"
#define S ((size_t)-1)

void net_defer_note_override(struct net_state *st, struct inflight *f, const struct proto_req *r)
{
	struct celery_msg *m = &f->msg;
	const struct cr_op *op = cr_op_by_req(r->type, r->op);

	/* Only a windowed operation (ops.h) would have been deferred. */
	if (st->nwindows == 0 || op == NULL || !(op->flags & CR_OP_WINDOWED) || r->check || !r->now ||
	    cr_winconf_open(st->windows, st->nwindows, (time_t)cr_clock_now()))
		return;
	/* The override is the operator's call; it goes on the record. */
	net_audit_publish_override(st, m->id, m->task, json_array_get(m->args, 0));
}

int net_defer_commit(struct inflight *f, json_t *rec, char *err, size_t errlen)
{
	struct celery_msg *m = &f->msg;
	const char *at = json_string_value(json_object_get(rec, "run_at"));
	double when, now = cr_clock_now();

	if (at == NULL || cr_iso8601_parse(at, &when) < 0)
		return snprintf(err, errlen, "priv deferred the task without a readable run_at"), -1;
	/* Deferral never outlives the task: it would only expire in the set. */
	if (m->has_expires && when - now > m->expires - cr_now_wall())
		return snprintf(err, errlen, "outside the maintenance windows; the next opens at %s, after the task expires "
				"(send it with a later expiry, or with --now)", at), -1;
	if ((f->settle.defer = json_dumps(m->envelope, JSON_COMPACT)) == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	f->settle.defer_at = (long long)when;
	info_f("task %s (%s) deferred to the maintenance window opening at %s", m->id, m->task, at);
	return 0;
}

/* Moves one due task from the deferred set to the host's queue: WATCH, then
 * ZREM and RPUSH in one MULTI, so it is in exactly one of the two. */
static void defer_move(struct net_state *st, const char *key, const char *queue, const char *p, size_t len)
{
	redisContext *c = st->link.cc;
	struct cr_rconn_cmd watch = { 0 }, check = { 0 }, cmds[2] = { { 0 } };
	char err[CR_ERR_MAX];

	cr_rconn_arg(&watch, "WATCH", S);
	cr_rconn_arg(&watch, key, S);
	cr_rconn_arg(&check, "ZSCORE", S);
	cr_rconn_arg(&check, key, S);
	cr_rconn_arg(&check, p, len);
	cr_rconn_arg(&cmds[0], "ZREM", S);
	cr_rconn_arg(&cmds[0], key, S);
	cr_rconn_arg(&cmds[0], p, len);
	cr_rconn_arg(&cmds[1], "RPUSH", S);
	cr_rconn_arg(&cmds[1], queue, S);
	cr_rconn_arg(&cmds[1], p, len);
	if (cr_rconn_pipeline(c, &watch, 1, 0, err, sizeof(err)) != 1)
		return;
	redisReply *r = cr_rconn_cmdargv(c, check.argc, check.argv, check.lens);
	int there = r != NULL && r->type == REDIS_REPLY_STRING;
	if (r)
		freeReplyObject(r);
	if (!there) {
		if ((r = cr_rconn_cmd(c, "UNWATCH", NULL)) != NULL)
			freeReplyObject(r);
		return;
	}
	/* A nil EXEC (someone touched the set) leaves it for the next pass. */
	cr_rconn_pipeline(c, cmds, 2, 1, err, sizeof(err));
}

/* Moves deferred tasks whose window has opened back to the host's queue. */
void net_defer_release(struct net_state *st)
{
	char key[sizeof(DEFER_PREFIX) + HOSTNAME_MAX], queue[HOSTNAME_MAX + 8], now[32];
	redisReply *r;

	if (st->nwindows == 0)
		return;
	snprintf(key, sizeof(key), DEFER_PREFIX "%s", st->cfg->hostname);
	snprintf(queue, sizeof(queue), "host.%s", st->cfg->hostname);
	snprintf(now, sizeof(now), "%lld", (long long)cr_clock_now());
	r = cr_rconn_cmd(st->link.cc, "ZRANGEBYSCORE", key, "-inf", now, "LIMIT", "0", DEFER_BATCH, NULL);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			defer_move(st, key, queue, r->element[i]->str, r->element[i]->len);
	if (r)
		freeReplyObject(r);
}
