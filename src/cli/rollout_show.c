/* A rollout on screen: the usual table (hosts never sent to "skipped",
 * with the reason), then its waves, the failures that counted against the
 * budget and what is next; or all of it as JSON. */
#include "config.h"
#include "rollout.h"

#include <string.h>

#include "timeutil.h"

static json_t *rollout_json(const struct ro_plan *p, json_t *st)
{
	json_t *waves = json_array();

	for (size_t w = 0; w < p->nwaves; w++) {
		json_t *hosts = json_array();
		for (size_t i = p->start[w]; i < p->start[w + 1]; i++)
			json_array_append_new(hosts, json_string(p->job.t[i].host[0] ? p->job.t[i].host : p->job.t[i].queue));
		json_array_append_new(waves, json_pack("{s:I, s:b, s:o, s:f, s:f}", "wave", (json_int_t)w + 1, "canary",
						       w == 0 && p->canary > 0, "hosts", hosts, "sent",
						       ro_wave_time(st, w, "sent"), "closed", ro_wave_time(st, w, "closed")));
	}
	return json_pack("{s:s, s:s?, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:O, s:o}", "status", ro_status(st), "reason",
			 json_string_value(json_object_get(st, "reason")), "next_wave",
			 json_integer_value(json_object_get(st, "next")) + 1, "waves_total", (json_int_t)p->nwaves,
			 "canary", (json_int_t)p->canary, "max_failures", (json_int_t)p->max_failures, "failed",
			 (json_int_t)ro_failures(st), "pause_s", p->pause_s, "wave_timeout_s", p->wave_timeout_s,
			 "failures", json_object_get(st, "failures"), "waves", waves);
}

static void say_next(const struct ro_plan *p, json_t *st)
{
	size_t next = (size_t)json_integer_value(json_object_get(st, "next"));
	double closed = next > 0 ? ro_wave_time(st, next - 1, "closed") : 0;
	char when[40];

	if (strcmp(ro_status(st), "running") != 0)
		return;
	if (next > 0 && closed <= 0)
		san_printf("next: wave %zu is being waited for (until %.0f s after it was sent)\n", next, p->wave_timeout_s);
	else if (next < p->nwaves) {
		cr_iso8601_utc(closed + p->pause_s, when, sizeof(when));
		san_printf("next: wave %zu of %zu, %s %s; carry it on with 'celeryroot job %s --resume'\n", next + 1,
			   p->nwaves, next > 0 ? "due at" : "due", next > 0 ? when : "now", p->job.id);
	}
}

static void rollout_text(const struct ro_plan *p, json_t *st)
{
	size_t i, next = (size_t)json_integer_value(json_object_get(st, "next"));
	const char *reason = json_string_value(json_object_get(st, "reason"));
	json_t *f;

	san_printf("\nrollout: %s%s%s; %zu wave%s, %zu sent\n", ro_status(st), reason && reason[0] ? ": " : "",
		   reason ? reason : "", p->nwaves, p->nwaves == 1 ? "" : "s", next);
	for (size_t w = 0; w < p->nwaves; w++) {
		const char *state = w >= next ? "not sent" : ro_wave_time(st, w, "closed") > 0 ? "closed" : "sent";
		char label[40];
		snprintf(label, sizeof(label), "wave %zu%s", w + 1, w == 0 && p->canary > 0 ? " (canary)" : "");
		san_printf("  %-16s %-8s ", label, state);
		for (i = p->start[w]; i < p->start[w + 1]; i++)
			san_printf(" %s", p->job.t[i].host[0] ? p->job.t[i].host : p->job.t[i].queue);
		san_printf("\n");
	}
	san_printf("counted against the budget: %zu (%ld allowed)%s\n", ro_failures(st), p->max_failures,
		   ro_failures(st) ? ":" : "");
	json_array_foreach(json_object_get(st, "failures"), i, f)
		san_printf("  %s (wave %lld): %s\n", json_string_value(json_object_get(f, "host")),
			   (long long)json_integer_value(json_object_get(f, "wave")),
			   json_string_value(json_object_get(f, "reason")));
	say_next(p, st);
}

/* The table (or JSON) of a rollout, and its exit code. */
int ro_show(struct cli_opts *o, redisContext *c, const struct ro_plan *p, json_t *st)
{
	json_t *recs = ro_records(o, c, p, st);
	const char *status = ro_status(st);
	int rc;

	if (recs == NULL)
		return EXIT_BROKER;
	rc = !strcmp(status, "running") ? EXIT_PENDING : strcmp(status, "done") ? EXIT_STOPPED
										 : cr_record_exit_code(recs);
	if (o->json) {
		json_t *out = json_pack("{s:s, s:s, s:O, s:o}", "job", p->job.id, "operation", p->job.operation, "hosts",
					recs, "rollout", rollout_json(p, st));
		san_json_print(stdout, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
		fputc('\n', stdout);
		json_decref(out);
	} else {
		render_job(o, &p->job, recs);
		rollout_text(p, st);
	}
	json_decref(recs);
	return rc;
}
