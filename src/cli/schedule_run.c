/* Firing a schedule (beat, and 'schedule run-now') and listing schedules
 * with their next and last runs. */
#include "config.h"
#include "schedule.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crerr.h"
#include "rconn.h"
#include "rollout.h"
#include "timeutil.h"

/* "2026-11-23 02:30 CET" in zone tz. */
#define SCHED_TIME_FMT "%Y-%m-%d %H:%M %Z"

/* last_run is what 'schedule list' shows; last_fire is beat's bookkeeping
 * of cron times, which a manual run must not move (a missed time would be
 * skipped). */
static void save_state(redisContext *c, const struct schedule *s, double fire, int manual, const char *job,
		       const char *error)
{
	char key[sizeof(SCHED_STATE_PREFIX) + SCHED_NAME_MAX], when[32];
	redisReply *r;

	snprintf(key, sizeof(key), SCHED_STATE_PREFIX "%s", s->name);
	snprintf(when, sizeof(when), "%.0f", fire);
	if (manual)
		r = cr_rconn_cmd(c, "HSET", key, "last_run", when, "last_job", job, "last_error", error, NULL);
	else
		r = cr_rconn_cmd(c, "HSET", key, "last_fire", when, "last_run", when, "last_job", job, "last_error", error,
			      NULL);
	if (r)
		freeReplyObject(r);
}

int schedule_run(struct cli_opts *o, redisContext *c, const struct schedule *s, double fire, int manual,
		 const struct trusted_key *signer, char *job_id, size_t job_len)
{
	struct job job = { 0 };
	struct dest *d = NULL;
	size_t nd = 0;
	char origin[SCHED_NAME_MAX + 16], why[512];
	int rc;

	memcpy(&o->target, s->spec, sizeof(o->target));
	snprintf(origin, sizeof(origin), "schedule:%s", s->name);
	o->origin = origin;
	/* The task's signed claims name the schedule and whoever signed it. */
	o->for_schedule = s->name;
	o->for_key = s->from_config ? "" : s->signer;
	/* Resolved now, so that hosts that joined a role since are included. */
	rc = cli_resolve(o, c, &d, &nd);
	if (rc == 0 && schedule_within_roles(signer, c, d, nd, why, sizeof(why)) < 0) {
		cli_err("schedule %s: %s; nothing was sent", s->name, why);
		rc = EXIT_USAGE;
	}
	cr_copy_str(job.operation, sizeof(job.operation), s->task.operation);
	cr_copy_str(job.task, sizeof(job.task), s->task.task);
	/* With rollout options: stored detached, and driven by beat's leader. */
	if (rc == 0 && s->task.ro.given) {
		o->ro = s->task.ro;
		o->ro.detach = 1;
		o->ro.wave_timeout_s = s->task.ro.wave_timeout_s > 0 ? s->task.ro.wave_timeout_s : o->cfg.timeout_s;
		rc = ro_start(o, c, &job, s->task.args, s->task.kwargs, d, nd);
	} else if (rc == 0) {
		rc = cli_send_job(o, c, &job, s->task.args, s->task.kwargs, d, nd);
	}
	/* EXIT_PENDING: the connection died while sending, so whether the job
	 * went out is not known; its id is kept (never fired again under
	 * another), and 'celeryroot job ID' tells. */
	int has_job = rc == 0 || rc == EXIT_PENDING;
	save_state(c, s, fire, manual, has_job ? job.id : "",
		   rc == 0 ? "" : has_job ? "sending not confirmed (see 'celeryroot job' for it)" : "could not send (see beat's log)");
	if (job_len > 0)
		cr_copy_str(job_id, job_len, has_job ? job.id : "");
	if (rc == 0 && manual)
		san_printf("schedule %s: job %s sent to %zu destination(s)\n", s->name, job.id, nd);
	free(d);
	job_free(&job);
	return rc;
}

/* ---- list -------------------------------------------------------------- */

static json_t *entry(struct cli_opts *o, redisContext *c, struct schedule *s, time_t now, const struct keyring *beat,
		     const struct signing_key *own)
{
	char key[sizeof(SCHED_STATE_PREFIX) + SCHED_NAME_MAX], local[64] = "", utc[64] = "";
	json_t *e = schedule_to_json(s), *last = json_null();
	time_t next;
	redisReply *r;

	if (s->enabled && cr_cron_next(&s->expr, s->tz, now, &next) == 0) {
		cr_tz_format(next, s->tz, SCHED_TIME_FMT, local, sizeof(local));
		cr_tz_format(next, "UTC", SCHED_TIME_FMT, utc, sizeof(utc));
	}
	schedule_judge(s, beat, own);
	json_object_set_new(e, "operation", json_string(s->task.operation));
	json_object_set_new(e, "trust", json_string(schedule_trust_name(s->trust)));
	json_object_set_new(e, "signed_by", s->has_sig ? json_string(s->signer) : json_null());
	/* Beat fires only what it trusts; what it skips does not say "next". */
	if (s->trust != ST_CONFIG && s->trust != ST_TRUSTED && s->trust != ST_UNCHECKED)
		local[0] = utc[0] = '\0';
	json_object_set_new(e, "next", local[0] ? json_string(local) : json_null());
	json_object_set_new(e, "next_utc", utc[0] ? json_string(utc) : json_null());
	snprintf(key, sizeof(key), SCHED_STATE_PREFIX "%s", s->name);
	r = cr_rconn_cmd(c, "HMGET", key, "last_run", "last_job", "last_error", NULL);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->str) {
		char when[64];
		const char *job = r->element[1]->str ? r->element[1]->str : "";
		cr_tz_format((time_t)atoll(r->element[0]->str), "UTC", SCHED_TIME_FMT, when, sizeof(when));
		json_t *summary = cr_valid_task_id(job) ? job_summary(c, o, job) : NULL;
		json_decref(last);
		last = json_pack("{s:s, s:s?, s:o, s:s?}", "time", when, "job", job[0] ? job : NULL, "status",
				 summary ? json_incref(json_object_get(summary, "status")) : json_object(), "error",
				 r->element[2]->str && r->element[2]->str[0] ? r->element[2]->str : NULL);
		json_decref(summary);
	}
	if (r)
		freeReplyObject(r);
	json_object_set_new(e, "last", last);
	return e;
}

static void status_text(json_t *counts, char *buf, size_t len)
{
	const char *k;
	json_t *v;

	buf[0] = '\0';
	json_object_foreach(counts, k, v) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, "%s%lld %s", used ? ", " : "", (long long)json_integer_value(v), k);
	}
}

/* "alice", "config", or why beat will not fire it. */
static void trust_text(json_t *e, char *buf, size_t len)
{
	const char *t = json_string_value(json_object_get(e, "trust")) ?: "";
	const char *by = json_string_value(json_object_get(e, "signed_by"));

	if (!strcmp(t, "trusted") || !strcmp(t, "config"))
		snprintf(buf, len, "%s", by ? by : t);
	else if (by)
		snprintf(buf, len, "%s: %s", by, t);
	else
		snprintf(buf, len, "%s", t);
}

static void table(json_t *list)
{
	size_t i;
	json_t *e;

	san_printf("%-20s %-7s %-3s %-16s %-18s %-14s %-24s %-40s %-16s %s\n", "NAME", "SOURCE", "ON", "CRON", "TARGET",
		   "OPERATION", "SIGNED BY (BEAT FIRES?)", "NEXT (ZONE / UTC)", "LAST RUN (UTC)", "OUTCOME");
	json_array_foreach(list, i, e) {
		json_t *last = json_object_get(e, "last");
		char st[200] = "", nxt[160], trust[160];
		const char *err = json_string_value(json_object_get(last, "error"));
		status_text(json_object_get(last, "status"), st, sizeof(st));
		trust_text(e, trust, sizeof(trust));
		const char *loc = json_string_value(json_object_get(e, "next")) ?: "-";
		const char *utc = json_string_value(json_object_get(e, "next_utc")) ?: "-";
		/* The zone's time, and UTC's when it differs. */
		if (strcmp(loc, utc) == 0)
			snprintf(nxt, sizeof(nxt), "%s", loc);
		else
			snprintf(nxt, sizeof(nxt), "%s (%s)", loc, utc + (strncmp(loc, utc, 11) == 0 ? 11 : 0));
		san_printf("%-20s %-7s %-3s %-16s %-18.18s %-14s %-24s %-40s %-16.16s %s\n",
			   json_string_value(json_object_get(e, "name")), json_string_value(json_object_get(e, "source")),
			   json_is_true(json_object_get(e, "enabled")) ? "yes" : "no", json_string_value(json_object_get(e, "cron")),
			   json_string_value(json_object_get(e, "target")), json_string_value(json_object_get(e, "operation")),
			   trust, nxt, json_string_value(json_object_get(last, "time")) ?: "never", err ? err : st[0] ? st : "-");
	}
}

int schedule_list(struct cli_opts *o, redisContext *c)
{
	struct schedule *all = NULL;
	size_t n = 0;
	json_t *list = json_array();
	time_t now = time(NULL);

	if (schedules_load(c, cli_config(o->config_path, NULL), &all, &n) < 0) {
		json_decref(list);
		return EXIT_USAGE;
	}
	/* Whether beat would fire each: its trusted keys, where readable here. */
	struct keyring *beat = calloc(1, sizeof(*beat));
	char err[CR_ERR_MAX];
	if (beat && schedule_keyring(&o->cfg, beat, err, sizeof(err)) < 0) {
		free(beat);
		beat = NULL;
	}
	int own = cli_load_signer(o, "") == 1;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, entry(o, c, &all[i], now, beat, own ? &o->signer : NULL));
	sodium_memzero(&o->signer, sizeof(o->signer));
	free(beat);
	if (o->json) {
		json_t *out = json_pack("{s:o}", "schedules", list);
		san_json_print(stdout, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(out);
	} else {
		if (n == 0)
			san_printf("(no schedules: add one with 'celeryroot schedule add', or in the config file)\n");
		else
			table(list);
		json_decref(list);
	}
	schedules_free(all, n);
	return EXIT_OK;
}
