/* Firing a schedule (beat, and 'schedule run-now') and listing schedules
 * with their next and last runs. */
#include "config.h"
#include "schedule.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rconn.h"
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
		r = rconn_cmd(c, "HSET", key, "last_run", when, "last_job", job, "last_error", error, NULL);
	else
		r = rconn_cmd(c, "HSET", key, "last_fire", when, "last_run", when, "last_job", job, "last_error", error,
			      NULL);
	if (r)
		freeReplyObject(r);
}

int schedule_run(struct cli_opts *o, redisContext *c, const struct schedule *s, double fire, int manual,
		 char *job_id, size_t job_len)
{
	struct job job = { 0 };
	struct dest *d = NULL;
	size_t nd = 0;
	char origin[SCHED_NAME_MAX + 16];
	int rc;

	memcpy(&o->target, s->spec, sizeof(o->target));
	snprintf(origin, sizeof(origin), "schedule:%s", s->name);
	o->origin = origin;
	/* Resolved now, so that hosts that joined a role since are included. */
	rc = cli_resolve(o, c, &d, &nd);
	copy_str(job.operation, sizeof(job.operation), s->task.operation);
	copy_str(job.task, sizeof(job.task), s->task.task);
	if (rc == 0)
		rc = cli_send_job(o, c, &job, s->task.args, s->task.kwargs, d, nd);
	save_state(c, s, fire, manual, rc == 0 ? job.id : "", rc == 0 ? "" : "could not send (see beat's log)");
	if (job_len > 0)
		copy_str(job_id, job_len, rc == 0 ? job.id : "");
	if (rc == 0 && manual)
		printf("schedule %s: job %s sent to %zu destination(s)\n", s->name, job.id, nd);
	free(d);
	job_free(&job);
	return rc;
}

/* ---- list -------------------------------------------------------------- */

static json_t *entry(struct cli_opts *o, redisContext *c, const struct schedule *s, time_t now)
{
	char key[sizeof(SCHED_STATE_PREFIX) + SCHED_NAME_MAX], local[64] = "", utc[64] = "";
	json_t *e = schedule_to_json(s), *last = json_null();
	time_t next;
	redisReply *r;

	if (s->enabled && cron_next(&s->expr, s->tz, now, &next) == 0) {
		tz_format(next, s->tz, SCHED_TIME_FMT, local, sizeof(local));
		tz_format(next, "UTC", SCHED_TIME_FMT, utc, sizeof(utc));
	}
	json_object_set_new(e, "operation", json_string(s->task.operation));
	json_object_set_new(e, "next", local[0] ? json_string(local) : json_null());
	json_object_set_new(e, "next_utc", utc[0] ? json_string(utc) : json_null());
	snprintf(key, sizeof(key), SCHED_STATE_PREFIX "%s", s->name);
	r = rconn_cmd(c, "HMGET", key, "last_run", "last_job", "last_error", NULL);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->str) {
		char when[64];
		const char *job = r->element[1]->str ? r->element[1]->str : "";
		tz_format((time_t)atoll(r->element[0]->str), "UTC", SCHED_TIME_FMT, when, sizeof(when));
		json_t *summary = valid_task_id(job) ? job_summary(c, o, job) : NULL;
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

static void table(json_t *list)
{
	size_t i;
	json_t *e;

	printf("%-20s %-7s %-3s %-16s %-18s %-14s %-40s %-16s %s\n", "NAME", "SOURCE", "ON", "CRON", "TARGET",
	       "OPERATION", "NEXT (ZONE / UTC)", "LAST RUN (UTC)", "OUTCOME");
	json_array_foreach(list, i, e) {
		json_t *last = json_object_get(e, "last");
		char st[200] = "", nxt[160];
		const char *err = json_string_value(json_object_get(last, "error"));
		status_text(json_object_get(last, "status"), st, sizeof(st));
		const char *loc = json_string_value(json_object_get(e, "next")) ?: "-";
		const char *utc = json_string_value(json_object_get(e, "next_utc")) ?: "-";
		/* The zone's time, and UTC's when it differs. */
		if (strcmp(loc, utc) == 0)
			snprintf(nxt, sizeof(nxt), "%s", loc);
		else
			snprintf(nxt, sizeof(nxt), "%s (%s)", loc, utc + (strncmp(loc, utc, 11) == 0 ? 11 : 0));
		printf("%-20s %-7s %-3s %-16s %-18.18s %-14s %-40s %-16.16s %s\n", json_string_value(json_object_get(e, "name")),
		       json_string_value(json_object_get(e, "source")), json_is_true(json_object_get(e, "enabled")) ? "yes" : "no",
		       json_string_value(json_object_get(e, "cron")), json_string_value(json_object_get(e, "target")),
		       json_string_value(json_object_get(e, "operation")), nxt,
		       json_string_value(json_object_get(last, "time")) ?: "never", err ? err : st[0] ? st : "-");
	}
}

int schedule_list(struct cli_opts *o, redisContext *c)
{
	struct schedule *all = NULL;
	size_t n = 0;
	json_t *list = json_array();
	time_t now = time(NULL);

	if (schedules_load(c, o->config_path ? o->config_path : CONFIG_DEFAULT_PATH, &all, &n) < 0) {
		json_decref(list);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, entry(o, c, &all[i], now));
	if (o->json) {
		json_t *out = json_pack("{s:o}", "schedules", list);
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(out);
	} else {
		if (n == 0)
			printf("(no schedules: add one with 'celeryroot schedule add', or in the config file)\n");
		else
			table(list);
		json_decref(list);
	}
	schedules_free(all, n);
	return EXIT_OK;
}
