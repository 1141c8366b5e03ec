/* hiredis helpers.  All task data goes through argv, never a format string. */
#ifndef CR_RCONN_H
#define CR_RCONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "crconfig.h"

/* Connects, authenticates and selects the database.  NULL with a one-line
 * reason that says what to do next. */
redisContext *rconn_connect(const struct broker_addr *b, double timeout_s, char *err,
			    size_t errlen);
/* Blocking command of NUL-terminated strings, terminated by NULL. */
redisReply *rconn_cmd(redisContext *c, const char *arg0, ...) __attribute__((sentinel));
redisReply *rconn_cmdargv(redisContext *c, int argc, const char **argv, const size_t *lens);
/* Pipelining: queue now, read the replies later with rconn_read(). */
int rconn_append(redisContext *c, int argc, const char **argv, const size_t *lens);
int rconn_flush(redisContext *c);
/* Waits up to timeout_ms for one reply: 1 got one, 0 timed out, -1 error
 * (the context is then dead and must be reconnected). */
int rconn_read(redisContext *c, int timeout_ms, redisReply **out);
/* 1 if the reply is an error reply (and logs nothing). */
int rconn_is_error(const redisReply *r);

#endif
