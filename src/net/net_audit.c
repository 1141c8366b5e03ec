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

/* One XADD, written now (a window override: said when it happens).  -1
 * when the link is down or failed. */
static int xadd(struct net_state *st, const char *json)
{
	char maxlen[24];
	const char *argv[] = { "XADD", AUDIT_STREAM, "MAXLEN", "~", maxlen, "*", "host", st->cfg->hostname, "record", json };
	redisReply *r;
	int rc = 0;

	snprintf(maxlen, sizeof(maxlen), "%d", AUDIT_STREAM_MAXLEN);
	if (!net_link_up(st))
		return -1;
	r = cr_rconn_cmdargv(st->link.cc, 10, argv, NULL);
	if (r == NULL || cr_rconn_is_error(r)) {
		error_f("cannot add to the audit stream %s", AUDIT_STREAM);
		rc = r == NULL ? -1 : 0;   /* a refusal (ACL) would not change on a retry */
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

/* The same bytes as priv's line in its file (hostsig.h): sorted, compact,
 * ASCII, so that a verifier can hold the stream's copy against the file and
 * check its signature. */
char *net_audit_stream_json(json_t *rec)
{
	return json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
}

/* Lines priv wrote on its own (ANS_AUDIT) wait here for the link; a link
 * down for long drops the oldest (said in the log: the stream then misses
 * them, the file does not). */
void net_audit_queue(struct net_state *st, json_t *rec)
{
	char *json = net_audit_stream_json(rec);

	if (json == NULL)
		return;
	if (st->naudit_q == NET_AUDIT_QUEUE) {
		error_f("the audit stream queue is full: a line of priv's is dropped from the stream (not from the file)");
		free(st->audit_q[0]);
		memmove(&st->audit_q[0], &st->audit_q[1], (NET_AUDIT_QUEUE - 1) * sizeof(st->audit_q[0]));
		st->naudit_q--;
	}
	st->audit_q[st->naudit_q++] = json;
	net_audit_flush(st);
}

void net_audit_flush(struct net_state *st)
{
	while (st->naudit_q > 0 && net_link_up(st)) {
		if (xadd(st, st->audit_q[0]) < 0)
			return;
		free(st->audit_q[0]);
		memmove(&st->audit_q[0], &st->audit_q[1], (st->naudit_q - 1) * sizeof(st->audit_q[0]));
		st->naudit_q--;
	}
}

/* A record of net's own, shaped like priv's so that 'celeryroot audit'
 * shows both alike: "time" in UTC, the short operation ("install"). */
static json_t *net_record(struct net_state *st, const char *task_id, const char *task, const char *outcome)
{
	char when[40];
	double now = cr_now_wall();
	time_t secs = (time_t)now;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03dZ", (int)((now - (double)secs) * 1000) % 1000);
	return json_pack("{s:s, s:f, s:s, s:s, s:s, s:s, s:s}", "time", when, "time_unix", now, "host",
			 st->cfg->hostname, "task", task_id, "operation", cr_sig_operation(task ? task : ""), "outcome", outcome, "by",
			 "net");
}

char *net_audit_refusal_json(struct net_state *st, const char *task_id, const char *task, const char *key,
			 const char *why)
{
	json_t *rec = net_record(st, task_id, task, "refused");
	char *s;

	if (rec == NULL)
		return NULL;
	json_object_set_new(rec, "error", json_string(why));
	if (key && key[0])
		json_object_set_new(rec, "key", json_string(key));
	s = net_audit_stream_json(rec);
	json_decref(rec);
	return s;
}

void net_audit_publish_override(struct net_state *st, const char *task_id, const char *task, json_t *packages)
{
	json_t *rec = net_record(st, task_id, task, "window override");

	if (rec) {
		json_object_set_new(rec, "packages", json_is_array(packages) ? json_incref(packages) : json_array());
		json_object_set_new(rec, "error", json_string("run outside the host's maintenance windows (--now)"));
		char *json = net_audit_stream_json(rec);
		if (json)
			xadd(st, json);
		free(json);
		json_decref(rec);
	}
}
