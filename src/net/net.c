/* net's main loop: one BRPOP connection, one command connection, the priv
 * socket and a few timers, multiplexed with ppoll so that the heartbeat keeps
 * going while priv works on a long task. */
#include "config.h"
#include "net.h"
#include "net_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "proto.h"
#include "rconn.h"
#include "timeutil.h"

#define NET_CONNECT_TIMEOUT 5.0
#define NET_BACKOFF_MAX 30.0
#define NET_HELLO_TIMEOUT_MS 60000

volatile sig_atomic_t net_stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	net_stop_flag = 1;
}

void net_redis_drop(struct net_state *st)
{
	if (st->bc)
		redisFree(st->bc);
	if (st->cc)
		redisFree(st->cc);
	st->bc = st->cc = NULL;
	st->brpop_pending = 0;
}

static redisContext *net_connect_one(struct net_state *st)
{
	char err[512];
	redisContext *c = rconn_connect(st->broker, NET_CONNECT_TIMEOUT, err, sizeof(err));

	if (c == NULL)
		error_f("%s", err);
	return c;
}

static void net_free_dead(struct net_state *st)
{
	if (st->cc && st->cc->err) {
		error_f("command connection lost: %s", st->cc->errstr);
		redisFree(st->cc);
		st->cc = NULL;
	}
	if (st->bc && st->bc->err) {
		error_f("consumer connection lost: %s", st->bc->errstr);
		redisFree(st->bc);
		st->bc = NULL;
		st->brpop_pending = 0;
	}
}

/* Reconnects whichever connection is dead, with exponential backoff; a
 * healthy consumer connection is never dropped, because a BRPOP reply in
 * flight on it would be lost.  Gives up only when asked to stop. */
int net_redis_ensure(struct net_state *st)
{
	double backoff = 0.5;

	for (;;) {
		net_free_dead(st);
		if (st->cc && st->bc)
			return 0;
		if (net_stop_flag)
			return -1;
		if (st->cc == NULL && (st->cc = net_connect_one(st)) != NULL) {
			if (worker_declare_queues(st) < 0 || heartbeat_send(st) < 0) {
				redisFree(st->cc);
				st->cc = NULL;
			} else {
				info_f("connected to the broker at %s:%d", st->broker->host, st->broker->port);
			}
		}
		if (st->cc && st->bc == NULL)
			st->bc = net_connect_one(st);
		if (st->cc && st->bc)
			return 0;
		usleep((useconds_t)(backoff * 1e6));
		backoff = backoff * 2 > NET_BACKOFF_MAX ? NET_BACKOFF_MAX : backoff * 2;
	}
}

int net_priv_request(struct net_state *st, const struct proto_req *r)
{
	size_t len;
	char *payload = proto_req_encode(r, &len);
	int rc;

	if (payload == NULL)
		return -1;
	rc = frame_send(st->privfd, r->type, payload, len);
	free(payload);
	return rc == FRAME_OK ? 0 : -1;
}

int net_inflight_count(const struct net_state *st)
{
	int n = 0;
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		n += st->fl[i].used;
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
	if (frame_recv(st->privfd, buf, sizeof(buf), &type, &payload, &len) != FRAME_OK)
		return -1;
	if (type != ANS_REPLY || proto_ans_decode(type, payload, len, &a, err, sizeof(err)) < 0)
		return -1;
	copy_str(st->self.os, sizeof(st->self.os), json_string_value(json_object_get(a.data, "os_pretty")));
	copy_str(st->self.kernel, sizeof(st->self.kernel), json_string_value(json_object_get(a.data, "kernel")));
	st->priv_pid = (int)json_integer_value(json_object_get(a.data, "priv_pid"));
	proto_ans_free(&a);
	return 0;
}

static void net_self_init(struct net_state *st)
{
	const struct cr_config *c = st->cfg;

	memset(&st->self, 0, sizeof(st->self));
	copy_str(st->self.hostname, sizeof(st->self.hostname), c->hostname);
	for (int i = 0; i < c->nroles && i < REG_MAX_ROLES; i++)
		copy_str(st->self.roles[i], sizeof(st->self.roles[i]), c->roles[i]);
	st->self.nroles = c->nroles;
	copy_str(st->self.version, sizeof(st->self.version), PACKAGE_VERSION);
	copy_str(st->self.state, sizeof(st->self.state), "running");
	st->self.started = now_wall();
	st->self.heartbeat_s = c->heartbeat_s;
	st->self.pid = (long)getpid();
}

static void net_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;   /* no SA_RESTART: ppoll must return */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* Signals are only delivered inside ppoll, so a stop request can never
	 * slip in between checking the flag and going to sleep. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
}

static int net_poll_timeout(const struct net_state *st)
{
	double now = now_mono(), next = st->next_heartbeat;

	if (st->next_restore < next)
		next = st->next_restore;
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		if (st->fl[i].used && st->fl[i].hold_until > 0 && st->fl[i].hold_until < next)
			next = st->fl[i].hold_until;
	if (next <= now)
		return 0;
	return next - now > 1.0 ? 1000 : (int)((next - now) * 1000) + 1;
}

static void net_timers(struct net_state *st)
{
	double now = now_mono();

	if (now >= st->next_heartbeat) {
		if (heartbeat_send(st) == 0)
			worker_keepalive(st);
		st->next_heartbeat = now + st->cfg->heartbeat_s;
	}
	if (now >= st->next_restore) {
		worker_restore_visible(st);
		st->next_restore = now + st->cfg->restore_interval_s;
	}
	tasks_tick(st);
	if (now >= st->next_release) {
		defer_release(st);
		st->next_release = now + 1;
	}
}

/* Returns 1 when priv has gone away. */
static int net_on_priv(struct net_state *st)
{
	uint8_t buf[FRAME_HDR + FRAME_MAX_PAYLOAD + 1], type;
	const uint8_t *payload;
	size_t len;
	int rc = frame_recv(st->privfd, buf, sizeof(buf), &type, &payload, &len);

	if (rc == FRAME_EOF || rc == FRAME_IO) {
		error_f("priv has gone away (%s); stopping", frame_strerror(rc));
		return 1;
	}
	if (rc != FRAME_OK) {
		error_f("bad frame from priv: %s", frame_strerror(rc));
		return 0;
	}
	tasks_on_answer(st, type, payload, len);
	return 0;
}

static int net_loop(struct net_state *st, const sigset_t *waitmask)
{
	while (!(st->stopping && net_inflight_count(st) == 0 && !st->brpop_pending)) {
		struct pollfd pfd[2] = { { .fd = st->privfd, .events = POLLIN }, { .fd = -1 } };
		int timeout_ms = net_poll_timeout(st);
		struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };

		if (net_stop_flag && !st->stopping) {
			info_f("stopping: finishing %d task(s) in hand", net_inflight_count(st));
			st->stopping = 1;
		}
		if (net_redis_ensure(st) < 0)
			return 0;
		if (!st->stopping && !st->brpop_pending && net_inflight_count(st) < NET_MAX_INFLIGHT &&
		    now_mono() >= st->brpop_resume)
			worker_brpop_send(st);
		if (st->brpop_pending)
			pfd[1] = (struct pollfd){ .fd = st->bc->fd, .events = POLLIN };
		int n = ppoll(pfd, 2, &ts, waitmask);
		if (n < 0 && errno != EINTR) {
			error_f("ppoll: %s", strerror(errno));
			return 1;
		}
		if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) && net_on_priv(st))
			return 1;
		if (n > 0 && pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			redisReply *r = NULL;
			if (rconn_read(st->bc, 0, &r) > 0) {
				st->brpop_pending = 0;
				worker_on_brpop(st, r);
				freeReplyObject(r);
			}
		}
		net_timers(st);
	}
	return 0;
}

int net_run(const struct cr_config *cfg, const struct broker_addr *broker, int privfd,
	    const struct net_policy *pol)
{
	struct net_state *st = calloc(1, sizeof(*st));
	sigset_t waitmask;
	int rc;

	if (st == NULL)
		fatal_f("out of memory");
	st->cfg = cfg;
	st->broker = broker;
	st->privfd = privfd;
	st->trusted = pol->keys;
	st->windows = pol->windows;
	st->nwindows = pol->nwindows;
	st->windows_json = winconf_json(pol->windows, pol->nwindows);
	srandom((unsigned)getpid() ^ (unsigned)(now_wall() * 1e6));
	net_signals(&waitmask);
	net_self_init(st);
	worker_build_keys(st);
	if (net_hello(st) < 0) {
		error_f("priv did not answer hello; stopping");
		free(st->windows_json);
		free(st);
		return 1;
	}
	if (net_redis_ensure(st) < 0) {
		free(st->windows_json);
		free(st);
		return 0;
	}
	info_f("worker %s ready on %zu queue(s)", cfg->hostname, st->nkeys / CELERY_PRIORITY_STEPS);
	st->next_heartbeat = now_mono() + cfg->heartbeat_s;
	st->next_restore = now_mono();
	rc = net_loop(st, &waitmask);
	if (st->cc && !st->cc->err)
		heartbeat_stopped(st);
	net_redis_drop(st);
	free(st->windows_json);
	free(st);
	info_f("stopped");
	return rc;
}
