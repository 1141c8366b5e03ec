/* Output: a table for people, or {"job","operation","hosts"} for scripts. */
#include "config.h"
#include "cli.h"

#include <string.h>

#define BAR_WIDTH 20

const char *render_age(double seconds, char *buf, size_t len)
{
	long v = seconds > 0 ? (long)seconds : 0;

	if (v < 60)
		snprintf(buf, len, "%lds", v);
	else if (v < 3600)
		snprintf(buf, len, "%ldm%02lds", v / 60, v % 60);
	else if (v < 86400)
		snprintf(buf, len, "%ldh%02ldm", v / 3600, v % 3600 / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", v / 86400, v % 86400 / 3600);
	return buf;
}

void render_status_line(FILE *f, const char *name, const char *state, int percent,
			const char *detail, int width)
{
	char bar[BAR_WIDTH + 1];

	(void)width;
	if (percent >= 0) {
		int fill = percent * BAR_WIDTH / 100;
		for (int i = 0; i < BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[BAR_WIDTH] = '\0';
		san_fprintf(f, "\033[2K%-16s %-9s [%s] %3d%% %.60s\n", name, state, bar, percent, detail ? detail : "");
	} else {
		san_fprintf(f, "\033[2K%-16s %-16s %.60s\n", name, state, detail ? detail : "");
	}
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void detail_ping(json_t *data, char *buf, size_t len)
{
	char roles[256] = "";
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(data, "roles"), i, r) {
		size_t used = strlen(roles);
		snprintf(roles + used, sizeof(roles) - used, "%s%s", i ? "," : "", json_string_value(r));
	}
	snprintf(buf, len, "pong: roles %s, celeryroot %s", roles[0] ? roles : "-", str(data, "version"));
}

/* A task a host started and has not finished: still running there, or
 * interrupted by the host going away (it takes the task back on return). */
static void detail_running(json_t *rec, char *buf, size_t len)
{
	const char *host = str(rec, "host");
	char age[32];

	if (json_is_true(json_object_get(rec, "interrupted")))
		snprintf(buf, len, "interrupted: %s went offline while running it; it runs again when %s returns",
			 host, host);
	else if (json_is_number(json_object_get(rec, "running_s")))
		snprintf(buf, len, "running for %s",
			 render_age(json_number_value(json_object_get(rec, "running_s")), age, sizeof(age)));
	else
		snprintf(buf, len, "still running when the wait ended");
}

static void detail_other(json_t *rec, char *buf, size_t len)
{
	const char *st = str(rec, "status");

	if (json_is_string(json_object_get(rec, "error")))
		snprintf(buf, len, "%s", str(rec, "error"));
	else if (!strcmp(st, "queued") && json_is_true(json_object_get(rec, "unconfirmed")))
		snprintf(buf, len, "not known whether the broker has the job: see 'celeryroot job'");
	else if (!strcmp(st, "queued"))
		snprintf(buf, len, "%s", json_is_true(json_object_get(rec, "offline"))
					 ? "host offline: the task waits in its queue"
					 : "not picked up yet");
	else if (!strcmp(st, "timeout"))
		detail_running(rec, buf, len);
	else if (!strcmp(st, "deferred"))
		snprintf(buf, len, "outside its maintenance windows: runs at %s (--now overrides)", str(rec, "run_at"));
	else
		buf[0] = '\0';
}

/* Every pending host is pending because its window is closed. */
static int counts_only_deferred(json_t *records)
{
	size_t i;
	json_t *r;

	json_array_foreach(records, i, r) {
		const char *st = str(r, "status");
		if (!strcmp(st, "queued") || !strcmp(st, "timeout") || !strcmp(st, "expired"))
			return 0;
	}
	return 1;
}

static int name_width(json_t *records)
{
	size_t i, w = 4;
	json_t *r;

	json_array_foreach(records, i, r) {
		size_t l = (size_t)san_width(str(r, "host"));
		if (l > w)
			w = l;
	}
	return (int)w;
}

static void table_facts_row(json_t *rec, int w)
{
	json_t *d = json_object_get(rec, "data");
	json_t *age = json_object_get(d, "apt_lists_age_s");
	char up[32], ages[32];

	if (!json_is_object(d)) {
		char detail[512];
		detail_other(rec, detail, sizeof(detail));
		san_printf("%-*s  %-9s  %s\n", w, str(rec, "host"), str(rec, "status"), detail);
		return;
	}
	render_age(json_number_value(json_object_get(d, "uptime_s")), up, sizeof(up));
	if (json_is_number(age))
		render_age(json_number_value(age), ages, sizeof(ages));
	else
		snprintf(ages, sizeof(ages), "never");
	san_printf("%-*s  %-32.32s  %-20.20s  %7s  %8lld  %s\n", w, str(rec, "host"), str(d, "os_pretty"),
		   str(d, "kernel"), up, (long long)json_integer_value(json_object_get(d, "installed_packages")),
		   ages);
}

static void table(const struct job *job, json_t *records)
{
	int w = name_width(records), facts = !strcmp(job->operation, "facts");
	size_t i;
	json_t *rec;

	if (render_apt_table(job, records, w))
		return;
	if (facts)
		san_printf("%-*s  %-32s  %-20s  %7s  %8s  %s\n", w, "HOST", "OS", "KERNEL", "UPTIME",
			   "PACKAGES", "APT LISTS AGE");
	else
		san_printf("%-*s  %-9s  %8s  %s\n", w, "HOST", "STATUS", "TIME", "DETAIL");
	json_array_foreach(records, i, rec) {
		char detail[512];
		if (facts) {
			table_facts_row(rec, w);
			continue;
		}
		if (!strcmp(str(rec, "status"), "unchanged") && !strcmp(job->operation, "ping"))
			detail_ping(json_object_get(rec, "data"), detail, sizeof(detail));
		else
			detail_other(rec, detail, sizeof(detail));
		san_printf("%-*s  %-9s  %7.3fs  %s\n", w, str(rec, "host"), str(rec, "status"),
			   json_number_value(json_object_get(rec, "duration_s")), detail);
	}
}

static int any_check(json_t *records)
{
	size_t i;
	json_t *rec;

	json_array_foreach(records, i, rec)
		if (json_is_true(json_object_get(rec, "check")))
			return 1;
	return 0;
}

static void summary(const struct job *job, json_t *records)
{
	static const char *const order[] = { "changed", "unchanged", "failed", "timeout", "queued",
					     "deferred", "expired", "skipped" };
	char line[512];
	size_t used = 0;

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		size_t i, n = 0;
		json_t *rec;
		json_array_foreach(records, i, rec)
			n += !strcmp(str(rec, "status"), order[k]);
		if (n > 0 && used < sizeof(line))
			used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%zu %s",
						 used ? ", " : "", n, order[k]);
	}
	san_printf("\n%zu host%s: %s   (job %s)\n", json_array_size(records),
		   json_array_size(records) == 1 ? "" : "s", used ? line : "none", job->id);
	if (any_check(records))
		san_printf("check mode: nothing was changed; \"changed\" means it would change\n");
	if (cr_record_exit_code(records) == EXIT_PENDING && counts_only_deferred(records))
		san_printf("deferred tasks run when their host's window opens; see 'celeryroot job %s' then\n", job->id);
	else if (cr_record_exit_code(records) == EXIT_PENDING)
		san_printf("some hosts have not answered yet; see 'celeryroot job %s --wait'\n", job->id);
}

void render_job(const struct cli_opts *o, const struct job *job, json_t *records)
{
	if (o->json) {
		json_t *out = json_pack("{s:s, s:s, s:O}", "job", job->id, "operation", job->operation,
					"hosts", records);
		san_json_print(stdout, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
		fputc('\n', stdout);
		json_decref(out);
		return;
	}
	table(job, records);
	summary(job, records);
}
