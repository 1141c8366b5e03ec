/* Results exactly as Celery's Redis backend writes them: SETEX of the meta
 * under celery-task-meta-<id>, then PUBLISH of the same JSON on the channel
 * of that name, in one MULTI so a subscriber never sees one without the other. */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rconn.h"

#define META_PREFIX CELERY_META_PREFIX

static int results_send(struct net_state *st, const char *key, const char *meta)
{
	char ttl[24];
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	const char *setex[] = { "SETEX", key, ttl, meta };
	const char *pub[] = { "PUBLISH", key, meta };

	snprintf(ttl, sizeof(ttl), "%d", st->cfg->result_expires_s);
	if (rconn_append(st->cc, 1, multi, NULL) < 0 || rconn_append(st->cc, 4, setex, NULL) < 0 ||
	    rconn_append(st->cc, 3, pub, NULL) < 0 || rconn_append(st->cc, 1, exec, NULL) < 0)
		return -1;
	int ok = 1;
	for (int i = 0; i < 4; i++) {
		void *r = NULL;
		if (redisGetReply(st->cc, &r) != REDIS_OK) {
			ok = 0;
			break;
		}
		if (rconn_is_error(r))
			ok = 0;
		freeReplyObject(r);
	}
	return ok ? 0 : -1;
}

/* Steals result.  A result that cannot be written is retried after a
 * reconnect: the caller only acks once this succeeded. */
int result_write(struct net_state *st, const char *task_id, const char *status, json_t *result)
{
	char key[sizeof(META_PREFIX) + TASK_ID_MAX];
	char *meta = celery_result_meta(status, result, NULL, task_id);
	int rc = -1;

	if (meta == NULL)
		return -1;
	snprintf(key, sizeof(key), META_PREFIX "%s", task_id);
	for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
		if (net_redis_ensure(st) < 0)
			break;
		rc = results_send(st, key, meta);
		if (rc < 0)
			error_f("writing the %s result of %s failed", status, task_id);
	}
	free(meta);
	return rc;
}

int result_failure(struct net_state *st, const char *task_id, const char *exc_type,
		   const char *exc_module, const char *msg)
{
	return result_write(st, task_id, "FAILURE", celery_exception(exc_type, exc_module, msg));
}

/* Celery's STARTED meta carries the worker's pid and name. */
int result_started(struct net_state *st, const char *task_id)
{
	char name[HOSTNAME_MAX + 16];
	json_t *res;

	snprintf(name, sizeof(name), "celeryroot@%s", st->cfg->hostname);
	res = json_pack("{s:I, s:s}", "pid", (json_int_t)getpid(), "hostname", name);
	return result_write(st, task_id, "STARTED", res);
}
