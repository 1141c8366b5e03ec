/* Maintenance windows on net's side.  A disruptive operation (install,
 * remove, upgrade, autoremove; not in check mode, not with now=true) that
 * arrives outside every window of this host is deferred: the message goes to
 * the sorted set celeryroot:deferred:<host>, scored by the next opening, its
 * result becomes a DEFERRED state with the time it will run, and the
 * delivery is acked.  Each second the due ones go back to the host's queue,
 * where they run like any task (a signed one keeps its signature, and its
 * nonce, taken by this task id and not yet answered, lets it through). */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "proto.h"
#include "rconn.h"
#include "timeutil.h"

#define DEFER_PREFIX "celeryroot:deferred:"
#define DEFER_BATCH "16"

static int disruptive(const struct proto_req *r, json_t *kwargs)
{
	static const char *const ops[] = { "install", "remove", "upgrade", "autoremove" };
	int hit = 0;

	if (r->type != REQ_APT || r->check || json_is_true(json_object_get(kwargs, "now")))
		return 0;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		hit |= !strcmp(r->op, ops[i]);
	return hit;
}

/* 0: run now; 1: deferred (answered and acked); -1: refused with err. */
int defer_check(struct net_state *st, struct celery_msg *m, const struct proto_req *r, char *err, size_t errlen)
{
	double now = clock_now();
	time_t when;
	char key[sizeof(DEFER_PREFIX) + HOSTNAME_MAX], score[32], at[40];
	char *payload;
	redisReply *rr;

	if (st->nwindows == 0 || winconf_open(st->windows, st->nwindows, (time_t)now))
		return 0;
	if (r->type == REQ_APT && !r->check && json_is_true(json_object_get(m->kwargs, "now"))) {
		/* The override is the operator's call; it goes on the record. */
		audit_publish_override(st, m->id, m->task, json_array_get(m->args, 0));
		return 0;
	}
	if (!disruptive(r, m->kwargs))
		return 0;
	if ((when = winconf_next_open(st->windows, st->nwindows, (time_t)now)) == 0)
		return snprintf(err, errlen, "outside every maintenance window of this host, and none opens again"), -1;
	struct tm tm;
	gmtime_r(&when, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* Deferral never outlives the task: it would only expire in the set. */
	if (m->has_expires && (double)when - now > m->expires - now_wall())
		return snprintf(err, errlen, "outside the maintenance windows; the next opens at %s, after the task expires "
				"(send it with a later expiry, or with --now)", at), -1;
	if ((payload = json_dumps(m->envelope, JSON_COMPACT)) == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	snprintf(key, sizeof(key), DEFER_PREFIX "%s", st->cfg->hostname);
	snprintf(score, sizeof(score), "%lld", (long long)when);
	rr = net_redis_ensure(st) == 0 ? rconn_cmd(st->cc, "ZADD", key, score, payload, NULL) : NULL;
	free(payload);
	if (rr == NULL || rconn_is_error(rr)) {
		if (rr)
			freeReplyObject(rr);
		return snprintf(err, errlen, "cannot defer the task: the broker did not take it"), -1;
	}
	freeReplyObject(rr);
	info_f("task %s (%s) deferred to the maintenance window opening at %s", m->id, m->task, at);
	char reason[128];
	snprintf(reason, sizeof(reason), "outside its maintenance windows: runs at %s (--now overrides)", at);
	json_t *rec = json_pack("{s:s, s:s, s:s, s:b, s:s}", "host", st->cfg->hostname, "status", "deferred",
				"run_at", at, "changed", 0, "reason", reason);
	if (result_write(st, m->id, "DEFERRED", rec) == 0)
		worker_ack(st, m->delivery_tag);
	return 1;
}

/* Moves deferred tasks whose window has opened back to the host's queue. */
void defer_release(struct net_state *st)
{
	char key[sizeof(DEFER_PREFIX) + HOSTNAME_MAX], queue[HOSTNAME_MAX + 8], now[32];
	redisReply *r;

	if (st->nwindows == 0 || net_redis_ensure(st) < 0)
		return;
	snprintf(key, sizeof(key), DEFER_PREFIX "%s", st->cfg->hostname);
	snprintf(queue, sizeof(queue), "host.%s", st->cfg->hostname);
	snprintf(now, sizeof(now), "%lld", (long long)clock_now());
	r = rconn_cmd(st->cc, "ZRANGEBYSCORE", key, "-inf", now, "LIMIT", "0", DEFER_BATCH, NULL);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const char *p = r->element[i]->str;
		redisReply *z = p ? rconn_cmd(st->cc, "ZREM", key, p, NULL) : NULL;
		/* Only whoever removed it requeues it. */
		if (z && z->type == REDIS_REPLY_INTEGER && z->integer == 1)
			worker_requeue_raw(st, queue, p, r->element[i]->len);
		if (z)
			freeReplyObject(z);
	}
	if (r)
		freeReplyObject(r);
}
