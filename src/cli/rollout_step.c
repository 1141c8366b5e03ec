/* One step of a rollout driver: whatever is due now, then return.  The
 * foreground CLI calls it in a loop; it never blocks longer than a few
 * broker round trips.
 *
 * Exactly once: a wave is sent by one MULTI/EXEC that pushes its stored
 * envelopes and advances the state, with the state WATCHed since it was
 * read; a second driver that read the same state finds its EXEC refused
 * and, on its next step, the wave already sent. */
#include "config.h"
#include "rollout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crerr.h"
#include "rconn.h"
#include "timeutil.h"

int ro_say_progress = 1;

static void unwatch(redisContext *c)
{
	freeReplyObject(cr_rconn_cmd(c, "UNWATCH", NULL));
}

static struct job wave_job(const struct ro_plan *p, size_t w)
{
	struct job sub = p->job;

	sub.t = p->job.t + p->start[w];
	sub.n = p->start[w + 1] - p->start[w];
	return sub;
}

/* Why a host's record counts against the budget once its wave closes;
 * NULL when it does not count. */
static const char *counts(json_t *rec, double timeout_s, char *buf, size_t len)
{
	const char *st = json_string_value(json_object_get(rec, "status"));
	const char *err = json_string_value(json_object_get(rec, "error"));

	if (st == NULL)
		snprintf(buf, len, "unreadable record");
	else if (!strcmp(st, "failed"))
		snprintf(buf, len, "failed: %.300s", err ? err : "no reason given");
	else if (!strcmp(st, "expired"))
		snprintf(buf, len, "expired: the task expired before the host ran it");
	else if (!strcmp(st, "queued"))
		snprintf(buf, len, "unreachable: no answer within the wave timeout (%.0f s)%s", timeout_s,
			 json_is_true(json_object_get(rec, "offline")) ? "; the host is offline" : "");
	else if (!strcmp(st, "timeout"))
		snprintf(buf, len, "timeout: still running at the wave timeout (%.0f s)", timeout_s);
	else if (!strcmp(st, "deferred"))
		snprintf(buf, len, "deferred past the wave timeout: runs at %.40s",
			 json_string_value(json_object_get(rec, "run_at")) ?: "the next window");
	else
		return NULL;
	return buf;
}

static int pending(json_t *recs)
{
	size_t i;
	json_t *r;

	json_array_foreach(recs, i, r) {
		const char *st = json_string_value(json_object_get(r, "status"));
		if (st && (!strcmp(st, "queued") || !strcmp(st, "timeout") || !strcmp(st, "deferred")))
			return 1;
	}
	return 0;
}

/* Saves st under the WATCH taken before it was read: 1 saved, 0 another
 * driver changed it first, -1 broker. */
static int save(redisContext *c, const char *id, json_t *st, struct cr_rconn_cmd *pre, int npre)
{
	char key[RO_KEY_MAX], err[CR_ERR_MAX];
	char *text = json_dumps(st, JSON_COMPACT);
	struct cr_rconn_cmd *cmds = calloc((size_t)npre + 1, sizeof(*cmds));
	int rc = -1;

	ro_key(key, sizeof(key), id, ":state");
	if (text != NULL && cmds != NULL) {
		const char *set[] = { "SET", key, text, "KEEPTTL" };
		if (npre > 0)
			memcpy(cmds, pre, (size_t)npre * sizeof(*cmds));
		for (size_t k = 0; k < 4; k++)
			cr_rconn_arg(&cmds[npre], set[k], (size_t)-1);
		rc = cr_rconn_pipeline(c, cmds, npre + 1, 1, err, sizeof(err));
		if (rc == 0 && strcmp(err, "the transaction was aborted") != 0) {
			cli_err("the broker refused a rollout step of job %s: %s", id, err);
			rc = -1;
		}
	}
	free(text);
	free(cmds);
	return rc;
}

static void stop(json_t *st, const char *status, const char *reason)
{
	json_object_set_new(st, "status", json_string(status));
	json_object_set_new(st, "reason", json_string(reason));
}

/* The wave's results: still waiting (GOING, *next_s set), or closed with
 * its failures counted and the budget checked. */
static enum ro_progress close_wave(struct cli_opts *o, redisContext *c, struct ro_plan *p, json_t *st,
				   size_t w, double *next_s)
{
	struct job sub = wave_job(p, w);
	double deadline = ro_wave_time(st, w, "sent") + p->wave_timeout_s, now = cr_now_wall();
	json_t *recs = cli_wait(o, c, &sub, 0), *r, *fails = json_object_get(st, "failures");
	size_t i, before = ro_failures(st), sent = p->start[w + 1];
	char why[512];

	if (recs == NULL || (pending(recs) && now < deadline)) {
		json_decref(recs);
		unwatch(c);
		/* Polled: often at first (most changes answer within seconds),
		 * then every half second. */
		*next_s = fmin(now - ro_wave_time(st, w, "sent") < 10 ? 0.1 : 0.5, fmax(0.05, deadline - now));
		return RO_GOING;
	}
	json_array_foreach(recs, i, r)
		if (counts(r, p->wave_timeout_s, why, sizeof(why)))
			json_array_append_new(fails, json_pack("{s:s, s:s, s:I}", "host", sub.t[i].host[0] ? sub.t[i].host : sub.t[i].queue,
							       "reason", why, "wave", (json_int_t)w + 1));
	json_decref(recs);
	json_object_set_new(json_array_get(json_object_get(st, "waves"), w), "closed", json_real(now));
	if (w == 0 && p->canary > 0 && ro_failures(st) > before) {
		stop(st, "stopped", "the canary failed");
	} else if ((long)ro_failures(st) > p->max_failures) {
		snprintf(why, sizeof(why), "the failure budget is spent: %zu of %zu hosts sent to failed, more than the %ld allowed",
			 ro_failures(st), sent, p->max_failures);
		stop(st, "stopped", why);
	} else if (w + 1 == p->nwaves) {
		stop(st, "done", "");
	}
	if (save(c, p->job.id, st, NULL, 0) != 1)
		return *next_s = 0, RO_GOING;   /* read again: another driver moved first */
	if (ro_say_progress)
		san_fprintf(stderr, "wave %zu/%zu closed: %zu failed (%zu in all, %ld allowed)%s%s\n", w + 1,
			    p->nwaves, ro_failures(st) - before, ro_failures(st), p->max_failures,
			    strcmp(ro_status(st), "stopped") ? "" : "; stopping: ",
			    strcmp(ro_status(st), "stopped") ? "" : json_string_value(json_object_get(st, "reason")));
	*next_s = 0;
	return strcmp(ro_status(st), "running") ? RO_FINISHED : RO_GOING;
}

/* The stored envelope of each of the wave's tasks: it must be the task the
 * plan names (a Redis writer could have swapped one). */
static int wave_envelopes(redisContext *c, const struct job *sub, redisReply **out)
{
	char key[RO_KEY_MAX];
	const char **argv = calloc(sub->n + 2, sizeof(*argv));
	redisReply *r;

	if (argv == NULL)
		return -1;
	ro_key(key, sizeof(key), sub->id, ":env");
	argv[0] = "HMGET";
	argv[1] = key;
	for (size_t i = 0; i < sub->n; i++)
		argv[i + 2] = sub->t[i].task_id;
	r = cr_rconn_cmdargv(c, (int)sub->n + 2, argv, NULL);
	free(argv);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && i < sub->n; i++) {
		json_t *env = r->element[i]->type == REDIS_REPLY_STRING ? json_loads(r->element[i]->str, 0, NULL) : NULL;
		json_t *h = json_object_get(env, "headers");
		const char *id = json_string_value(json_object_get(h, "id"));
		const char *rk = json_string_value(json_object_get(json_object_get(json_object_get(env, "properties"),
									       "delivery_info"), "routing_key"));
		json_t *sig = json_object_get(h, SIG_HEADER);
		const char *target = json_string_value(json_object_get(sig, "target"));
		const char *job = json_string_value(json_object_get(sig, "job"));
		/* A signed envelope's claims name the planned queue and this job. */
		int ok = id && !strcmp(id, sub->t[i].task_id) && (rk == NULL || !strcmp(rk, sub->t[i].queue)) &&
			 (sig == NULL || (target && job && !strcmp(target, sub->t[i].queue) && !strcmp(job, sub->id)));
		json_decref(env);
		if (!ok) {
			cli_err("the stored envelope of %s in rollout %s is missing or is not the planned task; "
				"nothing of that wave was sent (abort it with 'celeryroot job %s --abort')",
				sub->t[i].host, sub->id, sub->id);
			freeReplyObject(r);
			return -1;
		}
	}
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != sub->n) {
		freeReplyObject(r);
		return -1;
	}
	*out = r;
	return 0;
}

static enum ro_progress send_wave(redisContext *c, struct ro_plan *p, json_t *st, size_t w, double *next_s)
{
	struct job sub = wave_job(p, w);
	struct cr_rconn_cmd *push = calloc(sub.n ? sub.n : 1, sizeof(*push));
	redisReply *envs = NULL;
	int rc;

	if (push == NULL || wave_envelopes(c, &sub, &envs) < 0) {
		free(push);
		unwatch(c);
		return RO_BROKER;
	}
	for (size_t i = 0; i < sub.n; i++) {
		cr_rconn_arg(&push[i], "LPUSH", (size_t)-1);
		cr_rconn_arg(&push[i], sub.t[i].queue, (size_t)-1);
		cr_rconn_arg(&push[i], envs->element[i]->str, envs->element[i]->len);
	}
	json_object_set_new(st, "next", json_integer((json_int_t)w + 1));
	json_object_set_new(json_array_get(json_object_get(st, "waves"), w), "sent", json_real(cr_now_wall()));
	rc = save(c, p->job.id, st, push, (int)sub.n);
	freeReplyObject(envs);
	free(push);
	*next_s = 0.1;
	if (rc == 1 && ro_say_progress) {
		san_fprintf(stderr, "wave %zu/%zu sent to %zu host%s:", w + 1, p->nwaves, sub.n, sub.n == 1 ? "" : "s");
		for (size_t i = 0; i < sub.n && i < 8; i++)
			san_fprintf(stderr, " %s", sub.t[i].host[0] ? sub.t[i].host : sub.t[i].queue);
		san_fprintf(stderr, "%s\n", sub.n > 8 ? " ..." : "");
	}
	return rc < 0 ? RO_BROKER : RO_GOING;
}

enum ro_progress ro_step(struct cli_opts *o, redisContext *c, struct ro_plan *p, const char *me, double *next_s)
{
	char key[RO_KEY_MAX], err[CR_ERR_MAX];
	int lease = ro_lease(c, p->job.id, me);
	enum ro_progress rc;
	json_t *st;

	*next_s = 0.5;
	if (lease <= 0)
		return lease == 0 ? RO_LEASE_LOST : RO_BROKER;
	ro_key(key, sizeof(key), p->job.id, ":state");
	freeReplyObject(cr_rconn_cmd(c, "WATCH", key, NULL));
	if ((st = ro_state_get(c, p->job.id, err, sizeof(err))) == NULL) {
		unwatch(c);
		cli_err("rollout %s: %s", p->job.id, err);
		return RO_BROKER;
	}
	json_int_t next = json_integer_value(json_object_get(st, "next"));
	size_t nw = json_array_size(json_object_get(st, "waves"));
	if (strcmp(ro_status(st), "running") != 0 || next < 0 || (size_t)next > p->nwaves || nw != p->nwaves) {
		unwatch(c);
		rc = RO_FINISHED;
	} else if (next > 0 && ro_wave_time(st, (size_t)next - 1, "closed") <= 0) {
		rc = close_wave(o, c, p, st, (size_t)next - 1, next_s);
	} else if ((size_t)next == p->nwaves) {
		stop(st, "done", "");   /* closed, and no wave left (not reached: closing the last one says done) */
		rc = save(c, p->job.id, st, NULL, 0) == 1 ? RO_FINISHED : RO_GOING;
	} else if (next > 0 && cr_now_wall() < ro_wave_time(st, (size_t)next - 1, "closed") + p->pause_s) {
		unwatch(c);
		*next_s = fmin(0.5, ro_wave_time(st, (size_t)next - 1, "closed") + p->pause_s - cr_now_wall());
		rc = RO_GOING;
	} else {
		rc = send_wave(c, p, st, (size_t)next, next_s);
	}
	json_decref(st);
	return rc;
}

/* Every task's record; hosts never sent to are "skipped" once the rollout
 * stopped (with its reason), "queued" with the wave they wait for while it
 * runs; hosts counted against the budget say so. */
json_t *ro_records(struct cli_opts *o, redisContext *c, const struct ro_plan *p, json_t *st)
{
	size_t next = (size_t)json_integer_value(json_object_get(st, "next")), i;
	const char *status = ro_status(st);
	json_t *recs = cli_wait(o, c, &p->job, 0), *f;
	char why[512];

	for (size_t w = 0; recs && w < p->nwaves; w++)
		for (i = p->start[w]; i < p->start[w + 1]; i++) {
			const struct job_task *t = &p->job.t[i];
			json_t *rec = json_array_get(recs, i);
			if (w >= next) {
				rec = cr_record_new(t->host[0] ? t->host : t->queue, strcmp(status, "running") ? "skipped" : "queued");
				if (strcmp(status, "running"))
					snprintf(why, sizeof(why), "not sent: %s", json_string_value(json_object_get(st, "reason")) ?: "");
				else
					snprintf(why, sizeof(why), "not sent yet: waits for wave %zu of %zu", w + 1, p->nwaves);
				cr_record_set_error(rec, why);
				json_array_set_new(recs, i, rec);
			}
			json_object_set_new(rec, "wave", json_integer((json_int_t)w + 1));
		}
	json_array_foreach(json_object_get(st, "failures"), i, f) {
		const char *h = json_string_value(json_object_get(f, "host"));
		size_t k;
		json_t *rec;
		json_array_foreach(recs, k, rec)
			if (h && !strcmp(h, json_string_value(json_object_get(rec, "host")) ?: ""))
				json_object_set(rec, "counted", json_object_get(f, "reason"));
	}
	return recs;
}
