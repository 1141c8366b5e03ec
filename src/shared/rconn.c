#include "config.h"
#include "crerr.h"
#include "rbound.h"
#include "rconn.h"
#include "rtls.h"
#include "sentinel.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define RCONN_MAX_ARGS 64
/* Unacknowledged data older than this ends the connection (TCP_USER_TIMEOUT):
 * with keepalive (hiredis: idle 15 s, then 3 probes 5 s apart) a peer that
 * went silent is noticed within about 30 s even when nothing is being sent. */
#define RCONN_USER_TIMEOUT_MS 20000

/* The largest reply read from the broker: anything bigger ends the
 * connection rather than the process's memory (cr_rconn_set_reply_max). */
static size_t reply_max = 256u * 1024 * 1024;

void cr_rconn_set_reply_max(size_t bytes)
{
	reply_max = bytes;
}

/* A stop request (cr_rconn_set_interrupt): waits let the stop signals in, and
 * once the flag is set no reply is waited for longer than this. */
#define RCONN_STOP_WAIT_S 1.0
static volatile sig_atomic_t *stop_flag;
static const sigset_t *stop_mask;

void cr_rconn_set_interrupt(volatile sig_atomic_t *flag, const sigset_t *mask)
{
	stop_flag = flag;
	stop_mask = mask;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Marks c dead with a reason of ours (hiredis's own errors do the same). */
static void rconn_fail(redisContext *c, int code, const char *why)
{
	c->err = code;
	snprintf(c->errstr, sizeof(c->errstr), "%s", why);
}

/* TCP keepalive and a bound on unacknowledged data: a broker that vanished
 * without closing (power loss, a dropped route) is noticed, not waited on. */
static void rconn_keepalive(redisContext *c)
{
	unsigned int ut = RCONN_USER_TIMEOUT_MS;

	if (c->connection_type != REDIS_CONN_TCP)
		return;
	redisEnableKeepAlive(c);
	setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
}

static void tv_from(double s, struct timeval *tv)
{
	tv->tv_sec = (time_t)s;
	tv->tv_usec = (suseconds_t)((s - (double)tv->tv_sec) * 1e6);
}

static int rconn_auth(redisContext *c, const struct broker_addr *b, char *err, size_t errlen)
{
	redisReply *r;

	if (b->password[0] == '\0')
		return 0;
	if (b->user[0] != '\0')
		r = cr_rconn_cmd(c, "AUTH", b->user, b->password, NULL);
	else
		r = cr_rconn_cmd(c, "AUTH", b->password, NULL);
	if (r == NULL || cr_rconn_is_error(r)) {
		snprintf(err, errlen, "the broker refused our credentials%s%s: check the user and password in the broker URL or config",
			 r ? ": " : "", r ? r->str : "");
		if (r)
			freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

static int rconn_select(redisContext *c, int db, char *err, size_t errlen)
{
	char dbs[16];
	redisReply *r;

	if (db == 0)
		return 0;
	snprintf(dbs, sizeof(dbs), "%d", db);
	r = cr_rconn_cmd(c, "SELECT", dbs, NULL);
	if (r == NULL || cr_rconn_is_error(r)) {
		snprintf(err, errlen, "the broker refused SELECT %d", db);
		if (r)
			freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

void cr_rconn_free(redisContext *c)
{
	if (c) {
		cr_tls_detach(c);
		cr_rbound_release(c->reader);
		redisFree(c);
	}
}

/* TLS over the connected socket, before a byte of Redis is sent: a TLS
 * broker is never spoken to in clear text.  The certificate must name the
 * URL's host when this is the URL's address (numeric by now), else the
 * address connected to (a master a sentinel named). */
static int rconn_tls(redisContext *c, const struct broker_addr *b, const char *host, int port, double timeout_s,
		     char *err, size_t errlen)
{
	const char *name = strcmp(host, b->host) == 0 && b->tls.servername[0] ? b->tls.servername : host;
	char why[CR_ERR_MAX];

	if (!b->tls.on)
		return 0;
	if (cr_tls_attach(c, name, timeout_s, why, sizeof(why)) < 0)
		return snprintf(err, errlen, "broker %s:%d: %s", host, port, why), -1;
	return 0;
}

redisContext *cr_rconn_connect(const struct broker_addr *b, double timeout_s, char *err, size_t errlen)
{
	if (b->nsentinels > 0)
		return cr_sentinel_connect(b, timeout_s, NULL, err, errlen);
	return cr_rconn_connect_at(b, b->host, b->port, timeout_s, err, errlen);
}

redisContext *cr_rconn_connect_at(const struct broker_addr *b, const char *host, int port,
			       double timeout_s, char *err, size_t errlen)
{
	struct timeval tv;
	redisContext *c;

	/* The certificate files are read (and a bad one reported) before any
	 * connection is made; net has built its context from memory by now. */
	if (b->tls.on && !cr_tls_ready() && cr_tls_setup(&b->tls, NULL, err, errlen) < 0)
		return NULL;
	tv_from(timeout_s, &tv);
	c = redisConnectWithTimeout(host, port, tv);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory connecting to the broker");
		return NULL;
	}
	if (c->err) {
		snprintf(err, errlen, "cannot reach the broker at %s:%d: %s (is redis-server running? set --broker or CELERYROOT_BROKER_URL)",
			 host, port, c->errstr);
		redisFree(c);
		return NULL;
	}
	/* Before any reply is read: an array header cannot claim more memory
	 * than the reply bound allows (src/shared/rbound.h). */
	if (cr_rbound_attach(c->reader, reply_max) < 0) {
		snprintf(err, errlen, "out of memory connecting to the broker");
		redisFree(c);
		return NULL;
	}
	/* Every command waits at most timeout_s for its reply (cr_rconn_cmdargv);
	 * blocking pops and SUBSCRIBE reads go through cr_rconn_read(). */
	redisSetTimeout(c, tv);
	rconn_keepalive(c);
	if (rconn_tls(c, b, host, port, timeout_s, err, errlen) < 0) {
		cr_rconn_free(c);
		return NULL;
	}
	if (rconn_auth(c, b, err, errlen) < 0 || (b->db > 0 && rconn_select(c, b->db, err, errlen) < 0)) {
		cr_rconn_free(c);
		return NULL;
	}
	return c;
}

int cr_rconn_is_error(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR;
}

/* Like redisCommandArgv, but the reply is read by cr_rconn_read_until: a
 * deadline for the whole reply (not per read()) and the size bound. */
redisReply *cr_rconn_cmdargv(redisContext *c, int argc, const char **argv, const size_t *lens)
{
	redisReply *r = NULL;
	double wait = 5.0;

	if (c == NULL || c->err)
		return NULL;
	if (c->timeout)
		wait = (double)c->timeout->tv_sec + (double)c->timeout->tv_usec / 1e6;
	if (cr_rconn_append(c, argc, argv, lens) < 0 || cr_rconn_flush(c) < 0)
		return NULL;
	if (cr_rconn_read_until(c, mono_now() + wait, &r) != 1) {
		if (!c->err)
			rconn_fail(c, RCONN_ERR_TIMEOUT, "no reply from the broker in time");
		return NULL;
	}
	return r;
}

redisReply *cr_rconn_cmd(redisContext *c, const char *arg0, ...)
{
	const char *argv[RCONN_MAX_ARGS];
	int argc = 0;
	va_list ap;

	argv[argc++] = arg0;
	va_start(ap, arg0);
	for (const char *a = va_arg(ap, const char *); a != NULL; a = va_arg(ap, const char *)) {
		if (argc >= RCONN_MAX_ARGS) {
			va_end(ap);
			return NULL;
		}
		argv[argc++] = a;
	}
	va_end(ap);
	return cr_rconn_cmdargv(c, argc, argv, NULL);
}

int cr_rconn_append(redisContext *c, int argc, const char *const *argv, const size_t *lens)
{
	if (c == NULL || c->err)
		return -1;
	/* hiredis only reads argv; its prototype lacks the const. */
	return redisAppendCommandArgv(c, argc, (const char **)argv, lens) == REDIS_OK ? 0 : -1;
}

int cr_rconn_write(redisContext *c, int *done, short *wait_for)
{
	int want_read = 0;

	*wait_for = POLLOUT;
	if (!cr_tls_on(c))
		return redisBufferWrite(c, done) == REDIS_OK ? 0 : -1;
	if (cr_tls_write(c, done, &want_read) != REDIS_OK)
		return -1;
	if (want_read)
		*wait_for = POLLIN;
	return 0;
}

int cr_rconn_flush(redisContext *c)
{
	int done = 0;

	if (cr_tls_on(c))
		return cr_tls_flush(c, c->timeout ? (double)c->timeout->tv_sec + (double)c->timeout->tv_usec / 1e6 : 5.0) ==
		       REDIS_OK ? 0 : -1;
	while (!done) {
		if (redisBufferWrite(c, &done) != REDIS_OK)
			return -1;
	}
	return 0;
}

/* Reads what has arrived into the reader; -1 (c dead) on error or when the
 * reply being read has grown past the bound. */
static int rconn_fill(redisContext *c)
{
	if ((cr_tls_on(c) ? cr_tls_read(c, reply_max) : redisBufferRead(c)) != REDIS_OK)
		return -1;
	if (c->reader->len - c->reader->pos > reply_max) {
		char why[sizeof(c->errstr)]; /* hiredis keeps 128 bytes of reason */
		snprintf(why, sizeof(why), "a reply larger than %zu bytes", reply_max);
		rconn_fail(c, RCONN_ERR_TOO_BIG, why);
		return -1;
	}
	return 0;
}

/* Waits up to ms for the socket; 1 readable, 0 not yet, -1 error. */
static int rconn_wait(redisContext *c, int ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	struct timespec ts = { (ms < 0 ? 0 : ms) / 1000, (long)((ms < 0 ? 0 : ms) % 1000) * 1000000L };
	int n;

	/* OpenSSL may hold decrypted bytes the socket no longer signals. */
	if (cr_tls_pending(c))
		return 1;
	n = ppoll(&pfd, 1, &ts, stop_mask);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n < 0) {
		rconn_fail(c, REDIS_ERR_IO, "poll failed");
		return -1;
	}
	return n;
}

/* redisGetReplyFromReader, with our own reason when the array bound
 * refused the reply (hiredis can only say "Out of memory"). */
static int rconn_get(redisContext *c, void **reply)
{
	long budget;

	if (redisGetReplyFromReader(c, reply) == REDIS_OK)
		return 0;
	budget = cr_rbound_refused(c->reader);
	if (budget > 0) {
		char why[sizeof(c->errstr)];
		snprintf(why, sizeof(why), "a reply announcing more than %ld array elements (a hostile or broken server)",
			 budget);
		rconn_fail(c, RCONN_ERR_TOO_BIG, why);
	}
	return -1;
}

int cr_rconn_read_until(redisContext *c, double deadline, redisReply **out)
{
	void *reply = NULL;

	*out = NULL;
	if (c == NULL || c->err)
		return -1;
	/* A reply may already sit in the reader from an earlier read. */
	if (rconn_get(c, &reply) < 0)
		return -1;
	while (reply == NULL) {
		double left = deadline - mono_now();
		/* Stopping: a live broker answers at once; a silent one is not waited on. */
		if (stop_flag && *stop_flag && left > RCONN_STOP_WAIT_S) {
			deadline = mono_now() + RCONN_STOP_WAIT_S;
			left = RCONN_STOP_WAIT_S;
		}
		/* Looked at once even past the deadline: what has arrived is read. */
		int n = rconn_wait(c, left > 0 ? (int)(left * 1000) + 1 : 0);
		if (n < 0)
			return -1;
		if (n > 0 && (rconn_fill(c) < 0 || rconn_get(c, &reply) < 0))
			return -1;
		if (reply == NULL && mono_now() >= deadline)
			return 0;
	}
	/* A master turned replica (or one that lost its master) ends the
	 * connection: every caller's reconnect path then finds the master. */
	const char *failover = cr_sentinel_failover_reply(reply);
	if (failover)
		rconn_fail(c, RCONN_ERR_FAILOVER, failover);
	*out = reply;
	return 1;
}

int cr_rconn_read(redisContext *c, int timeout_ms, redisReply **out)
{
	return cr_rconn_read_until(c, mono_now() + (timeout_ms < 0 ? 0 : timeout_ms) / 1000.0, out);
}

void cr_rconn_arg(struct cr_rconn_cmd *c, const char *s, size_t len)
{
	if (c->argc < 0 || c->argc >= RCONN_CMD_ARGS) {
		c->argc = -1;
		return;
	}
	c->argv[c->argc] = s;
	c->lens[c->argc++] = len == (size_t)-1 ? strlen(s) : len;
}

static double rconn_wait_s(const redisContext *c)
{
	return c->timeout ? (double)c->timeout->tv_sec + (double)c->timeout->tv_usec / 1e6 : 5.0;
}

int cr_rconn_append_all(redisContext *c, const struct cr_rconn_cmd *cmds, int n, int multi)
{
	const char *mv[] = { "MULTI" }, *ev[] = { "EXEC" };
	int ok = c != NULL && !c->err && (!multi || cr_rconn_append(c, 1, mv, NULL) == 0);

	for (int i = 0; ok && i < n; i++)
		ok = cmds[i].argc > 0 && cr_rconn_append(c, cmds[i].argc, cmds[i].argv, cmds[i].lens) == 0;
	ok = ok && (!multi || cr_rconn_append(c, 1, ev, NULL) == 0);
	return ok ? 0 : -1;
}

int cr_rconn_read_all(redisContext *c, int n, int multi, double deadline, char *err, size_t errlen)
{
	int errors = 0, type = 0, replies = n + (multi ? 2 : 0);

	if (errlen > 0)
		err[0] = '\0';
	/* Every reply is read, so that none is left to answer a later command. */
	for (int i = 0; i < replies; i++) {
		redisReply *r = NULL;
		int got = cr_rconn_read_until(c, deadline, &r);
		if (got != 1)
			return got < 0 || c->err ? -1 : -2;
		type = r->type;
		if (r->type == REDIS_REPLY_ERROR && errors++ == 0)
			snprintf(err, errlen, "%s", r->str ? r->str : "error");
		freeReplyObject(r);
	}
	/* EXEC answers an array when it ran; nil or EXECABORT when it did not. */
	return errors == 0 && (!multi || type == REDIS_REPLY_ARRAY) ? 1 : 0;
}

int cr_rconn_pipeline(redisContext *c, const struct cr_rconn_cmd *cmds, int n, int multi, char *err, size_t errlen)
{
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	if (cr_rconn_append_all(c, cmds, n, multi) < 0 || cr_rconn_flush(c) < 0) {
		if (c && !c->err)
			rconn_fail(c, REDIS_ERR_OTHER, "a command could not be sent");
		return -1;
	}
	rc = cr_rconn_read_all(c, n, multi, mono_now() + rconn_wait_s(c), err, errlen);
	if (rc < 0) {
		if (!c->err)
			rconn_fail(c, RCONN_ERR_TIMEOUT, "no reply from the broker in time");
		return -1;
	}
	if (rc == 0 && multi && (errlen == 0 || err[0] == '\0'))
		snprintf(err, errlen, "the transaction was aborted");
	return rc;
}
