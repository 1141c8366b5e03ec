/* net's main loop: the broker link (two connections), the priv socket and a
 * few timers, multiplexed with ppoll so that the heartbeat keeps going while
 * priv works on a long task and a stop request is seen in every state. */
#include "config.h"
#include "crerr.h"
#include "net.h"
#include "net_int.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "hostsig.h"
#include "log.h"
#include "proto.h"
#include "rconn.h"
#include "sentinel.h"
#include "sigloop.h"
#include "timeutil.h"

#define NET_CONNECT_TIMEOUT 5.0
#define NET_BACKOFF_FIRST 0.5
#define NET_BACKOFF_MAX 30.0
#define NET_HELLO_TIMEOUT_MS 60000
/* When stopping, results that cannot be written this long after priv's
 * last answer are left for redelivery (the message stays taken). */
#define NET_STOP_GRACE_S 1.5

volatile sig_atomic_t net_stop_flag;
static sigset_t net_waitmask;   /* the mask inside ppoll: stop signals let through */

static void on_stop(int sig)
{
	(void)sig;
	net_stop_flag = 1;
}

/* ---- the broker link -------------------------------------------------------- */

int net_link_up(const struct net_state *st)
{
	const struct net_link *l = &st->link;

	if (l->cc == NULL || l->cc->err || l->nb == 0)
		return 0;
	for (size_t q = 0; q < l->nb; q++)
		if (l->b[q].c == NULL || l->b[q].c->err)
			return 0;
	return 1;
}

static int link_any(const struct net_link *l)
{
	for (size_t q = 0; q < l->nb; q++)
		if (l->b[q].c)
			return 1;
	return l->cc != NULL;
}

static void link_free(struct net_link *l)
{
	for (size_t q = 0; q < l->nb; q++) {
		if (l->b[q].c)
			cr_rconn_free(l->b[q].c);
		l->b[q].c = NULL;
		l->b[q].pending = 0;
	}
	if (l->cc)
		cr_rconn_free(l->cc);
	l->cc = NULL;
	l->nb = 0;
}

int net_blocks_pending(const struct net_state *st)
{
	int n = 0;

	for (size_t q = 0; q < st->link.nb; q++)
		n += st->link.b[q].pending;
	return n;
}

/* Whether this outage has logged this reason already.  Compared as far as
 * kept: a long reason must not count as new each time. */
static int link_why_seen(const struct net_link *l, const char *why)
{
	for (unsigned i = 0; i < l->down_nwhy && i < NET_DOWN_WHY; i++)
		if (strncmp(l->down_why[i], why, sizeof(l->down_why[i]) - 1) == 0)
			return 1;
	return 0;
}

/* One line when the link goes down and one per new reason, not one per
 * try; past the few reasons kept, further new ones are not logged (the
 * "connected … after N s" line closes the outage). */
static void link_note_down(struct net_state *st, const char *why)
{
	struct net_link *l = &st->link;
	char where[CR_ERR_MAX];

	if (l->down_since == 0)
		l->down_since = cr_now_mono();
	if (link_why_seen(l, why) || l->down_nwhy >= NET_DOWN_WHY)
		return;
	cr_broker_describe(st->broker, where, sizeof(where));
	error_f("broker link down: %s; reconnecting with backoff (broker %s)", why, where);
	cr_copy_str(l->down_why[l->down_nwhy], sizeof(l->down_why[0]), why);
	l->down_nwhy++;
}

/* The connections go together: a fresh set never shares a dead one with
 * the old, and every message one had in flight is still in the taken list
 * (net_consumer.c), taken back once the link is up again. */
void net_link_drop(struct net_state *st, const char *why)
{
	struct net_link *l = &st->link;

	if (!link_any(l))
		return;
	link_note_down(st, why);
	link_free(l);
	l->up_since = 0;
	/* The first retry at random within reconnect_spread, then backoff: a
	 * fleet that lost its broker together does not knock on it together. */
	l->retry_at = cr_now_mono() + (double)st->cfg->reconnect_spread_ms / 1000.0 *
					      ((double)random() / (double)RAND_MAX);
	st->recover_pending = 1;
}

static const char *link_dead_reason(const struct net_link *l)
{
	if (l->cc && l->cc->err)
		return l->cc->errstr;
	for (size_t q = 0; q < l->nb; q++)
		if (l->b[q].c && l->b[q].c->err)
			return l->b[q].c->errstr;
	return "connection closed";
}

/* Connects with the stop signals let through, so that a connect to a
 * silent address does not hold up a stop request.  The first connection
 * of a link finds the master (Sentinel: asked once per link_open); the
 * others go to the same address, so that all of them share one master. */
static redisContext *link_connect(struct net_state *st, int first, char *err, size_t errlen)
{
	const struct broker_addr *b = st->broker;
	struct net_link *l = &st->link;
	sigset_t old;
	redisContext *c;

	sigprocmask(SIG_SETMASK, &net_waitmask, &old);
	if (b->nsentinels > 0 && first)
		c = cr_sentinel_connect(b, NET_CONNECT_TIMEOUT, &l->master, err, errlen);
	else if (b->nsentinels > 0)
		c = cr_rconn_connect_at(b, l->master.host, l->master.port, NET_CONNECT_TIMEOUT, err, errlen);
	else
		c = cr_rconn_connect(b, NET_CONNECT_TIMEOUT, err, errlen);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return c;
}

/* Where the link went: the broker, or the master the sentinels named. */
static void link_note_up(struct net_state *st)
{
	const struct broker_addr *b = st->broker;
	const struct net_link *l = &st->link;
	char where[CR_ERR_MAX], master[512] = "", after[48] = "";

	/* Which broker, as which user, how (cr_broker_describe); with Sentinel
	 * also the master the sentinels named this time. */
	cr_broker_describe(b, where, sizeof(where));
	if (b->nsentinels > 0)
		snprintf(master, sizeof(master), ", master '%s' at %s:%d (found via %d sentinel(s))", b->master_name,
			 l->master.host, l->master.port, b->nsentinels);
	if (l->down_since > 0)
		snprintf(after, sizeof(after), " after %.1f s", cr_now_mono() - l->down_since);
	info_f("connected to the broker %s%s%s", where, master, after);
}

static void link_backoff(struct net_state *st)
{
	struct net_link *l = &st->link;
	double d = NET_BACKOFF_FIRST;

	for (int i = 0; i < l->attempts && d < NET_BACKOFF_MAX; i++)
		d *= 2;
	if (d > NET_BACKOFF_MAX)
		d = NET_BACKOFF_MAX;
	/* Jitter, half to one and a half times the step: a fleet that lost its
	 * broker together does not return together (bench/reconnect.py); still
	 * never longer than the longest step, so a host is back within it. */
	d *= 0.5 + (double)random() / (double)RAND_MAX;
	if (d > NET_BACKOFF_MAX)
		d = NET_BACKOFF_MAX;
	l->retry_at = cr_now_mono() + d;
	l->attempts++;
}

static int link_open(struct net_state *st)
{
	struct net_link *l = &st->link;
	char err[CR_ERR_MAX] = "";

	l->cc = link_connect(st, 1, err, sizeof(err));
	l->nb = st->nqueues;
	if (l->cc && net_consumer_declare_queues(st, err, sizeof(err)) == 0 && net_heartbeat_send(st, err, sizeof(err)) == 0)
		for (size_t q = 0; q < l->nb && (q == 0 || l->b[q - 1].c); q++)
			l->b[q].c = link_connect(st, 0, err, sizeof(err));
	if (net_link_up(st))
		return 0;
	link_note_down(st, err[0] ? err : "cannot connect");
	link_free(l);
	return -1;
}

/* Makes sure both connections are up, trying at most once per backoff
 * step; never waits here (the main loop's ppoll does).  1 when up. */
static int net_link_ensure(struct net_state *st)
{
	struct net_link *l = &st->link;

	if (net_link_up(st))
		return 1;
	if (link_any(l))
		net_link_drop(st, link_dead_reason(l));
	if (net_stop_flag && net_running_count(st) == 0)
		return 0;   /* nothing left to deliver: no new connection */
	if (cr_now_mono() < l->retry_at)
		return 0;
	if (link_open(st) < 0) {
		link_backoff(st);
		return 0;
	}
	link_note_up(st);
	l->up_since = cr_now_mono();
	l->down_since = 0;
	l->down_nwhy = 0;
	st->recover_pending = 1;
	return 1;
}

/* ---- priv ----------------------------------------------------------------------- */

int net_priv_request(struct net_state *st, const struct proto_req *r)
{
	size_t len;
	char *payload = cr_proto_req_encode(r, &len);
	int rc;

	if (payload == NULL)
		return -1;
	rc = cr_frame_send(st->privfd, r->type, payload, len);
	free(payload);
	return rc == FRAME_OK ? 0 : -1;
}

int net_busy_count(const struct net_state *st)
{
	int n = 0;
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		n += st->fl[i].state != SLOT_FREE;
	return n;
}

int net_running_count(const struct net_state *st)
{
	int n = 0;
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		n += st->fl[i].state == SLOT_RUNNING || st->fl[i].state == SLOT_HOLDING;
	return n;
}

/* The first exchange with priv: who we are (OS, kernel) for the registry. */
static int net_hello(struct net_state *st)
{
	uint8_t buf[FRAME_HDR + FRAME_MAX_PAYLOAD + 1], type;
	const uint8_t *payload;
	struct proto_ans a;
	char err[PROTO_ERR_MAX];
	size_t len;
	struct pollfd pfd = { .fd = st->privfd, .events = POLLIN };

	struct proto_req *hello = calloc(1, sizeof(*hello));
	int sent = hello != NULL;

	if (sent) {
		hello->type = REQ_HELLO;
		sent = net_priv_request(st, hello) == 0;
		free(hello);
	}
	if (!sent)
		return -1;
	if (poll(&pfd, 1, NET_HELLO_TIMEOUT_MS) != 1)
		return -1;
	if (cr_frame_recv(st->privfd, buf, sizeof(buf), &type, &payload, &len) != FRAME_OK)
		return -1;
	if (type != ANS_REPLY || cr_proto_ans_decode(type, payload, len, &a, err, sizeof(err)) < 0)
		return -1;
	/* The registry holds printable ASCII only (cr_registry_decode refuses the
	 * rest): an os-release with escapes must not make the host vanish. */
	cr_copy_printable(st->self.os, sizeof(st->self.os), json_string_value(json_object_get(a.data, "os_pretty")) ?: "");
	cr_copy_printable(st->self.kernel, sizeof(st->self.kernel), json_string_value(json_object_get(a.data, "kernel")) ?: "");
	st->priv_pid = (int)json_integer_value(json_object_get(a.data, "priv_pid"));
	/* The registry carries the host key for known_hosts; a priv that gives
	 * none (or a malformed one) is registered without it, and said so. */
	const char *pk64 = json_string_value(json_object_get(a.data, "host_key"));
	unsigned char pk[32];
	if (pk64 && cr_hostsig_pk_decode(pk64, pk) == 0) {
		cr_copy_str(st->self.host_key, sizeof(st->self.host_key), pk64);
	} else {
		error_f("priv's hello carries no valid host key: this host's results cannot be verified");
	}
	cr_proto_ans_free(&a);
	return 0;
}

static void net_self_init(struct net_state *st)
{
	const struct cr_config *c = st->cfg;

	memset(&st->self, 0, sizeof(st->self));
	cr_copy_str(st->self.hostname, sizeof(st->self.hostname), c->hostname);
	for (int i = 0; i < c->nroles && i < REG_MAX_ROLES; i++)
		cr_copy_str(st->self.roles[i], sizeof(st->self.roles[i]), c->roles[i]);
	st->self.nroles = c->nroles;
	cr_copy_str(st->self.version, sizeof(st->self.version), PACKAGE_VERSION);
	cr_copy_str(st->self.state, sizeof(st->self.state), "running");
	st->self.started = cr_now_wall();
	st->self.heartbeat_s = c->heartbeat_s;
	st->self.pid = (long)getpid();
}

/* Stop signals are let through only inside ppoll (sigloop.h). */
static void net_signals(void)
{
	sigset_t old;

	cr_loop_signals(on_stop, NULL, &net_waitmask, &old);
}

/* ---- the loop ---------------------------------------------------------------------- */

static double net_next_wake(const struct net_state *st)
{
	double next = st->next_heartbeat;

	if (st->next_release < next)
		next = st->next_release;
	if (!net_link_up(st) && st->link.retry_at < next)
		next = st->link.retry_at;
	for (size_t q = 0; q < st->link.nb; q++)
		if (st->link.b[q].pending && st->link.b[q].deadline < next)
			next = st->link.b[q].deadline;
	if (st->next_sweep > cr_now_mono() && st->next_sweep < next)
		next = st->next_sweep;
	if (st->pop_resume > cr_now_mono() && st->pop_resume < next)
		next = st->pop_resume;
	if (st->stopping && st->stop_grace < next)
		next = st->stop_grace;
	for (int i = 0; i < NET_MAX_INFLIGHT; i++) {
		const struct inflight *f = &st->fl[i];
		if (f->state == SLOT_HOLDING && f->hold_until < next)
			next = f->hold_until;
		if (f->state == SLOT_SETTLING && f->settle.retry_at < next)
			next = f->settle.retry_at;
	}
	return next;
}

static void net_timers(struct net_state *st)
{
	double now = cr_now_mono();

	if (now >= st->next_heartbeat) {
		char err[CR_ERR_MAX];
		if (net_link_up(st) && net_heartbeat_send(st, err, sizeof(err)) < 0)
			net_link_drop(st, err);
		st->next_heartbeat = now + st->cfg->heartbeat_s;
	}
	net_tasks_tick(st);
	if (now >= st->next_release) {
		if (net_link_up(st))
			net_defer_release(st);
		st->next_release = now + 1;
	}
	for (size_t q = 0; q < st->link.nb; q++)
		if (st->link.b[q].pending && now >= st->link.b[q].deadline) {
			net_link_drop(st, "no reply from the broker within the blocking pop's deadline (silent link)");
			break;
		}
	cr_log_refusal_tick();
}

/* Returns 1 when priv has gone away. */
static int net_on_priv(struct net_state *st)
{
	uint8_t buf[FRAME_HDR + FRAME_MAX_PAYLOAD + 1], type;
	const uint8_t *payload;
	size_t len;
	int rc = cr_frame_recv(st->privfd, buf, sizeof(buf), &type, &payload, &len);

	if (rc == FRAME_EOF || rc == FRAME_IO) {
		error_f("priv has gone away (%s); stopping (tasks in hand stay taken for the next start)",
			cr_frame_strerror(rc));
		return 1;
	}
	if (rc != FRAME_OK) {
		error_f("bad frame from priv: %s", cr_frame_strerror(rc));
		return 0;
	}
	net_tasks_on_answer(st, type, payload, len);
	if (net_running_count(st) == 0)
		st->stop_grace = cr_now_mono() + NET_STOP_GRACE_S;
	return 0;
}

static void net_on_block(struct net_state *st, size_t q)
{
	struct net_block *b = &st->link.b[q];
	redisReply *r = NULL;
	int rc = cr_rconn_read(b->c, 0, &r);

	if (rc < 0) {
		if (b->c->err == RCONN_ERR_TOO_BIG)
			st->oversize_at = 0;   /* BLMOVE pushed it on the left */
		net_link_drop(st, link_dead_reason(&st->link));
		return;
	}
	if (rc > 0) {
		b->pending = 0;
		/* A blocking pop answered: the broker works end to end, so the
		 * next outage starts from the shortest backoff again. */
		st->link.attempts = 0;
		net_consumer_on_block_reply(st, q, r);
		freeReplyObject(r);
	}
}

/* Done when stopping and nothing is left that we can still finish: no task
 * in priv's hands, no pop in flight, and results either written or given
 * up on for now (they stay taken and are answered after the next start). */
static int net_done(const struct net_state *st)
{
	if (!st->stopping || net_running_count(st) > 0)
		return 0;
	if (net_blocks_pending(st) > 0 && cr_now_mono() < st->stop_grace)
		return 0;
	return net_busy_count(st) == 0 || cr_now_mono() >= st->stop_grace;
}

/* Slots that no pending BLMOVE could fill: what may still be taken. */
static int net_room(const struct net_state *st)
{
	return NET_MAX_INFLIGHT - net_busy_count(st) - net_blocks_pending(st);
}

static void net_step(struct net_state *st)
{
	if (!net_link_ensure(st))
		return;
	net_consumer_commit_due(st);
	net_audit_flush(st);
	if (st->stopping || net_stop_flag)
		return;
	while (net_link_up(st) && net_room(st) > 0 && net_consumer_take_next(st) > 0)
		;   /* take while messages are there and slots are free */
	for (size_t q = 0; q < st->link.nb && net_link_up(st) && net_room(st) > 0 && cr_now_mono() >= st->pop_resume; q++)
		if (!st->link.b[q].pending && net_consumer_block_arm(st, q) < 0)
			break;
	if (!net_link_up(st))
		net_link_drop(st, link_dead_reason(&st->link));
}

static int net_loop(struct net_state *st)
{
	while (!net_done(st)) {
		struct pollfd pfd[1 + NET_MAX_QUEUES];
		nfds_t n_pfd = 1;

		pfd[0] = (struct pollfd){ .fd = st->privfd, .events = POLLIN };
		if (net_stop_flag && !st->stopping) {
			info_f("stopping: finishing %d task(s) in hand", net_running_count(st));
			st->stopping = 1;
			st->stop_grace = cr_now_mono() + NET_STOP_GRACE_S;
		}
		net_step(st);
		if (net_done(st))
			break;
		for (size_t q = 0; q < st->link.nb; q++)
			pfd[n_pfd++] = (struct pollfd){ .fd = st->link.b[q].pending ? st->link.b[q].c->fd : -1,
							 .events = POLLIN };
		double wait = net_next_wake(st) - cr_now_mono();
		if (wait < 0)
			wait = 0;
		if (wait > 1)
			wait = 1;
		struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
		int n = ppoll(pfd, n_pfd, &ts, &net_waitmask);
		if (n < 0 && errno != EINTR) {
			error_f("ppoll: %s", strerror(errno));
			return 1;
		}
		if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && net_on_priv(st))
			return 1;
		for (nfds_t i = 1; n > 0 && i < n_pfd && i - 1 < st->link.nb; i++)
			if (pfd[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				net_on_block(st, i - 1);
		net_timers(st);
	}
	return 0;
}

int net_run(const struct cr_config *cfg, const struct broker_addr *broker, int privfd,
	    const struct net_policy *pol)
{
	struct net_state *st = calloc(1, sizeof(*st));
	int rc;

	if (st == NULL)
		fatal_f("out of memory");
	st->cfg = cfg;
	st->broker = broker;
	st->privfd = privfd;
	st->trusted = pol->keys;
	st->windows = pol->windows;
	st->nwindows = pol->nwindows;
	st->windows_json = cr_winconf_json(pol->windows, pol->nwindows);
	st->oversize_at = LONG_MIN;
	st->recover_pending = 1;   /* what a predecessor had taken comes first */
	srandom((unsigned)getpid() ^ (unsigned)(cr_now_wall() * 1e6));
	cr_rconn_set_reply_max(CELERY_READ_MAX + 4096);
	net_signals();
	cr_rconn_set_interrupt(&net_stop_flag, &net_waitmask);
	net_self_init(st);
	net_consumer_build_keys(st);
	if (net_hello(st) < 0) {
		error_f("priv did not answer hello; stopping");
		free(st->windows_json);
		free(st);
		return 1;
	}
	info_f("worker %s ready on %zu queue(s)", cfg->hostname, st->nkeys / CELERY_PRIORITY_STEPS);
	st->next_heartbeat = cr_now_mono() + cfg->heartbeat_s;
	rc = net_loop(st);
	if (net_link_up(st))
		net_heartbeat_stopped(st);
	link_free(&st->link);
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		if (st->fl[i].state != SLOT_FREE)
			net_consumer_release(&st->fl[i]);
	for (size_t i = 0; i < st->naudit_q; i++)
		free(st->audit_q[i]);
	free(st->windows_json);
	free(st);
	info_f("stopped");
	return rc;
}
