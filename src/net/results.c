/* Results exactly as Celery's Redis backend writes them: SETEX of the meta
 * under celery-task-meta-<id>, then PUBLISH of the same JSON on the channel
 * of that name, in one MULTI so a subscriber never sees one without the
 * other.  Final results go with the commit that settles the message
 * (commit.c); the STARTED and PROGRESS states are written here, once, and
 * may be lost with a connection without harm: the final one supersedes them. */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rconn.h"
#include "timeutil.h"

#define S ((size_t)-1)

char *net_result_meta(const char *task_id, const char *status, json_t *result)
{
	return cr_celery_result_meta(status, result, NULL, task_id);
}

static int results_send(struct net_state *st, const char *key, const char *meta)
{
	struct cr_rconn_cmd cmds[2] = { { 0 } };
	char ttl[24], err[256];

	snprintf(ttl, sizeof(ttl), "%d", st->cfg->result_expires_s);
	cr_rconn_arg(&cmds[0], "SETEX", S);
	cr_rconn_arg(&cmds[0], key, S);
	cr_rconn_arg(&cmds[0], ttl, S);
	cr_rconn_arg(&cmds[0], meta, S);
	cr_rconn_arg(&cmds[1], "PUBLISH", S);
	cr_rconn_arg(&cmds[1], key, S);
	cr_rconn_arg(&cmds[1], meta, S);
	return cr_rconn_pipeline(st->link.cc, cmds, 2, 1, err, sizeof(err)) == 1 ? 0 : -1;
}

void net_result_progress(struct net_state *st, const char *task_id, const char *status, json_t *result)
{
	char key[sizeof(CELERY_META_PREFIX) + TASK_ID_MAX];
	char *meta = cr_celery_result_meta(status, result, NULL, task_id);

	if (meta == NULL)
		return;
	snprintf(key, sizeof(key), CELERY_META_PREFIX "%s", task_id);
	if (net_link_up(st) && results_send(st, key, meta) < 0)
		debug_f("the %s state of %s was not written", status, task_id);
	free(meta);
}

/* Celery's STARTED meta carries the worker's pid and name; "started" (ours)
 * lets 'celeryroot job' say how long it has been running. */
void net_result_started(struct net_state *st, const char *task_id)
{
	char name[HOSTNAME_MAX + 16], when[40];

	snprintf(name, sizeof(name), "celeryroot@%s", st->cfg->hostname);
	cr_iso8601_utc(cr_now_wall(), when, sizeof(when));
	net_result_progress(st, task_id, "STARTED",
			json_pack("{s:I, s:s, s:s}", "pid", (json_int_t)getpid(), "hostname", name, "started", when));
}
