/* Tables for the apt operations: query as a host x package matrix. */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *s(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* "1.0", "1.0 -> 1.1", "1.0 -> 1.1 (security)", "- (1.1 available)", "unknown". */
static void cell(json_t *p, char *buf, size_t len)
{
	const char *inst = s(p, "installed"), *cand = s(p, "candidate");
	int sec = json_is_true(json_object_get(p, "security"));

	if (!json_is_true(json_object_get(p, "known")))
		snprintf(buf, len, "unknown");
	else if (inst[0] == '\0')
		snprintf(buf, len, "- (%s available)", cand[0] ? cand : "none");
	else if (json_is_true(json_object_get(p, "upgradable")))
		snprintf(buf, len, "%s -> %s%s", inst, cand, sec ? " (security)" : "");
	else
		snprintf(buf, len, "%s", inst);
	/* A hold (dpkg selection "hold"; issue 15) is marked after the versions. */
	size_t used = strlen(buf);
	if (json_is_true(json_object_get(p, "held")) && used < len)
		snprintf(buf + used, len - used, " [held]");
}

static void matrix(json_t *records, int w)
{
	json_t *first = NULL, *rec;
	const char *name;
	json_t *v;
	size_t i;

	json_array_foreach(records, i, rec) {
		if (json_is_object(json_object_get(json_object_get(rec, "data"), "packages"))) {
			first = json_object_get(json_object_get(rec, "data"), "packages");
			break;
		}
	}
	san_printf("%-*s", w, "HOST");
	json_object_foreach(first, name, v)
		san_printf("  %-24s", name);
	san_printf("\n");
	json_array_foreach(records, i, rec) {
		json_t *pk = json_object_get(json_object_get(rec, "data"), "packages");
		san_printf("%-*s", w, s(rec, "host"));
		if (!json_is_object(pk)) {
			san_printf("  %s: %s\n", s(rec, "status"), json_is_string(json_object_get(rec, "error")) ? s(rec, "error") : "no answer");
			continue;
		}
		json_object_foreach(first, name, v) {
			char c[160];
			cell(json_object_get(pk, name), c, sizeof(c));
			san_printf("  %-24s", c);
		}
		san_printf("\n");
	}
}

static void listing(json_t *records, int w)
{
	size_t i, j;
	json_t *rec, *p;

	san_printf("%-*s  %-32s  %-20s  %s\n", w, "HOST", "PACKAGE", "INSTALLED", "CANDIDATE");
	json_array_foreach(records, i, rec) {
		json_t *pk = json_object_get(json_object_get(rec, "data"), "packages");
		if (!json_is_array(pk)) {
			san_printf("%-*s  %s: %s\n", w, s(rec, "host"), s(rec, "status"), s(rec, "error"));
			continue;
		}
		if (json_array_size(pk) == 0)
			san_printf("%-*s  (none)\n", w, s(rec, "host"));
		json_array_foreach(pk, j, p) {
			int newer = strcmp(s(p, "candidate"), s(p, "installed")) != 0;
			san_printf("%-*s  %-32s  %-20s  %s%s\n", w, s(rec, "host"), s(p, "name"), s(p, "installed"),
				   newer ? s(p, "candidate") : "",
				   newer && json_is_true(json_object_get(p, "security")) ? " (security)" : "");
		}
		if (json_is_true(json_object_get(json_object_get(rec, "data"), "truncated")))
			san_printf("%-*s  ... %lld in all\n", w, s(rec, "host"),
				   (long long)json_integer_value(json_object_get(json_object_get(rec, "data"), "total")));
	}
}

static void updates(json_t *records, int w)
{
	size_t i;
	json_t *rec;

	san_printf("%-*s  %-9s  %8s  %s\n", w, "HOST", "STATUS", "TIME", "DETAIL");
	json_array_foreach(records, i, rec) {
		json_t *d = json_object_get(rec, "data");
		char detail[256];
		char age[32];
		if (json_is_string(json_object_get(rec, "error")))
			snprintf(detail, sizeof(detail), "%s", s(rec, "error"));
		else if (json_is_object(d))
			snprintf(detail, sizeof(detail), "%s; lists age %s", json_is_true(json_object_get(d, "refreshed")) ? "lists refreshed" : "lists fresh, download skipped",
				 render_age(json_number_value(json_object_get(d, "cache_age_s")), age, sizeof(age)));
		else
			snprintf(detail, sizeof(detail), "%s", s(rec, "status"));
		san_printf("%-*s  %-9s  %7.3fs  %s\n", w, s(rec, "host"), s(rec, "status"),
			   json_number_value(json_object_get(rec, "duration_s")), detail);
	}
}

static const char *ver(json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "-";
}

/* An upgrade's packages left at their installed version, one a line, with
 * the version it did not go to and why (apt_shim_upgrade.cc's reasons). */
static void kept_lines(json_t *rec, const char *indent)
{
	json_t *kept = json_object_get(rec, "kept_back"), *k;
	size_t i;

	if (kept == NULL)
		kept = json_object_get(json_object_get(rec, "data"), "kept_back");
	json_array_foreach(kept, i, k)
		san_printf("%skept back: %s %s (%s)\n", indent, s(k, "package"), s(k, "candidate"), s(k, "reason"));
}

/* The lines under a host's status: what changed (or would), why nothing
 * did, or what failed and what the rollback put back. */
static void change_lines(json_t *rec, int w)
{
	json_t *changes = json_object_get(rec, "changes"), *rb = json_object_get(rec, "rollback"), *v;
	const char *name, *pad = "";
	int check = json_is_true(json_object_get(rec, "check")), n = 0;
	char indent[64];

	snprintf(indent, sizeof(indent), "%*s", w + 23, "");
	/* Sorted, so that a check and the real run read the same. */
	char *sorted = json_dumps(changes, JSON_SORT_KEYS | JSON_COMPACT);
	json_t *ordered = sorted ? json_loads(sorted, JSON_DECODE_ANY, NULL) : NULL;
	free(sorted);
	json_object_foreach(ordered, name, v) {
		int purged = json_is_string(json_object_get(v, "config"));
		san_printf("%s%s%-28s %s -> %s\n", n++ ? indent : pad, check ? "would: " : "", name,
			   ver(json_object_get(v, "old")), purged ? "configuration purged" : ver(json_object_get(v, "new")));
	}
	json_decref(ordered);
	if (json_is_string(json_object_get(rec, "error")))
		san_printf("%s%s\n", n++ ? indent : pad, s(rec, "error"));
	if (json_is_object(rb)) {
		char *removed = json_dumps(json_object_get(rb, "removed"), JSON_COMPACT);
		char *restored = json_dumps(json_object_get(rb, "restored"), JSON_COMPACT);
		san_printf("%srollback %s: removed %s, restored %s\n", n++ ? indent : pad,
			   json_is_true(json_object_get(rb, "ok")) ? "ok" : "INCOMPLETE", removed ? removed : "[]",
			   restored ? restored : "{}");
		free(removed);
		free(restored);
	}
	/* The package's or the local conffile, left for the admin to merge. */
	json_t *left = json_object_get(json_object_get(rec, "data"), "conffiles_left");
	for (size_t i = 0; i < json_array_size(left); i++)
		if (json_is_string(json_array_get(left, i)))
			san_printf("%sconffile left: %s\n", n++ ? indent : pad, json_string_value(json_array_get(left, i)));
	if (n++ == 0)
		san_printf("%s\n", json_is_string(json_object_get(rec, "reason")) ? s(rec, "reason") : "");
	kept_lines(rec, indent);
}

static void changes(json_t *records, int w)
{
	size_t i;
	json_t *rec;

	san_printf("%-*s  %-9s  %8s  %s\n", w, "HOST", "STATUS", "TIME", "CHANGES");
	json_array_foreach(records, i, rec) {
		san_printf("%-*s  %-9s  %7.3fs  ", w, s(rec, "host"), s(rec, "status"),
			   json_number_value(json_object_get(rec, "duration_s")));
		change_lines(rec, w);
	}
}

int render_apt_table(const struct job *job, json_t *records, int w)
{
	if (!strcmp(job->operation, "apt.query"))
		matrix(records, w);
	else if (!strcmp(job->operation, "apt.list"))
		listing(records, w);
	else if (!strcmp(job->operation, "apt.update"))
		updates(records, w);
	else if (!strncmp(job->operation, "apt.", 4))
		changes(records, w);
	else
		return 0;
	return 1;
}
