#include "config.h"
#include "rconn.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RCONN_MAX_ARGS 64

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
		r = rconn_cmd(c, "AUTH", b->user, b->password, NULL);
	else
		r = rconn_cmd(c, "AUTH", b->password, NULL);
	if (r == NULL || rconn_is_error(r)) {
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
	r = rconn_cmd(c, "SELECT", dbs, NULL);
	if (r == NULL || rconn_is_error(r)) {
		snprintf(err, errlen, "the broker refused SELECT %d", db);
		if (r)
			freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

redisContext *rconn_connect(const struct broker_addr *b, double timeout_s, char *err, size_t errlen)
{
	struct timeval tv;
	redisContext *c;

	tv_from(timeout_s, &tv);
	c = redisConnectWithTimeout(b->host, b->port, tv);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory connecting to the broker");
		return NULL;
	}
	if (c->err) {
		snprintf(err, errlen, "cannot reach the broker at %s:%d: %s (is redis-server running? set --broker or CELERYROOT_BROKER_URL)",
			 b->host, b->port, c->errstr);
		redisFree(c);
		return NULL;
	}
	/* A command timeout keeps a dead broker from hanging us forever; BRPOP
	 * and SUBSCRIBE reads go through rconn_read(), which polls instead. */
	redisSetTimeout(c, tv);
	if (rconn_auth(c, b, err, errlen) < 0 || rconn_select(c, b->db, err, errlen) < 0) {
		redisFree(c);
		return NULL;
	}
	return c;
}

int rconn_is_error(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR;
}

redisReply *rconn_cmdargv(redisContext *c, int argc, const char **argv, const size_t *lens)
{
	if (c == NULL || c->err)
		return NULL;
	return redisCommandArgv(c, argc, argv, lens);
}

redisReply *rconn_cmd(redisContext *c, const char *arg0, ...)
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
	return rconn_cmdargv(c, argc, argv, NULL);
}

int rconn_append(redisContext *c, int argc, const char **argv, const size_t *lens)
{
	if (c == NULL || c->err)
		return -1;
	return redisAppendCommandArgv(c, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

int rconn_flush(redisContext *c)
{
	int done = 0;

	while (!done) {
		if (redisBufferWrite(c, &done) != REDIS_OK)
			return -1;
	}
	return 0;
}

int rconn_read(redisContext *c, int timeout_ms, redisReply **out)
{
	void *reply = NULL;

	*out = NULL;
	if (c == NULL || c->err)
		return -1;
	/* A reply may already sit in the reader from an earlier read. */
	if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
		return -1;
	while (reply == NULL) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int n = poll(&pfd, 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			return 0;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (redisBufferRead(c) != REDIS_OK)
			return -1;
		if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
			return -1;
		timeout_ms = 0;
		if (reply == NULL)
			timeout_ms = 50; /* partial reply: the rest is on its way */
	}
	*out = reply;
	return 1;
}
