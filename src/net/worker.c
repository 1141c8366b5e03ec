/* Consuming as kombu's Redis transport does, so that C and Python workers can
 * share one Redis: BRPOP over the queues and their priority sub-lists, the
 * unacked hash + index for at-least-once delivery, and restoring entries
 * whose visibility timeout has passed. */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rconn.h"
#include "timeutil.h"

#define UNACKED_KEY "unacked"
#define UNACKED_INDEX_KEY "unacked_index"
#define UNACKED_MUTEX_KEY "unacked_mutex"
#define UNACKED_MUTEX_PX "300000"
#define RESTORE_BATCH 10
/* Stale entries looked at per pass: other workers' entries are skipped, and
 * must not hide ours behind them. */
#define RESTORE_SCAN_MAX 100
#define BRPOP_TIMEOUT "1"
/* kombu's binding separator, "\x06\x16". */
#define KOMBU_SEP "\x06\x16"


/* kombu orders BRPOP keys priority-major: every queue at priority 0 first. */
void worker_build_keys(struct net_state *st)
{
	char queues[NET_MAX_QUEUES][CELERY_QUEUE_MAX + 1];
	size_t nq = 0;

	snprintf(queues[nq++], sizeof(queues[0]), "host.%s", st->cfg->hostname);
	for (int i = 0; i < st->cfg->nroles && nq < NET_MAX_QUEUES; i++)
		snprintf(queues[nq++], sizeof(queues[0]), "role.%s", st->cfg->roles[i]);
	st->nkeys = 0;
	for (int p = 0; p < CELERY_PRIORITY_STEPS; p++)
		for (size_t q = 0; q < nq; q++)
			snprintf(st->keys[st->nkeys++], sizeof(st->keys[0]), "%.*s%s", CELERY_QUEUE_MAX,
				 queues[q], celery_priority_suffix[p]);
}

/* What kombu's queue_declare does: a binding a Python producer can route by. */
int worker_declare_queues(struct net_state *st)
{
	size_t nq = st->nkeys / CELERY_PRIORITY_STEPS;

	for (size_t q = 0; q < nq; q++) {
		char key[CELERY_QUEUE_MAX + 32], member[3 * CELERY_QUEUE_MAX];
		snprintf(key, sizeof(key), "_kombu.binding.%s", st->keys[q]);
		snprintf(member, sizeof(member), "%s" KOMBU_SEP KOMBU_SEP "%s", st->keys[q], st->keys[q]);
		redisReply *r = rconn_cmd(st->cc, "SADD", key, member, NULL);
		if (r == NULL || rconn_is_error(r)) {
			error_f("cannot declare %s: %s", st->keys[q], r ? r->str : st->cc->errstr);
			if (r)
				freeReplyObject(r);
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

int worker_brpop_send(struct net_state *st)
{
	const char *argv[NET_MAX_KEYS + 2];
	int argc = 0;

	argv[argc++] = "BRPOP";
	for (size_t i = 0; i < st->nkeys; i++)
		argv[argc++] = st->keys[i];
	argv[argc++] = BRPOP_TIMEOUT;
	if (rconn_append(st->bc, argc, argv, NULL) < 0 || rconn_flush(st->bc) < 0)
		return -1;   /* the context is marked dead; net_redis_ensure reconnects */
	st->brpop_pending = 1;
	return 0;
}

static int worker_exec(struct net_state *st, int n, const char *argvs[][4], const size_t lens[][4],
		       const int argcs[])
{
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	int ok = rconn_append(st->cc, 1, multi, NULL) == 0;

	for (int i = 0; ok && i < n; i++)
		ok = rconn_append(st->cc, argcs[i], argvs[i], lens[i]) == 0;
	ok = ok && rconn_append(st->cc, 1, exec, NULL) == 0;
	for (int i = 0; ok && i < n + 2; i++) {
		void *r = NULL;
		ok = redisGetReply(st->cc, &r) == REDIS_OK && !rconn_is_error(r);
		if (r)
			freeReplyObject(r);
	}
	return ok ? 0 : -1;
}

static int worker_track(struct net_state *st, const struct celery_msg *m)
{
	char score[32], *entry = celery_unacked_entry(m);
	int rc;

	if (entry == NULL)
		return -1;
	snprintf(score, sizeof(score), "%.6f", now_wall());
	const char *argvs[2][4] = { { "ZADD", UNACKED_INDEX_KEY, score, m->delivery_tag },
				    { "HSET", UNACKED_KEY, m->delivery_tag, entry } };
	const size_t lens[2][4] = { { 4, strlen(UNACKED_INDEX_KEY), strlen(score), strlen(m->delivery_tag) },
				    { 4, strlen(UNACKED_KEY), strlen(m->delivery_tag), strlen(entry) } };
	const int argcs[2] = { 4, 4 };
	rc = worker_exec(st, 2, argvs, lens, argcs);
	free(entry);
	return rc;
}

int worker_ack(struct net_state *st, const char *tag)
{
	const char *argvs[2][4] = { { "ZREM", UNACKED_INDEX_KEY, tag }, { "HDEL", UNACKED_KEY, tag } };
	const size_t lens[2][4] = { { 4, strlen(UNACKED_INDEX_KEY), strlen(tag) },
				    { 4, strlen(UNACKED_KEY), strlen(tag) } };
	const int argcs[2] = { 3, 3 };

	return worker_exec(st, 2, argvs, lens, argcs);
}

int worker_requeue_raw(struct net_state *st, const char *queue, const char *payload, size_t len)
{
	const char *argv[] = { "RPUSH", queue, payload };
	const size_t lens[] = { 5, strlen(queue), len };
	redisReply *r = rconn_cmdargv(st->cc, 3, argv, lens);
	int ok = r != NULL && !rconn_is_error(r);

	if (r)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

void worker_on_brpop(struct net_state *st, redisReply *r)
{
	struct celery_msg m;
	char err[512];

	if (r->type == REDIS_REPLY_NIL)
		return;
	/* An error (NOPERM from an ACL that lacks a queue, say) would come back
	 * at once on every retry: say why, and wait before asking again. */
	if (r->type == REDIS_REPLY_ERROR) {
		if (now_mono() >= st->brpop_quiet_until)
			error_f("the broker refused BRPOP: %s (check this host's ACL: 'celeryroot acl --help')",
				r->str ? r->str : "error");
		st->brpop_quiet_until = now_mono() + 60;
		st->brpop_resume = now_mono() + 1;
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
		error_f("unexpected BRPOP reply type %d", r->type);
		return;
	}
	const char *queue = r->element[0]->str, *body = r->element[1]->str;
	size_t len = r->element[1]->len;
	if (st->stopping) {
		/* Popped while stopping: put it back at the head, untouched. */
		if (worker_requeue_raw(st, queue, body, len) < 0)
			error_f("could not give back a message popped from %s", queue);
		return;
	}
	memset(&m, 0, sizeof(m));
	if (celery_parse(body, len, &m, err, sizeof(err)) < 0) {
		error_f("refused a message from %s: %s", queue, err);
		if (m.id[0] != '\0')
			result_failure(st, m.id, "ValueError", "builtins", err);
		celery_msg_free(&m);
		return;
	}
	if (worker_track(st, &m) < 0) {
		/* Could not record it as unacked: give it back rather than risk losing it. */
		worker_requeue_raw(st, queue, body, len);
		celery_msg_free(&m);
		return;
	}
	tasks_start(st, &m);   /* takes ownership of m */
}

/* Keeps the tasks we hold from being restored under us (by us or by any
 * other worker) while they run longer than the visibility timeout. */
void worker_keepalive(struct net_state *st)
{
	char score[32];

	snprintf(score, sizeof(score), "%.6f", now_wall());
	for (int i = 0; i < NET_MAX_INFLIGHT; i++) {
		if (!st->fl[i].used)
			continue;
		redisReply *r = rconn_cmd(st->cc, "ZADD", UNACKED_INDEX_KEY, "XX", score,
					  st->fl[i].msg.delivery_tag, NULL);
		if (r)
			freeReplyObject(r);
	}
}

static int worker_holds(const struct net_state *st, const char *tag)
{
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		if (st->fl[i].used && strcmp(st->fl[i].msg.delivery_tag, tag) == 0)
			return 1;
	return 0;
}

static void worker_cmd(struct net_state *st, const char *cmd, const char *key)
{
	redisReply *r = rconn_cmd(st->cc, cmd, key, NULL);

	if (r)
		freeReplyObject(r);
}

/* Only queues we consume: with Redis ACLs we may push to no other, and each
 * queue's own consumers restore its messages (kombu's restore takes any). */
static int worker_owns_queue(const struct net_state *st, const char *queue)
{
	for (size_t q = 0; q < st->nkeys / CELERY_PRIORITY_STEPS; q++)
		if (strcmp(st->keys[q], queue) == 0)
			return 1;
	return 0;
}

/* kombu's restore_by_tag: WATCH the hash, then remove and re-push atomically. */
static void worker_restore_tag(struct net_state *st, const char *tag)
{
	char queue[CELERY_QUEUE_MAX + 1];
	redisReply *r;
	char *payload = NULL;

	worker_cmd(st, "WATCH", UNACKED_KEY);
	r = rconn_cmd(st->cc, "HGET", UNACKED_KEY, tag, NULL);
	if (r != NULL && r->type == REDIS_REPLY_STRING)
		payload = celery_restore_payload(r->str, r->len, queue, sizeof(queue));
	if (r)
		freeReplyObject(r);
	if (payload && !worker_owns_queue(st, queue)) {
		free(payload);
		worker_cmd(st, "UNWATCH", NULL);
		return;
	}
	const char *argvs[3][4] = { { "ZREM", UNACKED_INDEX_KEY, tag }, { "HDEL", UNACKED_KEY, tag },
				    { "RPUSH", queue, payload ? payload : "" } };
	const size_t lens[3][4] = { { 4, strlen(UNACKED_INDEX_KEY), strlen(tag) },
				    { 4, strlen(UNACKED_KEY), strlen(tag) },
				    { 5, payload ? strlen(queue) : 0, payload ? strlen(payload) : 0 } };
	const int argcs[3] = { 3, 3, 3 };
	if (worker_exec(st, payload ? 3 : 2, argvs, lens, argcs) == 0)
		info_f("restored unacked message %s to %s", tag, payload ? queue : "(dropped: unreadable)");
	free(payload);
}

/* kombu's mutex release without Lua (our Redis ACLs allow no EVAL):
 * delete the key only if it still holds our token, and only if nobody
 * touched it between our GET and the DEL. */
static void worker_unlock(struct net_state *st, const char *token)
{
	redisReply *r;
	int ours;

	worker_cmd(st, "WATCH", UNACKED_MUTEX_KEY);
	r = rconn_cmd(st->cc, "GET", UNACKED_MUTEX_KEY, NULL);
	ours = r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, token) == 0;
	if (r)
		freeReplyObject(r);
	if (!ours) {
		worker_cmd(st, "UNWATCH", NULL);
		return;
	}
	const char *argvs[1][4] = { { "DEL", UNACKED_MUTEX_KEY } };
	const size_t lens[1][4] = { { 3, strlen(UNACKED_MUTEX_KEY) } };
	const int argcs[1] = { 2 };
	worker_exec(st, 1, argvs, lens, argcs);
}

/* One page of stale tags, newest first; 0 when there are no more. */
static size_t worker_restore_page(struct net_state *st, const char *ceil, int offset)
{
	char off[16], count[16];
	size_t n = 0;
	redisReply *r;

	snprintf(off, sizeof(off), "%d", offset);
	snprintf(count, sizeof(count), "%d", RESTORE_BATCH);
	r = rconn_cmd(st->cc, "ZREVRANGEBYSCORE", UNACKED_INDEX_KEY, ceil, "0", "LIMIT", off, count, NULL);
	for (size_t i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *e = r->element[i];
		if (e->type == REDIS_REPLY_STRING && valid_task_id(e->str) && !worker_holds(st, e->str))
			worker_restore_tag(st, e->str);
		n++;
	}
	if (r)
		freeReplyObject(r);
	return n;
}

void worker_restore_visible(struct net_state *st)
{
	char token[40], ceil[32];
	redisReply *r;

	snprintf(token, sizeof(token), "%08x%08x", (unsigned)random(), (unsigned)random());
	r = rconn_cmd(st->cc, "SET", UNACKED_MUTEX_KEY, token, "PX", UNACKED_MUTEX_PX, "NX", NULL);
	int locked = r != NULL && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	if (!locked)
		return;   /* another worker is restoring right now */
	snprintf(ceil, sizeof(ceil), "%.6f", now_wall() - st->cfg->visibility_timeout_s);
	/* Entries we restore leave the index, so later pages shift: whatever
	 * this pass skips, the next one sees. */
	for (int off = 0; off < RESTORE_SCAN_MAX; off += RESTORE_BATCH)
		if (worker_restore_page(st, ceil, off) < RESTORE_BATCH)
			break;
	worker_unlock(st, token);
}
