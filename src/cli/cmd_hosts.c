/* celeryroot hosts: the registry as a table or JSON, with each host's key
 * as known_hosts knows it; 'hosts trust' and 'hosts forget' change that. */
#include "config.h"
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "crerr.h"
#include "known_hosts.h"
#include "rconn.h"
#include "timeutil.h"

static void hosts_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot hosts [--json]\n"
		"       celeryroot hosts trust HOST... [--key FILE.pub]\n"
		"       celeryroot hosts forget HOST...\n"
		"\n"
		"Lists every host that has registered: its roles, whether its heartbeat is\n"
		"fresh (online), when it was last seen, its version and OS, and its host key.\n"
		"Offline hosts still receive tasks; they wait in the host's queue.\n"
		"\n"
		"Each host's root helper signs its results and audit records with its own\n"
		"host key.  The first key seen for a host is recorded in known_hosts (trust\n"
		"on first use, as ssh does), and its records are checked against it from\n"
		"then on.  KEY says: known (the registry's key is the recorded one), new\n"
		"(not recorded yet: recorded when first used), CHANGED (the registry now\n"
		"gives another key, or none: refused; results signed with it show as\n"
		"forged), none (the host publishes no key: a daemon older than host keys;\n"
		"its results count as failed, unsigned).\n"
		"\n"
		"  trust HOST...   record the registry's current key of each HOST, replacing\n"
		"                  what was known: do it once you have checked the new\n"
		"                  fingerprint on the host itself\n"
		"                  ('celeryroot key fingerprint /var/lib/celeryroot/host.pub')\n"
		"  --key FILE.pub  trust this key for HOST instead (one HOST), copied from the\n"
		"                  host by a channel other than Redis\n"
		"  forget HOST...  drop each HOST's recorded key\n"
		"\n"
		"known_hosts: $CELERYROOT_KNOWN_HOSTS, else ~/.config/celeryroot/known_hosts\n"
		"(mode 0600; one 'HOST ed25519 BASE64' line per host).\n"
		"\n"
		"examples:\n"
		"  celeryroot hosts\n"
		"  celeryroot hosts --json | jq -r '.hosts[] | select(.online) | .hostname'\n"
		"  celeryroot hosts trust web01\n"
		"  celeryroot hosts trust db01 --key ./db01-host.pub\n"
		"  celeryroot hosts forget old-web07\n");
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct host_rec *)a)->hostname, ((const struct host_rec *)b)->hostname);
}

/* What is known of one host's key. */
struct key_view {
	enum kh_state state;
	char fp[FINGERPRINT_MAX];        /* the registry's key; "" when none */
	char known_fp[FINGERPRINT_MAX];  /* known_hosts's; "" when none */
	char *b64;                       /* the registry's key, malloc'd */
};

static void key_view(const struct known_hosts *kh, const char *host, const struct reg_key *rk, struct key_view *v)
{
	const unsigned char *known = kh_find(kh, host);

	memset(v, 0, sizeof(*v));
	v->state = kh_state(kh, host, rk);
	if (rk->present) {
		kh_fingerprint(rk->pk, v->fp);
		v->b64 = cr_b64_encode(rk->pk, HOST_KEY_LEN);
	}
	if (known)
		kh_fingerprint(known, v->known_fp);
}

static json_t *host_json(const struct host_rec *h, const struct key_view *k, double now)
{
	json_t *roles = json_array(), *o;
	char state[16];

	for (int i = 0; i < h->nroles; i++)
		json_array_append_new(roles, json_string(h->roles[i]));
	cr_copy_str(state, sizeof(state), kh_state_name(k->state));
	for (char *c = state; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	o = json_pack("{s:s, s:o, s:b, s:s, s:f, s:f, s:s, s:s, s:s, s:i, s:s, s:s?, s:s?, s:s?}", "hostname",
		      h->hostname, "roles", roles, "online", cr_registry_online(h, now), "state", h->state, "last_seen",
		      h->last_seen, "last_seen_age_s", now - h->last_seen, "version", h->version, "os", h->os,
		      "kernel", h->kernel, "heartbeat_s", h->heartbeat_s, "key_state", state, "host_key", k->b64,
		      "fingerprint", k->fp[0] ? k->fp : NULL, "known_fingerprint", k->known_fp[0] ? k->known_fp : NULL);
	return o;
}

static void hosts_table(const struct host_rec *hosts, const struct key_view *keys, size_t n, double now)
{
	san_printf("%-16s  %-24s  %-7s  %-9s  %-8s  %-7s  %-50s  %s\n", "HOST", "ROLES", "STATE", "LAST SEEN",
		   "VERSION", "KEY", "FINGERPRINT", "OS");
	for (size_t i = 0; i < n; i++) {
		const struct host_rec *h = &hosts[i];
		char roles[256] = "", age[32];
		for (int r = 0; r < h->nroles; r++) {
			size_t used = strlen(roles);
			snprintf(roles + used, sizeof(roles) - used, "%s%s", r ? "," : "", h->roles[r]);
		}
		render_age(now - h->last_seen, age, sizeof(age));
		san_printf("%-16s  %-24s  %-7s  %-9s  %-8s  %-7s  %-50s  %s\n", h->hostname, roles[0] ? roles : "-",
			   cr_registry_online(h, now) ? "online" : "offline", strcat(age, " ago"), h->version,
			   kh_state_name(keys[i].state), keys[i].fp[0] ? keys[i].fp : "-", h->os);
	}
	if (n == 0)
		san_printf("(no hosts have registered yet: start celeryrootd on your servers, or run 'celeryroot demo')\n");
}

static int list(struct cli_opts *o, redisContext *c)
{
	struct host_rec *hosts = NULL;
	struct known_hosts kh;
	size_t n = 0;
	char err[CR_ERR_MAX];
	double now = cr_now_wall();

	if (kh_load(&kh, err, sizeof(err)) < 0) {
		cli_err("%s", err);
		return EXIT_USAGE;
	}
	if (cli_load_registry(c, &hosts, &n) < 0) {
		kh_free(&kh);
		return EXIT_BROKER;
	}
	if (n > 1)   /* no hosts: hosts is NULL, which qsort may not be given */
		qsort(hosts, n, sizeof(*hosts), by_name);
	const char **names = calloc(n + 1, sizeof(*names));
	struct reg_key *rk = calloc(n + 1, sizeof(*rk));
	struct key_view *kv = calloc(n + 1, sizeof(*kv));
	for (size_t i = 0; names && i < n; i++)
		names[i] = hosts[i].hostname;
	int fetched = names && rk && kv && reg_keys_fetch(c, names, n, rk) == 0;
	if (!fetched)
		cli_err("cannot read the hosts' keys from the registry: %s", c->errstr[0] ? c->errstr : "no answer");
	if (fetched) {
		for (size_t i = 0; i < n; i++)
			key_view(&kh, hosts[i].hostname, &rk[i], &kv[i]);
		if (o->json) {
			json_t *arr = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(arr, host_json(&hosts[i], &kv[i], now));
			json_t *out = json_pack("{s:o, s:s}", "hosts", arr, "known_hosts", kh.path);
			san_json_print(stdout, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
			fputc('\n', stdout);
			json_decref(out);
		} else {
			hosts_table(hosts, kv, n, now);
		}
	}
	int rc = fetched ? EXIT_OK : EXIT_BROKER;
	for (size_t i = 0; kv && i < n; i++)
		free(kv[i].b64);
	free(names);
	free(rk);
	free(kv);
	free(hosts);
	kh_free(&kh);
	return rc;
}

/* trust: the key given (keyfile) or the registry's, for each host. */
static int trust_one(struct known_hosts *kh, redisContext *c, const char *host, const char *keyfile)
{
	const char *names[] = { host };
	struct reg_key rk;
	const unsigned char *was = kh_find(kh, host);
	char fp[FINGERPRINT_MAX], old[FINGERPRINT_MAX] = "", err[PATH_MAX + 256];

	if (was)
		kh_fingerprint(was, old);
	if (keyfile) {
		memset(&rk, 0, sizeof(rk));
		if (kh_read_pub(keyfile, rk.pk, err, sizeof(err)) < 0)
			return cli_err("%s", err), EXIT_USAGE;
		rk.present = 1;
	} else if (reg_keys_fetch(c, names, 1, &rk) < 0) {
		return cli_err("cannot read %s's registry record: %s", host, c->errstr[0] ? c->errstr : "no answer"),
		       EXIT_BROKER;
	} else if (!rk.present) {
		cli_err("%s publishes %s host key in the registry (not registered, or a daemon older than host keys); "
			"nothing changed", host, rk.invalid ? "an invalid" : "no");
		return EXIT_USAGE;
	}
	if (kh_set(kh, host, rk.pk, err, sizeof(err)) < 0)
		return cli_err("%s", err), EXIT_USAGE;
	kh_fingerprint(rk.pk, fp);
	if (!strcmp(old, fp))
		san_printf("%s: key %s was already trusted\n", host, fp);
	else if (old[0])
		san_printf("%s: now trusting key %s (replaces %s)\n", host, fp, old);
	else
		san_printf("%s: now trusting key %s\n", host, fp);
	return EXIT_OK;
}

static int forget_one(struct known_hosts *kh, const char *host)
{
	char err[CR_ERR_MAX];

	if (kh_find(kh, host) == NULL) {
		san_printf("%s: not in %s\n", host, kh->path);
		return EXIT_OK;
	}
	if (kh_set(kh, host, NULL, err, sizeof(err)) < 0)
		return cli_err("%s", err), EXIT_USAGE;
	san_printf("%s: forgotten (its next key is recorded on first use)\n", host);
	return EXIT_OK;
}

/* hosts trust|forget HOST... [--key FILE] [--broker URL] [--config FILE] */
static int change(int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	struct known_hosts kh;
	const char *keyfile = NULL, *verb = argv[0];
	char err[CR_ERR_MAX];
	redisContext *c = NULL;
	int rc = EXIT_OK, n = 0;
	char **hosts = calloc((size_t)argc + 1, sizeof(*hosts));

	/* --key is ours; the rest goes to cli_parse (broker, config). */
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0;
	for (int i = 0; o && hosts && rest && i < argc; i++) {
		if (!strcmp(argv[i], "--key") && i + 1 < argc && !strcmp(verb, "trust"))
			keyfile = argv[++i];
		else
			rest[nrest++] = argv[i];
	}
	int first = o && hosts && rest ? cli_parse(nrest, rest, o, 0, hosts_help) : -1;
	for (int i = first; first >= 0 && i < nrest; i++) {
		if (!cr_valid_hostname(rest[i])) {
			cli_err("invalid host name '%.64s'", rest[i]);
			first = -1;
		} else {
			hosts[n++] = rest[i];
		}
	}
	if (first >= 0 && (n == 0 || (keyfile && n != 1))) {
		cli_err(keyfile ? "hosts trust --key FILE takes exactly one HOST" : "hosts %s needs one or more HOST names", verb);
		first = -1;
	}
	if (first < 0)
		rc = EXIT_USAGE;
	else if (kh_load(&kh, err, sizeof(err)) < 0)
		rc = (cli_err("%s", err), EXIT_USAGE);
	else if (!strcmp(verb, "trust") && !keyfile && (c = cli_connect(o)) == NULL)
		rc = EXIT_BROKER, kh_free(&kh);
	else {
		for (int i = 0; i < n; i++) {
			int r = !strcmp(verb, "trust") ? trust_one(&kh, c, hosts[i], keyfile) : forget_one(&kh, hosts[i]);
			rc = rc == EXIT_OK ? r : rc;
		}
		kh_free(&kh);
	}
	if (c)
		cr_rconn_free(c);
	free(hosts);
	free(rest);
	free(o);
	return rc;
}

int cmd_hosts(int argc, char **argv)
{
	struct cli_opts *o;
	redisContext *c;
	int first, rc;

	if (argc >= 2 && (!strcmp(argv[1], "trust") || !strcmp(argv[1], "forget")))
		return change(argc - 1, argv + 1);
	o = calloc(1, sizeof(*o));
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
	rc = list(o, c);
	cr_rconn_free(c);
	free(o);
	return rc;
}
