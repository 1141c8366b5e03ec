/* Waiting for a job's results.  Subscribe to every task's result channel
 * first, then read what is already stored, so no result can slip between
 * the two; then follow the channels until every host has answered, the
 * only ones left are offline, or the timeout passes. */
#include "config.h"
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rconn.h"
#include "timeutil.h"

#define LIVE_REFRESH_MS 200
#define LIVE_DELAY_S 0.3

struct tstate {
	char status[16];    /* Celery state, "" when nothing is stored yet */
	json_t *result;     /* the meta's result, owned */
	int final;
};

static int is_final(const char *s)
{
	/* DEFERRED ends the wait: the host has answered when it will run it. */
	return !strcmp(s, "SUCCESS") || !strcmp(s, "FAILURE") || !strcmp(s, "REVOKED") || !strcmp(s, "DEFERRED");
}

/* Applies one stored/published meta JSON to the task it belongs to. */
static void apply_meta(const struct job *job, struct tstate *ts, const char *json, size_t len)
{
	json_t *m = json_loadb(json, len, 0, NULL);
	const char *id = json_string_value(json_object_get(m, "task_id"));
	const char *st = json_string_value(json_object_get(m, "status"));

	for (size_t i = 0; id && st && i < job->n; i++) {
		if (strcmp(job->t[i].task_id, id) != 0 || ts[i].final)
			continue;
		copy_str(ts[i].status, sizeof(ts[i].status), st);
		json_decref(ts[i].result);
		ts[i].result = json_incref(json_object_get(m, "result"));
		ts[i].final = is_final(st);
	}
	json_decref(m);
}

static void meta_key(char *buf, size_t len, const char *id)
{
	snprintf(buf, len, META_PREFIX "%s", id);
}

static int read_stored(redisContext *c, const struct job *job, struct tstate *ts)
{
	const char **argv = calloc(job->n + 1, sizeof(*argv));
	char (*keys)[sizeof(META_PREFIX) + TASK_ID_MAX] = calloc(job->n, sizeof(*keys));
	redisReply *r = NULL;

	if (argv && keys) {
		argv[0] = "MGET";
		for (size_t i = 0; i < job->n; i++) {
			meta_key(keys[i], sizeof(keys[i]), job->t[i].task_id);
			argv[i + 1] = keys[i];
		}
		r = rconn_cmdargv(c, (int)job->n + 1, argv, NULL);
	}
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && i < job->n; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			apply_meta(job, ts, r->element[i]->str, r->element[i]->len);
	int ok = r != NULL && r->type == REDIS_REPLY_ARRAY;
	if (r)
		freeReplyObject(r);
	free(argv);
	free(keys);
	return ok ? 0 : -1;
}

static redisContext *subscribe_all(struct cli_opts *o, const struct job *job)
{
	char err[512] = "";
	redisContext *s = rconn_connect(&o->broker, 3.0, err, sizeof(err));
	const char **argv = calloc(job->n + 1, sizeof(*argv));
	char (*keys)[sizeof(META_PREFIX) + TASK_ID_MAX] = calloc(job->n, sizeof(*keys));
	int ok = s != NULL && argv != NULL && keys != NULL;

	if (ok) {
		argv[0] = "SUBSCRIBE";
		for (size_t i = 0; i < job->n; i++) {
			meta_key(keys[i], sizeof(keys[i]), job->t[i].task_id);
			argv[i + 1] = keys[i];
		}
		ok = rconn_append(s, (int)job->n + 1, argv, NULL) == 0 && rconn_flush(s) == 0;
	}
	/* One confirmation per channel, or one error (a Redis ACL without the
	 * channel or SUBSCRIBE), whose text is the reason to show. */
	for (size_t i = 0; ok && i < job->n; i++) {
		redisReply *r = NULL;
		ok = rconn_read(s, 3000, &r) == 1 && !rconn_is_error(r);
		if (r && rconn_is_error(r))
			snprintf(err, sizeof(err), "%s", r->str);
		if (r)
			freeReplyObject(r);
	}
	free(argv);
	free(keys);
	if (!ok) {
		cli_err("cannot follow results: %s", err[0] ? err : s && s->err ? s->errstr : "no answer from the broker");
		if (s)
			redisFree(s);
		return NULL;
	}
	return s;
}

static void on_message(const struct job *job, struct tstate *ts, redisReply *r)
{
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING)
		apply_meta(job, ts, r->element[2]->str, r->element[2]->len);
}

/* Done when every task is final, or not final only because its host is
 * offline and has not started it (its task waits in its queue). */
static int all_settled(const struct job *job, const struct tstate *ts)
{
	for (size_t i = 0; i < job->n; i++)
		if (!ts[i].final && (job->t[i].online || ts[i].status[0] != '\0'))
			return 0;
	return 1;
}

static void live_draw(const struct job *job, const struct tstate *ts, int *drawn, double t0)
{
	if (*drawn)
		printf("\033[%dA", *drawn);
	for (size_t i = 0; i < job->n; i++) {
		const char *name = job->t[i].host[0] ? job->t[i].host : job->t[i].queue;
		const char *state = ts[i].final ? "done" : ts[i].status[0] ? "running" : job->t[i].online ? "waiting" : "queued (offline)";
		int pct = (int)json_integer_value(json_object_get(ts[i].result, "percent"));
		const char *text = json_string_value(json_object_get(ts[i].result, "text"));
		const char *pkg = json_string_value(json_object_get(ts[i].result, "package"));
		char detail[160];
		/* apt's own words for the step name the package; else the package, else the time */
		if (text && text[0])
			snprintf(detail, sizeof(detail), "%.150s", text);
		else if (pkg && pkg[0])
			snprintf(detail, sizeof(detail), "%.150s", pkg);
		else
			snprintf(detail, sizeof(detail), "%.1fs", now_mono() - t0);
		render_status_line(stdout, name, state, !strcmp(ts[i].status, "PROGRESS") ? pct : -1, detail, 100);
	}
	*drawn = (int)job->n;
	fflush(stdout);
}

static void live_clear(int drawn)
{
	if (drawn <= 0)
		return;
	printf("\033[%dA", drawn);
	for (int i = 0; i < drawn; i++)
		printf("\033[2K\n");
	printf("\033[%dA", drawn);
	fflush(stdout);
}

/* Not a terminal: one plain line on stderr per host as it finishes, so a
 * log shows progress while stdout keeps only the final table. */
static void plain_report(const struct job *job, const struct tstate *ts, char *announced)
{
	for (size_t i = 0; announced && i < job->n; i++) {
		if (!ts[i].final || announced[i])
			continue;
		announced[i] = 1;
		fprintf(stderr, "%s: %s\n", job->t[i].host[0] ? job->t[i].host : job->t[i].queue,
			!strcmp(ts[i].status, "SUCCESS") ? "answered" : "finished with an error");
	}
}

static void follow(struct cli_opts *o, redisContext *s, const struct job *job, struct tstate *ts,
		   double timeout_s)
{
	double t0 = now_mono(), deadline = t0 + timeout_s;
	int live = o->tty && !o->json, drawn = 0;
	char *announced = calloc(job->n ? job->n : 1, 1);

	while (!all_settled(job, ts) && now_mono() < deadline) {
		redisReply *r = NULL;
		int ms = (int)((deadline - now_mono()) * 1000) + 1;
		if (ms > LIVE_REFRESH_MS)
			ms = LIVE_REFRESH_MS;
		int rc = rconn_read(s, ms, &r);
		if (rc < 0)
			break;
		if (r) {
			on_message(job, ts, r);
			freeReplyObject(r);
		}
		/* Fast answers need no live display; it starts after a moment. */
		if (live && now_mono() - t0 > LIVE_DELAY_S)
			live_draw(job, ts, &drawn, t0);
		if (!live && !o->json && isatty(STDERR_FILENO))
			plain_report(job, ts, announced);
	}
	if (live)
		live_clear(drawn);
	free(announced);
}

static json_t *to_record(const struct job_task *t, const struct tstate *ts, double waited)
{
	const char *host = t->host[0] ? t->host : t->queue;
	json_t *rec;

	if ((!strcmp(ts->status, "SUCCESS") || !strcmp(ts->status, "DEFERRED")) && json_is_object(ts->result) &&
	    record_status_valid(json_string_value(json_object_get(ts->result, "status"))))
		return json_deep_copy(ts->result);
	if (!strcmp(ts->status, "REVOKED")) {
		rec = record_new(host, "expired");
		record_set_error(rec, "the task expired before the host could run it");
	} else if (!strcmp(ts->status, "FAILURE") || !strcmp(ts->status, "SUCCESS")) {
		const char *type = json_string_value(json_object_get(ts->result, "exc_type"));
		const char *msg = json_string_value(json_array_get(json_object_get(ts->result, "exc_message"), 0));
		char err[1024];
		snprintf(err, sizeof(err), "%s: %s", type ? type : "error", msg ? msg : "malformed result");
		rec = record_new(host, "failed");
		record_set_error(rec, err);
	} else if (ts->status[0] != '\0') {
		rec = record_new(host, "timeout");
		json_object_set_new(rec, "running", json_true());
		if (json_is_object(ts->result) && json_object_get(ts->result, "percent"))
			json_object_set(rec, "progress", ts->result);
		json_object_set_new(rec, "duration_s", json_real(round(waited * 1e3) / 1e3));
	} else {
		rec = record_new(host, "queued");
		if (!t->online)
			json_object_set_new(rec, "offline", json_true());
	}
	return rec;
}

json_t *cli_wait(struct cli_opts *o, redisContext *c, const struct job *job, double timeout_s)
{
	struct tstate *ts = calloc(job->n ? job->n : 1, sizeof(*ts));
	redisContext *s = NULL;
	double t0 = now_mono();
	json_t *records = json_array();

	if (ts == NULL)
		return NULL;
	if (timeout_s > 0 && (s = subscribe_all(o, job)) == NULL) {
		free(ts);
		json_decref(records);
		return NULL;
	}
	if (read_stored(c, job, ts) < 0)
		cli_err("cannot read results: %s", c->errstr);
	else if (s != NULL)
		follow(o, s, job, ts, timeout_s);
	for (size_t i = 0; i < job->n; i++) {
		json_array_append_new(records, to_record(&job->t[i], &ts[i], now_mono() - t0));
		json_decref(ts[i].result);
	}
	if (s)
		redisFree(s);
	free(ts);
	return records;
}
