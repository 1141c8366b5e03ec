/* celeryroot hosts: the registry as a table or JSON. */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

static void hosts_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot hosts [--json]\n"
		"\n"
		"Lists every host that has registered: its roles, whether its heartbeat is\n"
		"fresh (online), when it was last seen, its version and OS.  Offline hosts\n"
		"still receive tasks; they wait in the host's queue.\n"
		"\n"
		"examples:\n"
		"  celeryroot hosts\n"
		"  celeryroot hosts --json | jq -r '.hosts[] | select(.online) | .hostname'\n");
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct host_rec *)a)->hostname, ((const struct host_rec *)b)->hostname);
}

static json_t *host_json(const struct host_rec *h, double now)
{
	json_t *roles = json_array();

	for (int i = 0; i < h->nroles; i++)
		json_array_append_new(roles, json_string(h->roles[i]));
	return json_pack("{s:s, s:o, s:b, s:s, s:f, s:f, s:s, s:s, s:s, s:i}", "hostname", h->hostname,
			 "roles", roles, "online", registry_online(h, now), "state", h->state,
			 "last_seen", h->last_seen, "last_seen_age_s", now - h->last_seen, "version",
			 h->version, "os", h->os, "kernel", h->kernel, "heartbeat_s", h->heartbeat_s);
}

static void hosts_table(const struct host_rec *hosts, size_t n, double now)
{
	printf("%-16s  %-24s  %-7s  %-9s  %-8s  %s\n", "HOST", "ROLES", "STATE", "LAST SEEN", "VERSION", "OS");
	for (size_t i = 0; i < n; i++) {
		const struct host_rec *h = &hosts[i];
		char roles[256] = "", age[32];
		for (int r = 0; r < h->nroles; r++) {
			size_t used = strlen(roles);
			snprintf(roles + used, sizeof(roles) - used, "%s%s", r ? "," : "", h->roles[r]);
		}
		render_age(now - h->last_seen, age, sizeof(age));
		printf("%-16s  %-24s  %-7s  %-9s  %-8s  %s\n", h->hostname, roles[0] ? roles : "-",
		       registry_online(h, now) ? "online" : "offline", strcat(age, " ago"), h->version, h->os);
	}
	if (n == 0)
		printf("(no hosts have registered yet: start celeryrootd on your servers, or run 'celeryroot demo')\n");
}

int cmd_hosts(int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	struct host_rec *hosts = NULL;
	size_t n = 0;
	redisContext *c;
	int first, rc = EXIT_OK;

	first = o ? cli_parse(argc, argv, o, 0, hosts_help) : -1;
	if (first >= 0 && first < argc)
		cli_err("unexpected argument '%s'; see 'celeryroot hosts --help'", argv[first]);
	if (first < 0 || first < argc) {
		free(o);
		return EXIT_USAGE;
	}
	if ((c = cli_connect(o)) == NULL) {
		free(o);
		return EXIT_BROKER;
	}
	if (cli_load_registry(c, &hosts, &n) < 0) {
		rc = EXIT_BROKER;
	} else {
		double now = now_wall();
		qsort(hosts, n, sizeof(*hosts), by_name);
		if (o->json) {
			json_t *arr = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(arr, host_json(&hosts[i], now));
			json_t *out = json_pack("{s:o}", "hosts", arr);
			json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
			fputc('\n', stdout);
			json_decref(out);
		} else {
			hosts_table(hosts, n, now);
		}
	}
	free(hosts);
	redisFree(c);
	free(o);
	return rc;
}
