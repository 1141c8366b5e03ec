/* Redis replicates asynchronously: a job the master accepted can be lost
 * if the master dies before a replica has it, and a failover then promotes
 * a replica without it.  When the master has replicas, the CLI asks it to
 * confirm (WAIT) before reporting the job as sent, and says so loudly when
 * they did not confirm in time (README "Sentinel", docs/DESIGN.md). */
#include "config.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "rconn.h"

/* How long a replica gets to confirm: a healthy one answers within
 * milliseconds; longer only delays every send when one is lagging. */
#define REPL_WAIT_MS "1000"

/* The master's connected replicas from ROLE; 0 when none, or when ROLE is
 * not allowed or not a master's (nothing to confirm with). */
static long replicas_of(redisContext *c)
{
	redisReply *r = cr_rconn_cmd(c, "ROLE", NULL);
	long n = 0;

	if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 && r->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(r->element[0]->str, "master") == 0 && r->element[2]->type == REDIS_REPLY_ARRAY)
		n = (long)r->element[2]->elements;
	if (r)
		freeReplyObject(r);
	return n;
}

int cli_confirm_replicas(redisContext *c, const char *job_id)
{
	char want[24];
	long n = replicas_of(c), acked = -1;
	redisReply *r;

	if (n <= 0)
		return 0;
	snprintf(want, sizeof(want), "%ld", n);
	r = cr_rconn_cmd(c, "WAIT", want, REPL_WAIT_MS, NULL);
	if (r && r->type == REDIS_REPLY_INTEGER)
		acked = (long)r->integer;
	if (r)
		freeReplyObject(r);
	if (acked >= n)
		return 0;
	cli_err("warning: job %s is on the broker's master, but %s%ld of its %ld replica(s) confirmed it within %s ms: "
		"if the master fails now the job can be lost; after a failover check it with 'celeryroot job %s'",
		job_id, acked < 0 ? "none " : "", acked < 0 ? 0 : acked, n, REPL_WAIT_MS, job_id);
	return -1;
}
