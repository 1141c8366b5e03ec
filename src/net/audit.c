/* priv's audit records, added by net to one capped Redis stream so that a
 * reviewer sees the whole fleet in one place ('celeryroot audit').  The
 * record on the host (priv's file) is the authoritative one; this copy is
 * for convenience and is only as trustworthy as net. */
#include "config.h"
#include "net_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sign.h"
#include "rconn.h"
#include "timeutil.h"

static void xadd(struct net_state *st, const char *json)
{
	char maxlen[24];
	const char *argv[] = { "XADD", AUDIT_STREAM, "MAXLEN", "~", maxlen, "*", "host", st->cfg->hostname, "record", json };
	redisReply *r;

	snprintf(maxlen, sizeof(maxlen), "%d", AUDIT_STREAM_MAXLEN);
	if (net_redis_ensure(st) < 0)
		return;
	r = rconn_cmdargv(st->cc, 10, argv, NULL);
	if (r == NULL || rconn_is_error(r))
		error_f("cannot add to the audit stream %s", AUDIT_STREAM);
	if (r)
		freeReplyObject(r);
}

void audit_publish(struct net_state *st, json_t *rec)
{
	char *s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);

	if (s) {
		xadd(st, s);
		free(s);
	}
}

/* A record of net's own, shaped like priv's so that 'celeryroot audit'
 * shows both alike: "time" in UTC, the short operation ("install"). */
static json_t *net_record(struct net_state *st, const char *task_id, const char *task, const char *outcome)
{
	char when[40];
	double now = now_wall();
	time_t secs = (time_t)now;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03dZ", (int)((now - (double)secs) * 1000) % 1000);
	return json_pack("{s:s, s:f, s:s, s:s, s:s, s:s, s:s}", "time", when, "time_unix", now, "host",
			 st->cfg->hostname, "task", task_id, "operation", sig_operation(task ? task : ""), "outcome", outcome, "by",
			 "net");
}

void audit_publish_refusal(struct net_state *st, const char *task_id, const char *task, const char *key,
			   const char *why)
{
	json_t *rec = net_record(st, task_id, task, "refused");

	if (rec)
		json_object_set_new(rec, "error", json_string(why));
	if (rec && key && key[0])
		json_object_set_new(rec, "key", json_string(key));
	if (rec) {
		audit_publish(st, rec);
		json_decref(rec);
	}
}

void audit_publish_override(struct net_state *st, const char *task_id, const char *task, json_t *packages)
{
	json_t *rec = net_record(st, task_id, task, "window override");

	if (rec) {
		json_object_set_new(rec, "packages", json_is_array(packages) ? json_incref(packages) : json_array());
		json_object_set_new(rec, "error", json_string("run outside the host's maintenance windows (--now)"));
		audit_publish(st, rec);
		json_decref(rec);
	}
}
