/* Result records from what a wait saw (DESIGN §5 contract: the statuses stay
 * those of the contract; fields are only added).  A task a host started and
 * has not finished is "timeout" with "running": true, and the registry says
 * whether it is still running there or was interrupted by the host going
 * away (it runs again when the host returns). */
#include "config.h"
#include "wait.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "crerr.h"
#include "rconn.h"
#include "registry.h"
#include "timeutil.h"

#define REGISTRY_READ_S 3.0

enum hstate { HS_UNKNOWN, HS_ONLINE, HS_OFFLINE, HS_STOPPED };
static const char *const hs_names[] = { [HS_ONLINE] = "online", [HS_OFFLINE] = "offline", [HS_STOPPED] = "stopped" };

/* The host a task is with: its own, or the one its meta names. */
static const char *task_host(const struct job_task *t, const struct tstate *ts)
{
	return t->host[0] ? t->host : ts->host;
}

static enum hstate host_state(const redisReply *v, double now)
{
	struct host_rec h;
	char err[CR_ERR_MAX];

	/* No record: it expired, or the host never registered; either way
	 * nothing heartbeats for it. */
	if (v->type == REDIS_REPLY_NIL)
		return HS_OFFLINE;
	if (v->type != REDIS_REPLY_STRING || cr_registry_decode(v->str, v->len, &h, err, sizeof(err)) < 0)
		return HS_UNKNOWN;
	if (!strcmp(h.state, "stopped"))
		return HS_STOPPED;
	return cr_registry_online(&h, now) ? HS_ONLINE : HS_OFFLINE;
}

/* One MGET of the registry records of the hosts of unfinished tasks. */
static void host_states(redisContext *c, const struct job *job, const struct tstate *ts, enum hstate *hs)
{
	const char **argv = calloc(job->n + 1, sizeof(*argv));
	char (*keys)[sizeof(REG_HOST_PREFIX) + HOSTNAME_MAX] = calloc(job->n ? job->n : 1, sizeof(*keys));
	size_t *which = calloc(job->n ? job->n : 1, sizeof(*which)), m = 0;
	char err[CR_ERR_MAX];

	for (size_t i = 0; argv && keys && which && i < job->n; i++) {
		const char *h = task_host(&job->t[i], &ts[i]);
		if (ts[i].final || h[0] == '\0')
			continue;
		snprintf(keys[m], sizeof(keys[m]), REG_HOST_PREFIX "%s", h);
		argv[m + 1] = keys[m];
		which[m++] = i;
	}
	if (m > 0 && c != NULL && !c->err) {
		argv[0] = "MGET";
		redisReply *r = link_cmd(c, (int)m + 1, argv, cr_now_mono() + REGISTRY_READ_S, err, sizeof(err));
		if (r == NULL)
			link_poison(c, err);   /* a late reply would answer the next command */
		for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements && k < m; k++)
			hs[which[k]] = host_state(r->element[k], cr_now_wall());
		if (r)
			freeReplyObject(r);
	}
	free(argv);
	free(keys);
	free(which);
}

/* Started and not finished: how long, and whether its host is still there. */
static void running_fields(json_t *rec, const struct tstate *ts, enum hstate hs, const char *host,
			   double created)
{
	double since = ts->since > 0 ? ts->since : created;
	double for_s = fmax(0, cr_now_wall() - since);
	char when[40], again[CELERY_QUEUE_MAX + 16];

	cr_iso8601_utc(since, when, sizeof(when));
	json_object_set_new(rec, "running", json_true());
	json_object_set_new(rec, "since", json_string(when));
	json_object_set_new(rec, "running_s", json_real(round(for_s * 1e3) / 1e3));
	json_object_set_new(rec, "duration_s", json_real(round(for_s * 1e3) / 1e3));
	if (hs != HS_UNKNOWN)
		json_object_set_new(rec, "host_state", json_string(hs_names[hs]));
	if (hs == HS_OFFLINE || hs == HS_STOPPED) {
		snprintf(again, sizeof(again), "when %s returns", host);
		json_object_set_new(rec, "interrupted", json_true());
		json_object_set_new(rec, "redelivery", json_string(again));
	}
}

/* A host's answer: shown only once it proves to be the host's word. */
static int answered(const struct tstate *ts)
{
	return (!strcmp(ts->status, "SUCCESS") || !strcmp(ts->status, "DEFERRED")) && json_is_object(ts->result) &&
	       cr_record_status_valid(json_string_value(json_object_get(ts->result, "status")));
}

static json_t *to_record(struct verifier *v, const struct job *job, const struct job_task *t,
			 const struct tstate *ts, enum hstate hs)
{
	const char *host = t->host[0] ? t->host : t->queue;
	json_t *rec;

	if (answered(ts))
		return attest_record(v, t->host, host, t->task_id, job->id, ts->result);
	if (!strcmp(ts->status, "REVOKED")) {
		rec = cr_record_new(host, "expired");
		cr_record_set_error(rec, "the task expired before the host could run it");
	} else if (!strcmp(ts->status, "FAILURE") || !strcmp(ts->status, "SUCCESS")) {
		const char *type = json_string_value(json_object_get(ts->result, "exc_type"));
		const char *msg = json_string_value(json_array_get(json_object_get(ts->result, "exc_message"), 0));
		char err[CR_ERR_MAX];
		snprintf(err, sizeof(err), "%s: %s", type ? type : "error", msg ? msg : "malformed result");
		rec = cr_record_new(host, "failed");
		cr_record_set_error(rec, err);
	} else if (ts->status[0] != '\0') {
		rec = cr_record_new(host, "timeout");
		running_fields(rec, ts, hs, task_host(t, ts)[0] ? task_host(t, ts) : host, job->created);
		if (json_is_object(ts->result) && json_object_get(ts->result, "percent"))
			json_object_set(rec, "progress", ts->result);
	} else {
		rec = cr_record_new(host, "queued");
		/* The registry now, else what resolving the target found. */
		if (hs == HS_OFFLINE || hs == HS_STOPPED || (hs == HS_UNKNOWN && !t->online))
			json_object_set_new(rec, "offline", json_true());
	}
	return rec;
}

/* The registry keys of answering hosts not in known_hosts yet, in one read. */
static void prefetch_keys(struct verifier *v, redisContext *c, const struct job *job, const struct tstate *ts)
{
	const char **names = calloc(job->n ? job->n : 1, sizeof(*names));
	size_t m = 0;

	for (size_t i = 0; names && i < job->n; i++) {
		const char *h = job->t[i].host[0] ? job->t[i].host
						  : json_string_value(json_object_get(ts[i].result, "host"));
		if (answered(&ts[i]) && h != NULL)
			names[m++] = h;
	}
	verifier_prefetch(v, c, names, m);
	free(names);
}

json_t *wait_records(redisContext *c, const struct job *job, const struct tstate *ts)
{
	enum hstate *hs = calloc(job->n ? job->n : 1, sizeof(*hs));
	json_t *records = json_array();
	struct verifier v;

	if (hs == NULL)
		return records;
	host_states(c, job, ts, hs);
	verifier_init(&v);
	prefetch_keys(&v, c, job, ts);
	for (size_t i = 0; i < job->n; i++)
		json_array_append_new(records, to_record(&v, job, &job->t[i], &ts[i], hs[i]));
	verifier_free(&v);
	free(hs);
	return records;
}
