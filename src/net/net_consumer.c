/* Taking messages so that none is ever lost.
 *
 * kombu's Redis transport pops with BRPOP and then records the message in a
 * hash shared by every worker: a reply lost on the wire (a link that dies
 * mid-reply, a broker killed between its pop and its write) loses the
 * message, and any worker may "restore" any entry of the shared hash.
 * Celeryroot hosts are not of one trust level, so each host keeps its own
 * list, celeryroot:taken:<host>, and messages reach it atomically: LMOVE
 * (or BLMOVE) from the queue to the taken list, in one command.  A message
 * leaves the taken list only in the MULTI/EXEC that writes its final result
 * (consumer_commit), so at every moment it is in its queue, in the taken list,
 * or answered.  After every (re)connect net takes back whatever the list
 * holds that no slot of its own holds: messages whose LMOVE reply was lost,
 * and everything a crashed or killed predecessor had taken.  Producers are
 * unchanged: they LPUSH to the queues as Celery does.
 *
 * Waiting: BLMOVE blocks on one list only, so net keeps one blocking
 * connection per queue it consumes (host.<name>, role.<role>...), each
 * waiting on its queue.  kombu's priority sub-lists (QUEUE\x06\x16N, used
 * only by Python producers that set a priority) are looked at with LMOVE,
 * in kombu's order, at most once a second while they are empty. */
#include "config.h"
#include "net_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crerr.h"
#include "log.h"
#include "rconn.h"
#include "timeutil.h"

#define TAKEN_PREFIX "celeryroot:taken:"
#define BLOCK_TIMEOUT "1"
#define BLOCK_TIMEOUT_S 1.0
#define SWEEP_IDLE_S 1.0
/* A BLMOVE answers within its timeout on a live link; this much longer
 * without a reply means the link has gone silent (documented bound). */
#define BLOCK_GRACE_S 10.0
/* At most this many entries of the taken list are looked at per pass. */
#define RECOVER_SCAN_MAX 64
#define DISCARDED "celeryroot:discarded"
#define S ((size_t)-1)
/* kombu's binding separator, "\x06\x16". */
#define KOMBU_SEP "\x06\x16"

/* kombu orders BRPOP keys priority-major: every queue at priority 0 first. */
void net_consumer_build_keys(struct net_state *st)
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
				 queues[q], cr_celery_priority_suffix[p]);
	st->nqueues = nq;
	snprintf(st->taken_key, sizeof(st->taken_key), TAKEN_PREFIX "%s", st->cfg->hostname);
}

/* What kombu's queue_declare does: a binding a Python producer can route by.
 * -1 with the reason in err (the caller logs it once per state change). */
int net_consumer_declare_queues(struct net_state *st, char *err, size_t errlen)
{
	for (size_t q = 0; q < st->nqueues; q++) {
		char key[CELERY_QUEUE_MAX + 32], member[3 * CELERY_QUEUE_MAX];
		snprintf(key, sizeof(key), "_kombu.binding.%s", st->keys[q]);
		snprintf(member, sizeof(member), "%s" KOMBU_SEP KOMBU_SEP "%s", st->keys[q], st->keys[q]);
		redisReply *r = cr_rconn_cmd(st->link.cc, "SADD", key, member, NULL);
		if (r == NULL || cr_rconn_is_error(r)) {
			snprintf(err, errlen, "cannot declare %s: %s", st->keys[q], r ? r->str : st->link.cc->errstr);
			if (r)
				freeReplyObject(r);
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

/* ---- slots ---------------------------------------------------------------- */

static struct inflight *consumer_free_slot(struct net_state *st)
{
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		if (st->fl[i].state == SLOT_FREE)
			return &st->fl[i];
	return NULL;
}

static void settle_clear(struct settle *s)
{
	free(s->meta);
	free(s->audit);
	free(s->defer);
	memset(s, 0, sizeof(*s));
}

void net_consumer_release(struct inflight *f)
{
	cr_celery_msg_free(&f->msg);
	cr_sig_claims_free(&f->claims);
	if (f->reply)
		json_decref(f->reply);
	settle_clear(&f->settle);
	free(f->raw);
	memset(f, 0, sizeof(*f));
}

/* An error reply to a pop (NOPERM from an ACL that lacks a queue, say)
 * would come back at once on every retry: say why, once a minute, and
 * wait before asking again. */
static void consumer_pop_refused(struct net_state *st, const char *cmd, const redisReply *r)
{
	if (cr_now_mono() >= st->pop_quiet_until)
		error_f("the broker refused %s: %s (check this host's ACL: 'celeryroot acl --help')", cmd,
			r->str ? r->str : "error");
	st->pop_quiet_until = cr_now_mono() + 60;
	st->pop_resume = cr_now_mono() + 1;
}

/* A read cut short because the element was too big leaves it in the taken
 * list at index idx; the next connection removes it (net_consumer_discard_oversize). */
static void consumer_note_oversize(struct net_state *st, redisContext *c, long idx)
{
	if (c && c->err == RCONN_ERR_TOO_BIG)
		st->oversize_at = idx;
}

/* ---- taking --------------------------------------------------------------- */

/* raw (stolen) is now in the taken list: parse it and start it in a slot. */
static void consumer_take(struct net_state *st, char *raw, size_t len, const char *src)
{
	struct inflight *f = consumer_free_slot(st);
	char err[CR_ERR_MAX];

	if (f == NULL) {   /* cannot happen: we take only with a free slot */
		free(raw);
		st->recover_pending = 1;
		return;
	}
	memset(f, 0, sizeof(*f));
	f->raw = raw;
	f->rawlen = len;
	cr_copy_str(f->src, sizeof(f->src), src);
	f->state = SLOT_SETTLING;   /* until net_tasks_start says otherwise */
	if (cr_celery_parse(raw, len, &f->msg, err, sizeof(err)) < 0) {
		log_refusal("refused a message from %s: %s", src[0] ? src : st->taken_key, err);
		/* Without an id nobody can be answered: the message just goes. */
		net_consumer_settle(st, f, f->msg.id[0] ? "FAILURE" : NULL,
			      f->msg.id[0] ? cr_celery_exception("ValueError", "builtins", err) : NULL);
		return;
	}
	net_tasks_start(st, f);
}

/* Does a slot hold this very message?  Each slot answers for one copy. */
static int consumer_holds(const struct net_state *st, const redisReply *e, unsigned *matched)
{
	for (int i = 0; i < NET_MAX_INFLIGHT; i++) {
		const struct inflight *f = &st->fl[i];
		if (f->state == SLOT_FREE || (*matched & (1u << i)) || f->rawlen != e->len ||
		    memcmp(f->raw, e->str, e->len) != 0)
			continue;
		*matched |= 1u << i;
		return 1;
	}
	return 0;
}

static char *dup_bytes(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

/* Takes back the oldest entry of the taken list that no slot holds.
 * 1 took one, 0 none left (recovery done), -1 broker error. */
static int consumer_recover_one(struct net_state *st)
{
	redisReply *r = cr_rconn_cmd(st->link.cc, "LLEN", st->taken_key, NULL);
	long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	unsigned matched = 0;

	if (r)
		freeReplyObject(r);
	if (n < 0)
		return -1;
	if (n > RECOVER_SCAN_MAX)
		n = RECOVER_SCAN_MAX;
	/* LMOVE pushes on the left: the oldest entries are on the right. */
	for (long long k = 1; k <= n; k++) {
		char idx[24];
		snprintf(idx, sizeof(idx), "%lld", -k);
		r = cr_rconn_cmd(st->link.cc, "LINDEX", st->taken_key, idx, NULL);
		if (r == NULL) {
			consumer_note_oversize(st, st->link.cc, (long)-k);
			return -1;
		}
		int skip = r->type != REDIS_REPLY_STRING || consumer_holds(st, r, &matched);
		if (!skip) {
			char *raw = dup_bytes(r->str, r->len);
			size_t len = r->len;
			freeReplyObject(r);
			if (raw == NULL)
				return -1;
			info_f("taking back a message this host had taken and not answered");
			consumer_take(st, raw, len, "");
			return 1;
		}
		freeReplyObject(r);
	}
	st->recover_pending = 0;
	return 0;
}

/* LMOVE from each priority sub-list in kombu's order until one gives a
 * message (the queues themselves have their blocking connections). */
static int consumer_sweep_one(struct net_state *st)
{
	if (cr_now_mono() < st->next_sweep)
		return 0;
	for (size_t i = st->nqueues; i < st->nkeys; i++) {
		redisReply *r = cr_rconn_cmd(st->link.cc, "LMOVE", st->keys[i], st->taken_key, "RIGHT", "LEFT", NULL);
		if (r == NULL) {
			consumer_note_oversize(st, st->link.cc, 0);
			return -1;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			consumer_pop_refused(st, "LMOVE", r);
			freeReplyObject(r);
			return 0;
		}
		if (r->type == REDIS_REPLY_STRING) {
			char *raw = dup_bytes(r->str, r->len);
			size_t len = r->len;
			freeReplyObject(r);
			if (raw == NULL) {   /* it is in the taken list: taken back later */
				st->recover_pending = 1;
				return -1;
			}
			consumer_take(st, raw, len, st->keys[i]);
			return 1;
		}
		freeReplyObject(r);
	}
	st->next_sweep = cr_now_mono() + SWEEP_IDLE_S;
	return 0;
}

int net_consumer_block_arm(struct net_state *st, size_t q)
{
	struct net_block *b = &st->link.b[q];
	const char *argv[] = { "BLMOVE", st->keys[q], st->taken_key, "RIGHT", "LEFT", BLOCK_TIMEOUT };

	if (cr_rconn_append(b->c, 6, argv, NULL) < 0 || cr_rconn_flush(b->c) < 0)
		return -1;   /* marked dead: the link is replaced */
	b->pending = 1;
	b->deadline = cr_now_mono() + BLOCK_TIMEOUT_S + BLOCK_GRACE_S;
	return 0;
}

int net_consumer_take_next(struct net_state *st)
{
	int rc;

	if (st->oversize_at != LONG_MIN)
		net_consumer_discard_oversize(st);
	if (cr_now_mono() < st->pop_resume)
		return 0;
	if (st->recover_pending && (rc = consumer_recover_one(st)) != 0)
		return rc;
	return consumer_sweep_one(st);
}

/* Puts back a message taken while stopping, untouched, where it came from
 * (RPUSH: the end it is taken from), and out of the taken list, at once. */
static void consumer_give_back(struct net_state *st, const char *raw, size_t len, const char *src)
{
	struct cr_rconn_cmd cmds[2] = { { 0 } };
	char err[CR_ERR_MAX];

	cr_rconn_arg(&cmds[0], "RPUSH", S);
	cr_rconn_arg(&cmds[0], src, S);
	cr_rconn_arg(&cmds[0], raw, len);
	cr_rconn_arg(&cmds[1], "LREM", S);
	cr_rconn_arg(&cmds[1], st->taken_key, S);
	cr_rconn_arg(&cmds[1], "1", S);
	cr_rconn_arg(&cmds[1], raw, len);
	if (cr_rconn_pipeline(st->link.cc, cmds, 2, 1, err, sizeof(err)) != 1)   /* still taken: runs at the next start */
		error_f("could not give back a message taken from %s while stopping; it runs at the next start", src);
}

void net_consumer_on_block_reply(struct net_state *st, size_t q, redisReply *r)
{
	if (r->type == REDIS_REPLY_NIL)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		consumer_pop_refused(st, "BLMOVE", r);
		return;
	}
	if (r->type != REDIS_REPLY_STRING) {
		error_f("unexpected BLMOVE reply type %d", r->type);
		st->recover_pending = 1;
		return;
	}
	if (st->stopping) {
		consumer_give_back(st, r->str, r->len, st->keys[q]);
		return;
	}
	char *raw = dup_bytes(r->str, r->len);
	if (raw == NULL) {
		st->recover_pending = 1;
		return;
	}
	consumer_take(st, raw, r->len, st->keys[q]);
}

/* A message too big to read (over the reply bound) cannot be answered: its
 * id is inside it.  It is replaced by a marker at its index and the marker
 * removed, in one transaction; the log says so. */
void net_consumer_discard_oversize(struct net_state *st)
{
	struct cr_rconn_cmd cmds[2] = { { 0 } };
	char idx[24], err[256];

	snprintf(idx, sizeof(idx), "%ld", st->oversize_at);
	cr_rconn_arg(&cmds[0], "LSET", S);
	cr_rconn_arg(&cmds[0], st->taken_key, S);
	cr_rconn_arg(&cmds[0], idx, S);
	cr_rconn_arg(&cmds[0], DISCARDED, S);
	cr_rconn_arg(&cmds[1], "LREM", S);
	cr_rconn_arg(&cmds[1], st->taken_key, S);
	cr_rconn_arg(&cmds[1], "1", S);
	cr_rconn_arg(&cmds[1], DISCARDED, S);
	if (cr_rconn_pipeline(st->link.cc, cmds, 2, 1, err, sizeof(err)) == 1) {
		log_refusal("discarded a message larger than %d MiB (its sender gets no result: the id is inside it)",
			    CELERY_READ_MAX / (1024 * 1024));
		st->oversize_at = LONG_MIN;
	}
}
