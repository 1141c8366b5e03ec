/* Waiting for a job's results.  Subscribe to every task's result channel
 * first, then read what is already stored, so no result can slip between
 * the two; then follow the channels until every host has answered, the
 * only ones left are offline, or the CLI's own deadline passes.
 *
 * The job is already sent when this runs, so broker trouble never ends the
 * wait early: a lost connection is said on stderr, made again with backoff,
 * and followed by the same subscribe-then-read, which picks up whatever was
 * published while we were away.  Only the deadline ends the wait. */
#include "config.h"
#include "crerr.h"
#include "wait.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rconn.h"
#include "timeutil.h"

#define LIVE_REFRESH_MS 200
#define LIVE_DELAY_S 0.3
/* Confirming SUBSCRIBE takes longer the more channels and the busier the
 * broker: one bound for all confirmations, growing with their number. */
#define SUB_BASE_S 10.0
#define SUB_PER_CHANNEL_S 0.01
/* Reading the stored results: the same idea for MGET. */
#define READ_BASE_S 5.0
#define READ_PER_KEY_S 0.005
#define READ_MIN_S 3.0   /* as the command timeout it replaces */

struct waiter {
	struct cli_opts *o;
	const struct job *job;
	struct tstate *ts;
	redisContext *c;     /* commands: the caller's until it fails, then own */
	redisContext *own;
	redisContext *s;     /* the subscription */
	double t0, deadline;
	double lost_at;      /* mono time the current outage began; 0 while connected */
	double delay;        /* reconnect backoff */
	int refused;         /* the broker answered an error: trying again cannot help */
	int live, drawn;
	char *announced;
	char why[CR_ERR_MAX];       /* the last failure's reason */
};

static int is_final(const char *s)
{
	/* DEFERRED ends the wait: the host has answered when it will run it. */
	return !strcmp(s, "SUCCESS") || !strcmp(s, "FAILURE") || !strcmp(s, "REVOKED") || !strcmp(s, "DEFERRED");
}

/* Who took the task: PROGRESS and records carry "host", STARTED Celery's
 * "celeryroot@HOST"; anything that is not a host name is ignored. */
static void note_host(struct tstate *ts, json_t *result)
{
	const char *h = json_string_value(json_object_get(result, "host"));
	const char *w = json_string_value(json_object_get(result, "hostname"));

	if (h == NULL && w != NULL && !strncmp(w, "celeryroot@", 11))
		h = w + 11;
	if (h != NULL && cr_valid_hostname(h))
		cr_copy_str(ts->host, sizeof(ts->host), h);
}

/* When it started: the STARTED result's "started" (celeryroot's daemons
 * write it), else the meta's date_done where it has one, else now if we saw
 * it start live. */
static void note_start(struct tstate *ts, json_t *meta, int live)
{
	const char *started = json_string_value(json_object_get(json_object_get(meta, "result"), "started"));
	const char *done = json_string_value(json_object_get(meta, "date_done"));
	double t;

	if (ts->since > 0)
		return;
	if (started != NULL && cr_iso8601_parse(started, &t) == 0 && t <= cr_now_wall() + 60)
		ts->since = t;
	else if (done != NULL && cr_iso8601_parse(done, &t) == 0)
		ts->since = t;
	else if (live)
		ts->since = cr_now_wall();
}

/* Applies one stored/published meta JSON to the task it belongs to. */
static void apply_meta(const struct job *job, struct tstate *ts, const char *json, size_t len, int live)
{
	json_t *m = json_loadb(json, len, 0, NULL);
	const char *id = json_string_value(json_object_get(m, "task_id"));
	const char *st = json_string_value(json_object_get(m, "status"));

	for (size_t i = 0; id && st && i < job->n; i++) {
		if (strcmp(job->t[i].task_id, id) != 0 || ts[i].final)
			continue;
		cr_copy_str(ts[i].status, sizeof(ts[i].status), st);
		json_decref(ts[i].result);
		ts[i].result = json_incref(json_object_get(m, "result"));
		ts[i].final = is_final(st);
		note_host(&ts[i], ts[i].result);
		if (!ts[i].final)
			note_start(&ts[i], m, live);
	}
	json_decref(m);
}

static void on_message(const struct job *job, struct tstate *ts, const redisReply *r)
{
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
	    !strcmp(r->element[0]->str, "message") && r->element[2]->type == REDIS_REPLY_STRING)
		apply_meta(job, ts, r->element[2]->str, r->element[2]->len, 1);
}

/* "celery-task-meta-ID" for every task: argv[1..n] of a command named argv[0]. */
static const char **meta_argv(const struct job *job, const char *cmd, char (**keys)[sizeof(META_PREFIX) + TASK_ID_MAX])
{
	const char **argv = calloc(job->n + 1, sizeof(*argv));

	*keys = calloc(job->n ? job->n : 1, sizeof(**keys));
	if (argv == NULL || *keys == NULL) {
		free(argv);
		free(*keys);
		*keys = NULL;
		return NULL;
	}
	argv[0] = cmd;
	for (size_t i = 0; i < job->n; i++) {
		snprintf((*keys)[i], sizeof((*keys)[i]), META_PREFIX "%s", job->t[i].task_id);
		argv[i + 1] = (*keys)[i];
	}
	return argv;
}

/* ---- connections ---------------------------------------------------------- */

static void drop_links(struct waiter *w)
{
	if (w->s)
		cr_rconn_free(w->s);
	if (w->own)
		cr_rconn_free(w->own);
	w->s = w->own = NULL;
	w->c = NULL;   /* the caller's, if it was that one: the caller frees it */
}

/* A command connection: the caller's while it works, else our own. */
static int command_conn(struct waiter *w)
{
	if (w->c != NULL && !w->c->err)
		return 0;
	if (w->own != NULL)
		cr_rconn_free(w->own);
	w->own = link_connect_once(w->o, w->deadline, w->why, sizeof(w->why));
	w->c = w->own;
	return w->c ? 0 : -1;
}

/* 0 when subscribed to every channel; -1 failed (w->why), -2 refused. */
static int subscribe_all(struct waiter *w)
{
	char (*keys)[sizeof(META_PREFIX) + TASK_ID_MAX] = NULL;
	const char **argv = meta_argv(w->job, "SUBSCRIBE", &keys);
	double start = cr_now_mono();
	double bound = fmin(w->deadline, start + SUB_BASE_S + SUB_PER_CHANNEL_S * (double)w->job->n);
	redisContext *s = argv ? link_connect_once(w->o, w->deadline, w->why, sizeof(w->why)) : NULL;
	size_t confirmed = 0;
	int rc = s ? 0 : -1;

	if (s && (cr_rconn_append(s, (int)w->job->n + 1, argv, NULL) < 0 || link_flush(s, bound) < 0)) {
		snprintf(w->why, sizeof(w->why), "%s", s->err ? s->errstr : "the broker took no more data");
		rc = -1;
	}
	/* One confirmation per channel, in order; results may come in between. */
	while (rc == 0 && confirmed < w->job->n) {
		redisReply *r = NULL;
		int got = link_read(s, bound, &r);
		if (got == 0)
			snprintf(w->why, sizeof(w->why), "the broker confirmed %zu of %zu subscriptions in %.1f s",
				 confirmed, w->job->n, cr_now_mono() - start);
		else if (got < 0)
			snprintf(w->why, sizeof(w->why), "%s", s->errstr);
		else if (cr_rconn_is_error(r))
			snprintf(w->why, sizeof(w->why), "%s", r->str);   /* an ACL without the channel */
		rc = got == 1 ? (cr_rconn_is_error(r) ? -2 : 0) : -1;
		if (rc == 0 && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
		    r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "subscribe"))
			confirmed++;
		else if (rc == 0)
			on_message(w->job, w->ts, r);
		if (r)
			freeReplyObject(r);
	}
	free(argv);
	free(keys);
	if (rc < 0 && s)
		cr_rconn_free(s);
	else
		w->s = s;
	return rc;
}

/* Reads every stored meta: 0, -1 failed (w->why), -2 refused. */
static int read_stored(struct waiter *w)
{
	char (*keys)[sizeof(META_PREFIX) + TASK_ID_MAX] = NULL;
	const char **argv = meta_argv(w->job, "MGET", &keys);
	double now = cr_now_mono(), most = now + READ_BASE_S + READ_PER_KEY_S * (double)w->job->n;
	double bound = fmin(most, fmax(w->deadline, now + READ_MIN_S));
	redisReply *r = argv ? link_cmd(w->c, (int)w->job->n + 1, argv, bound, w->why, sizeof(w->why)) : NULL;
	int rc = r && r->type == REDIS_REPLY_ARRAY ? 0 : cr_rconn_is_error(r) ? -2 : -1;

	if (r == NULL && w->c != NULL)
		link_poison(w->c, w->why);   /* a late reply would answer the next command */
	if (rc == -2)
		snprintf(w->why, sizeof(w->why), "%s", r->str);
	for (size_t i = 0; rc == 0 && i < r->elements && i < w->job->n; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			apply_meta(w->job, w->ts, r->element[i]->str, r->element[i]->len, 0);
	if (r)
		freeReplyObject(r);
	free(argv);
	free(keys);
	return rc;
}

/* Subscribed, then everything stored read: 0, -1 or -2 as above. */
static int resync(struct waiter *w)
{
	int rc = w->s ? 0 : subscribe_all(w);

	if (rc == 0 && command_conn(w) < 0)
		rc = -1;
	if (rc == 0)
		rc = read_stored(w);
	if (rc == -1)
		drop_links(w);
	return rc;
}

/* ---- progress on screen ----------------------------------------------------- */

static void live_draw(struct waiter *w)
{
	const struct job *job = w->job;

	if (w->drawn)
		san_printf("\033[%dA", w->drawn);
	for (size_t i = 0; i < job->n; i++) {
		const struct tstate *ts = &w->ts[i];
		const char *name = job->t[i].host[0] ? job->t[i].host : job->t[i].queue;
		const char *state = ts->final ? "done" : ts->status[0] ? "running" : job->t[i].online ? "waiting" : "queued (offline)";
		int pct = (int)json_integer_value(json_object_get(ts->result, "percent"));
		const char *text = json_string_value(json_object_get(ts->result, "text"));
		const char *pkg = json_string_value(json_object_get(ts->result, "package"));
		char detail[160];
		/* apt's own words for the step name the package; else the package, else the time */
		if (text && text[0])
			snprintf(detail, sizeof(detail), "%.150s", text);
		else if (pkg && pkg[0])
			snprintf(detail, sizeof(detail), "%.150s", pkg);
		else
			snprintf(detail, sizeof(detail), "%.1fs", cr_now_mono() - w->t0);
		render_status_line(stdout, name, state, !strcmp(ts->status, "PROGRESS") ? pct : -1, detail, 100);
	}
	w->drawn = (int)job->n;
	fflush(stdout);
}

static void live_clear(struct waiter *w)
{
	if (w->drawn <= 0)
		return;
	san_printf("\033[%dA", w->drawn);
	for (int i = 0; i < w->drawn; i++)
		san_printf("\033[2K\n");
	san_printf("\033[%dA", w->drawn);
	fflush(stdout);
	w->drawn = 0;
}

/* Not a terminal: one plain line on stderr per host as it finishes, so a
 * log shows progress while stdout keeps only the final table. */
static void plain_report(struct waiter *w)
{
	for (size_t i = 0; w->announced && i < w->job->n; i++) {
		if (!w->ts[i].final || w->announced[i])
			continue;
		w->announced[i] = 1;
		san_fprintf(stderr, "%s: %s\n", w->job->t[i].host[0] ? w->job->t[i].host : w->job->t[i].queue,
			    !strcmp(w->ts[i].status, "SUCCESS") ? "result received (checked in the table)" : "finished with an error");
	}
}

/* ---- following -------------------------------------------------------------- */

/* Done when every task is final, or not final only because its host is
 * offline and has not started it (its task waits in its queue). */
static int all_settled(const struct job *job, const struct tstate *ts)
{
	for (size_t i = 0; i < job->n; i++)
		if (!ts[i].final && (job->t[i].online || ts[i].status[0] != '\0'))
			return 0;
	return 1;
}

/* Said once per outage, on stderr; the live lines are cleared first so the
 * message does not land inside them. */
static void say_lost(struct waiter *w)
{
	if (w->lost_at > 0)
		return;
	w->lost_at = cr_now_mono();
	live_clear(w);
	cli_err("lost the broker connection (%s); reconnecting to follow job %s until the timeout", w->why,
		w->job->id);
}

static void say_back(struct waiter *w)
{
	if (w->lost_at <= 0)
		return;
	live_clear(w);
	cli_err("reconnected after %.1f s; following job %s again", cr_now_mono() - w->lost_at, w->job->id);
	w->lost_at = 0;
}

static void follow(struct waiter *w)
{
	int synced = 0;   /* subscribed, and the stored results read since */

	while (cr_now_mono() < w->deadline && !w->refused) {
		if (!synced) {
			int rc = resync(w);
			w->refused = rc == -2;
			if (rc == -1) {
				say_lost(w);
				link_sleep_until(fmin(cr_now_mono() + link_backoff(&w->delay), w->deadline));
			}
			if (rc < 0)
				continue;
			synced = 1;
			w->delay = 0;
			say_back(w);
		}
		if (all_settled(w->job, w->ts))
			break;
		redisReply *r = NULL;
		int ms = (int)((w->deadline - cr_now_mono()) * 1000) + 1;
		int rc = cr_rconn_read(w->s, ms > LIVE_REFRESH_MS ? LIVE_REFRESH_MS : ms, &r);
		if (rc < 0) {
			snprintf(w->why, sizeof(w->why), "%s", w->s->errstr[0] ? w->s->errstr : "connection lost");
			drop_links(w);
			synced = 0;
			say_lost(w);
			continue;
		}
		if (r) {
			on_message(w->job, w->ts, r);
			freeReplyObject(r);
		}
		/* Fast answers need no live display; it starts after a moment. */
		if (w->live && cr_now_mono() - w->t0 > LIVE_DELAY_S)
			live_draw(w);
		if (!w->live && !w->o->json && isatty(STDERR_FILENO))
			plain_report(w);
	}
	live_clear(w);
	if (w->refused) {
		cli_err("the broker refused to let us follow job %s (%s); showing what was stored; "
			"follow it with 'celeryroot job %s --wait'", w->job->id, w->why, w->job->id);
		/* SUBSCRIBE may be refused where reading is not. */
		if (command_conn(w) == 0)
			read_stored(w);
	}
	else if (w->lost_at > 0)
		cli_err("the timeout came before the broker connection was back (%s); showing what was known; "
			"follow job %s with 'celeryroot job %s --wait'", w->why, w->job->id, w->job->id);
}

/* No waiting: one read of what is stored. */
static void read_once(struct waiter *w)
{
	int rc = command_conn(w);

	if (rc == 0)
		rc = read_stored(w);
	if (rc < 0)
		cli_err("cannot read the results of job %s: %s", w->job->id, w->why);
}

json_t *cli_wait(struct cli_opts *o, redisContext *c, const struct job *job, double timeout_s)
{
	struct waiter w = { .o = o, .job = job, .c = c, .t0 = cr_now_mono() };
	json_t *records;

	w.deadline = w.t0 + (timeout_s > 0 ? timeout_s : 0);
	w.live = o->tty && !o->json;
	w.ts = calloc(job->n ? job->n : 1, sizeof(*w.ts));
	w.announced = calloc(job->n ? job->n : 1, 1);
	if (w.ts == NULL || w.announced == NULL) {
		free(w.ts);
		free(w.announced);
		return NULL;
	}
	if (job->n == 0)
		;   /* nothing to wait for (and SUBSCRIBE and MGET need a key) */
	else if (timeout_s > 0)
		follow(&w);
	else
		read_once(&w);
	records = wait_records(w.c, job, w.ts);
	for (size_t i = 0; i < job->n; i++)
		json_decref(w.ts[i].result);
	drop_links(&w);
	free(w.ts);
	free(w.announced);
	return records;
}
