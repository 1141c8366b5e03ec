/* hiredis helpers.  All task data goes through argv, never a format string. */
#ifndef CR_RCONN_H
#define CR_RCONN_H

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stddef.h>

#include "crconfig.h"

/* c->err values of ours, beside hiredis's REDIS_ERR_*: a reply over the
 * bound (cr_rconn_set_reply_max), no reply by the deadline. */
#define RCONN_ERR_TOO_BIG 100
#define RCONN_ERR_TIMEOUT 101
#define RCONN_ERR_FAILOVER 102   /* READONLY or MASTERDOWN: find the master again */

/* Connects, authenticates and selects the database.  NULL with a one-line
 * reason that says what to do next. */
redisContext *cr_rconn_connect(const struct broker_addr *b, double timeout_s, char *err,
			    size_t errlen);
/* The same to a given address with b's credentials and database (a
 * master a sentinel named; a sentinel itself with db -1: no SELECT, no AUTH
 * unless given). */
redisContext *cr_rconn_connect_at(const struct broker_addr *b, const char *host, int port,
			       double timeout_s, char *err, size_t errlen);
/* Frees a context from cr_rconn_connect (and anything layered under it). */
void cr_rconn_free(redisContext *c);
/* Blocking command of NUL-terminated strings, terminated by NULL.  Waits
 * for the reply at most the connect timeout given to cr_rconn_connect; NULL
 * when there is none (the context is then dead). */
redisReply *cr_rconn_cmd(redisContext *c, const char *arg0, ...) __attribute__((sentinel));
redisReply *cr_rconn_cmdargv(redisContext *c, int argc, const char **argv, const size_t *lens);
/* Pipelining: queue now, read the replies later with cr_rconn_read(). */
int cr_rconn_append(redisContext *c, int argc, const char *const *argv, const size_t *lens);
int cr_rconn_flush(redisContext *c);
/* One non-blocking-aware step of a flush, for callers that poll
 * themselves: 0 (with *done once the buffer is empty) or -1; *wait_for is
 * the poll event to wait for before the next step (POLLIN while a TLS
 * peer renegotiates, else POLLOUT). */
int cr_rconn_write(redisContext *c, int *done, short *wait_for);
/* Waits up to timeout_ms for one reply: 1 got one, 0 timed out, -1 error
 * (the context is then dead and must be reconnected). */
int cr_rconn_read(redisContext *c, int timeout_ms, redisReply **out);
/* The same with a deadline on the monotonic clock for the whole reply. */
int cr_rconn_read_until(redisContext *c, double deadline, redisReply **out);
/* Replies larger than this end the connection (default 256 MiB): a hostile
 * writer cannot make a reader hold more.  Process-wide. */
void cr_rconn_set_reply_max(size_t bytes);
/* For a process that blocks its stop signals outside its waits: replies
 * are waited for with mask in force (so the signals arrive), and once *flag
 * is set for at most one more second. */
void cr_rconn_set_interrupt(volatile sig_atomic_t *flag, const sigset_t *mask);
/* A command for cr_rconn_pipeline: argv with lengths (binary safe). */
#define RCONN_CMD_ARGS 12
struct cr_rconn_cmd {
	int argc;
	const char *argv[RCONN_CMD_ARGS];
	size_t lens[RCONN_CMD_ARGS];
};
/* Appends an argument; len (size_t)-1 means strlen(s).  Beyond
 * RCONN_CMD_ARGS arguments the command is marked bad (argc -1). */
void cr_rconn_arg(struct cr_rconn_cmd *c, const char *s, size_t len);
/* Sends n commands at once and reads every reply (so none is left behind
 * for a later command), within the connection's timeout.  With multi they
 * go as one MULTI/EXEC.  1 every command ran (with multi: the transaction
 * was committed); 0 the broker answered an error (with multi: nothing ran),
 * the first one in err; -1 the connection failed (it is then dead, and
 * whether a transaction ran is unknown). */
int cr_rconn_pipeline(redisContext *c, const struct cr_rconn_cmd *cmds, int n, int multi, char *err, size_t errlen);
/* cr_rconn_pipeline's two halves, for a caller that sends in its own way
 * (the CLI, bounded by its deadline): cr_rconn_append_all queues the commands
 * (with multi inside MULTI ... EXEC), 0 or -1; cr_rconn_read_all reads all
 * their replies by deadline: 1 and 0 as cr_rconn_pipeline (err empty when an
 * EXEC answered nil), -1 the connection failed, -2 no reply in time (the
 * context is then out of step with the broker). */
int cr_rconn_append_all(redisContext *c, const struct cr_rconn_cmd *cmds, int n, int multi);
int cr_rconn_read_all(redisContext *c, int n, int multi, double deadline, char *err, size_t errlen);

/* 1 if the reply is an error reply (and logs nothing). */
int cr_rconn_is_error(const redisReply *r);

#endif
