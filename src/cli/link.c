/* The CLI's link to the broker where giving up early would mislead: after a
 * job is sent, a slow or restarting broker must not end the wait before the
 * CLI's own deadline.  Writes and reads here are bounded by that deadline
 * (polling), not by the connection's 3 s command timeout, and a lost
 * connection is made again with backoff.  These belong with rconn.c once the
 * daemon's side of it settles; they live here for now. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rconn.h"
#include "timeutil.h"

#define LINK_SLICE_MS 200          /* longest single poll: the caller's loop stays lively */
#define LINK_BACKOFF_FIRST 0.2
#define LINK_BACKOFF_MAX 2.0
#define LINK_CONNECT_MAX 3.0       /* one connection attempt, as cli_connect */
#define LINK_CONNECT_MIN 0.5       /* AUTH and SELECT need a moment even near the deadline */

static int ms_until(double deadline)
{
	double left = deadline - cr_now_mono();

	if (left <= 0)
		return 0;
	return left * 1000 > LINK_SLICE_MS ? LINK_SLICE_MS : (int)(left * 1000) + 1;
}

int link_flush(redisContext *c, double deadline)
{
	int done = 0;
	short ev = POLLOUT;

	if (c == NULL || c->err)
		return -1;
	while (!done) {
		struct pollfd pfd = { .fd = c->fd, .events = ev };
		/* Wait for room first: a blocking write with no room would give up
		 * after the socket's 3 s timeout and kill the context. */
		int n = poll(&pfd, 1, ms_until(deadline));
		if (n < 0 && errno != EINTR)
			return -1;
		if (n <= 0) {
			if (cr_now_mono() >= deadline)
				return -1;
			continue;
		}
		if (cr_rconn_write(c, &done, &ev) < 0)
			return -1;
	}
	return 0;
}

int link_read(redisContext *c, double deadline, redisReply **out)
{
	*out = NULL;
	for (;;) {
		int rc = cr_rconn_read(c, ms_until(deadline), out);
		if (rc != 0)
			return rc;
		if (cr_now_mono() >= deadline)
			return 0;
	}
}

redisReply *link_cmd(redisContext *c, int argc, const char **argv, double deadline, char *err, size_t len)
{
	redisReply *r = NULL;
	int rc;

	if (c == NULL || c->err) {
		snprintf(err, len, "%s", c ? c->errstr : "not connected");
		return NULL;
	}
	if (cr_rconn_append(c, argc, argv, NULL) < 0 || link_flush(c, deadline) < 0) {
		snprintf(err, len, "%s", c->err ? c->errstr : "the broker took no more data before the timeout");
		return NULL;
	}
	rc = link_read(c, deadline, &r);
	if (rc == 0)
		snprintf(err, len, "no answer from the broker before the timeout");
	else if (rc < 0)
		snprintf(err, len, "%s", c->err ? c->errstr : "connection lost");
	return rc == 1 ? r : NULL;
}

void link_poison(redisContext *c, const char *why)
{
	if (c == NULL || c->err)
		return;
	/* As hiredis marks a context it gave up on: every later call fails. */
	c->err = REDIS_ERR_OTHER;
	snprintf(c->errstr, sizeof(c->errstr), "%s", why);
}

double link_backoff(double *delay)
{
	double d = *delay > 0 ? *delay : LINK_BACKOFF_FIRST;
	/* Up to 25 % more, so that many CLIs cut off together do not return in step. */
	double jitter = d * 0.25 * (double)randombytes_uniform(1001) / 1000.0;

	*delay = fmin(d * 2, LINK_BACKOFF_MAX);
	return d + jitter;
}

void link_sleep_until(double when)
{
	double left = when - cr_now_mono();

	if (left > 0)
		usleep((useconds_t)(left * 1e6));
}

redisContext *link_connect_once(struct cli_opts *o, double deadline, char *err, size_t len)
{
	double t = fmax(LINK_CONNECT_MIN, fmin(LINK_CONNECT_MAX, deadline - cr_now_mono()));

	return cr_rconn_connect(&o->broker, t, err, len);
}

redisContext *link_reconnect(struct cli_opts *o, double deadline, char *err, size_t len)
{
	double delay = 0;

	for (;;) {
		redisContext *c = link_connect_once(o, deadline, err, len);
		if (c != NULL)
			return c;
		double next = cr_now_mono() + link_backoff(&delay);
		if (next >= deadline)
			return NULL;
		link_sleep_until(next);
	}
}
