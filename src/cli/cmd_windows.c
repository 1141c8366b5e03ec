/* celeryroot windows: the maintenance windows in force on each host (as
 * each daemon publishes them) and when each opens next. */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "crerr.h"
#include "ops.h"
#include "rconn.h"
#include "timeutil.h"
#include "window.h"

static void windows_help(FILE *f)
{
	char windowed[128];

	/* The windowed operations of the operation table (ops.h). */
	cr_op_names(windowed, sizeof(windowed), 0, CR_OP_WINDOWED, ", ", " and ");
	san_fprintf(f,
		    "usage: celeryroot windows [--json]\n"
		    "\n"
		    "Lists, for every host, the maintenance windows its daemon enforces\n"
		    "([window NAME] sections of its config) and when each opens next, in the\n"
		    "window's zone and in UTC.  Outside its windows a host defers these to the\n"
		    "next opening (reported 'deferred'): %s;\n"
		    "the other operations and --check always run, and --now overrides.  A host\n"
		    "without windows may change at any time.\n"
		    "\n"
		    "examples:\n"
		    "  celeryroot windows\n"
		    "  celeryroot windows --json\n", windowed);
}

/* One published window, checked again (anyone can write to Redis). */
static json_t *window_entry(json_t *w, time_t now)
{
	const char *k[] = { "name", "days", "start", "duration", "zone" };
	const char *v[5];
	struct window win;
	char err[CR_ERR_MAX], local[64] = "", utc[64] = "";

	for (int i = 0; i < 5; i++)
		if ((v[i] = json_string_value(json_object_get(w, k[i]))) == NULL)
			return NULL;
	if (cr_window_parse(v[1], v[2], v[3], v[4], &win, err, sizeof(err)) < 0)
		return NULL;
	int open = cr_window_open_at(&win, now);
	time_t next = cr_window_next_open(&win, now);
	if (next > 0) {
		cr_tz_format(next, v[4], "%a %Y-%m-%d %H:%M %Z", local, sizeof(local));
		cr_tz_format(next, "UTC", "%a %Y-%m-%d %H:%M %Z", utc, sizeof(utc));
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s?, s:s?}", "name", v[0], "days", v[1], "start", v[2],
			 "duration", v[3], "zone", v[4], "open", open, "next_open", local[0] ? local : NULL,
			 "next_open_utc", utc[0] ? utc : NULL);
}

static json_t *host_entry(redisContext *c, const struct host_rec *h, time_t now)
{
	char key[sizeof(REG_WINDOWS_PREFIX) + HOSTNAME_MAX];
	redisReply *r;
	json_t *list = json_array(), *roles = json_array(), *pub = NULL, *w;
	size_t i;

	snprintf(key, sizeof(key), REG_WINDOWS_PREFIX "%s", h->hostname);
	r = cr_rconn_cmd(c, "GET", key, NULL);
	if (r && r->type == REDIS_REPLY_STRING && r->len <= REG_RECORD_MAX)
		pub = json_loadb(r->str, r->len, 0, NULL);
	if (r)
		freeReplyObject(r);
	json_array_foreach(pub, i, w) {
		json_t *e = i < 16 ? window_entry(w, now) : NULL;
		if (e)
			json_array_append_new(list, e);
	}
	json_decref(pub);
	for (int j = 0; j < h->nroles; j++)
		json_array_append_new(roles, json_string(h->roles[j]));
	return json_pack("{s:s, s:o, s:o}", "host", h->hostname, "roles", roles, "windows", list);
}

static void table(json_t *hosts)
{
	size_t i, j;
	json_t *h, *w;

	san_printf("%-16s %-20s %-9s %-5s %-8s %-16s %-5s %s\n", "HOST", "WINDOW", "DAYS", "START", "DURATION", "ZONE", "OPEN",
		   "NEXT OPENING (ZONE / UTC)");
	json_array_foreach(hosts, i, h) {
		const char *name = json_string_value(json_object_get(h, "host"));
		if (json_array_size(json_object_get(h, "windows")) == 0)
			san_printf("%-16s %s\n", name, "(no window: changes run at any time)");
		json_array_foreach(json_object_get(h, "windows"), j, w) {
			const char *nl = json_string_value(json_object_get(w, "next_open"));
			const char *nu = json_string_value(json_object_get(w, "next_open_utc"));
			char next[160];
			/* The zone's time, and UTC's when it differs. */
			if (nl == NULL || nu == NULL || strcmp(nl, nu) == 0)
				snprintf(next, sizeof(next), "%s", nl ? nl : "never");
			else
				snprintf(next, sizeof(next), "%s (%s)", nl, nu);
			san_printf("%-16s %-20.20s %-9s %-5s %-8s %-16s %-5s %s\n", j ? "" : name,
				   json_string_value(json_object_get(w, "name")), json_string_value(json_object_get(w, "days")),
				   json_string_value(json_object_get(w, "start")), json_string_value(json_object_get(w, "duration")),
				   json_string_value(json_object_get(w, "zone")),
				   json_is_true(json_object_get(w, "open")) ? "yes" : "no", next);
		}
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct host_rec *)a)->hostname, ((const struct host_rec *)b)->hostname);
}

int cmd_windows(int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	struct host_rec *hosts = NULL;
	size_t n = 0;
	redisContext *c;
	json_t *list;
	time_t now = (time_t)cr_clock_now();
	int first;

	if (o == NULL || (first = cli_parse(argc, argv, o, 0, windows_help)) < 0 || first != argc) {
		if (o && first >= 0)
			cli_err("windows takes no arguments; see 'celeryroot windows --help'");
		free(o);
		return EXIT_USAGE;
	}
	if ((c = cli_connect(o)) == NULL || cli_load_registry(c, &hosts, &n) < 0) {
		if (c)
			cr_rconn_free(c);
		free(o);
		return EXIT_BROKER;
	}
	if (n > 1)   /* no hosts: hosts may be NULL, which qsort may not be given */
		qsort(hosts, n, sizeof(*hosts), by_name);
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, host_entry(c, &hosts[i], now));
	if (o->json) {
		json_t *out = json_pack("{s:o}", "hosts", list);
		san_json_print(stdout, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(out);
	} else {
		table(list);
		json_decref(list);
	}
	free(hosts);
	cr_rconn_free(c);
	free(o);
	return EXIT_OK;
}
