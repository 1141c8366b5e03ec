/* celeryroot schedule: list, add, remove, enable, disable and run-now. */
#include "config.h"
#include "schedule.h"

#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crerr.h"
#include "rconn.h"
#include "timeutil.h"

static void schedule_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot schedule list [--json]\n"
		"       celeryroot schedule add NAME --cron \"MIN HOUR DOM MON DOW\" [--tz ZONE] TARGET -- OPERATION...\n"
		"       celeryroot schedule remove|enable|disable|run-now NAME\n"
		"\n"
		"Schedules run one celeryroot operation on a TARGET at cron times in a time\n"
		"zone (default UTC); 'celeryroot beat' fires them.  Schedules from [schedule\n"
		"NAME] sections of the config file are listed as 'config' and can only be\n"
		"changed there; 'add' keeps a runtime schedule in Redis.  The operation after\n"
		"-- is checked exactly as the command line checks it; nothing is stored when\n"
		"anything is wrong (exit 1).  TARGET is resolved again at each run, so hosts\n"
		"that join a role later are included.\n"
		"\n"
		"Runtime schedules are signed: add, enable, disable, remove and run-now need\n"
		"your signing key ($CELERYROOT_SIGNING_KEY, else [cli] signing_key), and the\n"
		"definition is stored with your signature.  Beat fires a runtime schedule only\n"
		"when a key in its own trusted keys ([beat] trusted_keys, default\n"
		TRUSTED_KEYS_DEFAULT ") signed it and that key's operations and roles\n"
		"allow it; the tasks it sends name the schedule and its signer in their\n"
		"signed claims, and each host's audit record names both keys.  'list' says\n"
		"who signed each and whether beat fires it (unsigned, bad signature, key not\n"
		"trusted by beat, outside its key's limits).  enable, disable and run-now\n"
		"refuse a stored definition whose signature does not check out.\n"
		"\n"
		"examples:\n"
		"  celeryroot schedule add nightly-security --cron \"30 2 * * *\" --tz Europe/Berlin \\\n"
		"      --role webserver -- apt upgrade --security\n"
		"  celeryroot schedule add lists --cron \"0 */6 * * *\" --all -- apt update --max-age 3600\n"
		"  celeryroot schedule list\n"
		"  celeryroot schedule run-now nightly-security\n");
}

/* Splits "add NAME [opts] -- CMD..." and fills s; -1 after an error. */
static int parse_add(int argc, char **argv, struct cli_opts *o, struct schedule *s)
{
	static const struct option lo[] = {
		{ "cron", required_argument, 0, 'C' },  { "tz", required_argument, 0, 'z' },
		{ "all", no_argument, 0, 'a' },         { "role", required_argument, 0, 'r' },
		{ "host", required_argument, 0, 'H' },  { "one-of", required_argument, 0, 'o' },
		{ "broker", required_argument, 0, 'b' }, { "config", required_argument, 0, 'c' },
		{ "json", no_argument, 0, 'j' },        { 0, 0, 0, 0 }
	};
	int dash = -1, c;

	for (int i = 1; i < argc && dash < 0; i++)
		if (!strcmp(argv[i], "--"))
			dash = i;
	if (argc < 3 || dash < 0 || dash == argc - 1) {
		cli_err("usage: celeryroot schedule add NAME --cron \"...\" [--tz ZONE] TARGET -- OPERATION...");
		return -1;
	}
	cr_copy_str(s->tz, sizeof(s->tz), "UTC");
	s->enabled = 1;
	optind = 2;
	opterr = 0;
	while ((c = getopt_long(dash, argv, "+", lo, NULL)) != -1) {
		size_t used = strlen(s->target);
		if ((c == 'C' && !cr_copy_str(s->cron, sizeof(s->cron), optarg)) ||
		    (c == 'z' && !cr_copy_str(s->tz, sizeof(s->tz), optarg))) {
			cli_err("--%s is too long", c == 'C' ? "cron" : "tz");
			return -1;
		}
		if (c == 'a' || c == 'r' || c == 'H' || c == 'o')
			snprintf(s->target + used, sizeof(s->target) - used, "%s--%s%s%s", used ? " " : "",
				 c == 'a' ? "all" : c == 'r' ? "role" : c == 'H' ? "host" : "one-of", c == 'a' ? "" : " ",
				 c == 'a' ? "" : optarg);
		if (c == 'b')
			o->broker_url = optarg;
		if (c == 'c')
			o->config_path = optarg;
		o->json |= c == 'j';
		if (c == '?') {
			cli_err("unknown option '%s' before --; see 'celeryroot schedule --help'", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != dash || argv[1][0] == '-' || !cr_copy_str(s->name, sizeof(s->name), argv[1])) {
		cli_err("schedule add takes NAME first, then options, then -- OPERATION (unexpected '%s')",
			optind < dash ? argv[optind] : argv[1]);
		return -1;
	}
	if (s->cron[0] == '\0') {
		cli_err("schedule add needs --cron \"MIN HOUR DOM MON DOW\"");
		return -1;
	}
	s->command = json_array();
	for (int i = dash + 1; i < argc; i++)
		json_array_append_new(s->command, json_string(argv[i]));
	return 0;
}

static int find(struct schedule *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return (int)i;
	return -1;
}

/* The operator's key, loaded into o->signer (the caller wipes it). */
static int need_signer(struct cli_opts *o, const char *verb)
{
	int got = cli_load_signer(o, "; nothing was changed");

	if (got == 0)
		cli_err("schedule %s needs your signing key (beat fires only schedules a key it trusts signed): set "
			"CELERYROOT_SIGNING_KEY or [cli] signing_key (see 'celeryroot key --help'); nothing was changed",
			verb);
	return got == 1 ? EXIT_OK : EXIT_USAGE;
}

/* A stored definition may be acted on only when its signature checks out
 * with a key beat trusts, or with the operator's own: someone who can write
 * to Redis may have put it there.  signer (may be NULL) gets a copy of the
 * key beat trusts it by (id "" when none). */
static int vouched(struct cli_opts *o, struct schedule *s, struct trusted_key *signer, const char *verb)
{
	struct keyring *beat = calloc(1, sizeof(*beat));
	char err[CR_ERR_MAX];
	const struct trusted_key *k;

	if (beat && schedule_keyring(&o->cfg, beat, err, sizeof(err)) < 0) {
		free(beat);
		beat = NULL;
	}
	k = schedule_judge(s, beat, &o->signer);
	if (signer && k)
		*signer = *k;
	else if (signer)
		memset(signer, 0, sizeof(*signer));
	free(beat);
	if (s->from_config || s->verified)
		return 0;
	cli_err("schedule %s's stored definition is not one to %s: %s%s%s (anyone who can write to Redis may have "
		"put it there); remove it and add it again", s->name, verb, schedule_trust_name(s->trust),
		s->has_sig ? ", signed as " : "", s->has_sig ? s->signer : "");
	return -1;
}

/* Said at once rather than found out at the first missed run. */
static void warn_untrusted(struct cli_opts *o, struct schedule *s)
{
	struct keyring *beat = calloc(1, sizeof(*beat));
	char err[CR_ERR_MAX];

	if (beat && schedule_keyring(&o->cfg, beat, err, sizeof(err)) == 0) {
		schedule_judge(s, beat, NULL);
		if (s->trust != ST_TRUSTED)
			cli_err("note: beat will not fire schedule %s as it stands: %s (beat's trusted keys: %s)", s->name,
				schedule_trust_name(s->trust),
				o->cfg.beat_trusted_keys[0] ? o->cfg.beat_trusted_keys : TRUSTED_KEYS_DEFAULT);
	}
	free(beat);
}

static int do_add(struct cli_opts *o, redisContext *c, struct schedule *s)
{
	struct schedule *all = NULL;
	struct dest *d = NULL;
	size_t n = 0, nd = 0;
	char err[CR_ERR_MAX];
	int rc;

	if (schedule_check(s, err, sizeof(err)) < 0) {
		cli_err("%s; nothing was stored", err);
		return EXIT_USAGE;
	}
	if ((rc = need_signer(o, "add")) != EXIT_OK)
		return rc;
	if (schedules_load(NULL, cli_config(o->config_path, NULL), &all, &n) == 0 &&
	    find(all, n, s->name) >= 0) {
		schedules_free(all, n);
		cli_err("schedule %s is defined in the config file; pick another name; nothing was stored", s->name);
		return EXIT_USAGE;
	}
	schedules_free(all, n);
	/* Unknown hosts or roles are refused now, as the CLI refuses them. */
	memcpy(&o->target, s->spec, sizeof(o->target));
	if ((rc = cli_resolve(o, c, &d, &nd)) != 0)
		return rc;
	free(d);
	rc = schedule_sign(s, &o->signer, err, sizeof(err));
	sodium_memzero(&o->signer, sizeof(o->signer));
	if (rc < 0) {
		cli_err("cannot sign schedule %s: %s; nothing was stored", s->name, err);
		return EXIT_USAGE;
	}
	if ((rc = schedule_store(c, s, 0, err, sizeof(err))) < 0) {
		cli_err("%s", err);
		return cr_err_of(rc) == CR_E_EXISTS ? EXIT_USAGE : EXIT_BROKER;
	}
	warn_untrusted(o, s);
	if (o->json) {
		json_t *j = schedule_to_json(s);
		san_json_print(stdout, j, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		san_printf("schedule %s added: %s (%s) %s -- %s, signed by %s\n", s->name, s->cron, s->tz, s->target,
			   s->task.operation, s->signer);
	}
	return EXIT_OK;
}

/* remove, enable, disable: runtime schedules only. */
static int do_change(struct cli_opts *o, redisContext *c, const char *verb, const char *name)
{
	struct schedule *all = NULL;
	size_t n = 0;
	char err[CR_ERR_MAX];
	int i, rc = EXIT_OK;

	if ((rc = need_signer(o, verb)) != EXIT_OK)
		return rc;
	if (schedules_load(c, cli_config(o->config_path, NULL), &all, &n) < 0) {
		sodium_memzero(&o->signer, sizeof(o->signer));
		return EXIT_USAGE;
	}
	if ((i = find(all, n, name)) < 0) {
		cli_err("no schedule named %s (see 'celeryroot schedule list')", name);
		rc = EXIT_USAGE;
	} else if (all[i].from_config) {
		cli_err("schedule %s comes from the config file: change it there", name);
		rc = EXIT_USAGE;
	} else if (!strcmp(verb, "remove")) {
		/* Deleting needs no signature in Redis: a denial, never a run. */
		rc = schedule_delete(c, name) < 0 ? EXIT_BROKER : EXIT_OK;
	} else if (vouched(o, &all[i], NULL, verb) < 0) {
		rc = EXIT_USAGE;
	} else {
		all[i].enabled = !strcmp(verb, "enable");
		if (schedule_sign(&all[i], &o->signer, err, sizeof(err)) < 0) {
			cli_err("cannot sign schedule %s: %s", name, err);
			rc = EXIT_USAGE;
		} else if (schedule_store(c, &all[i], 1, err, sizeof(err)) < 0) {
			cli_err("%s", err);
			rc = EXIT_BROKER;
		}
	}
	sodium_memzero(&o->signer, sizeof(o->signer));
	if (rc == EXIT_OK && !o->json)
		san_printf("schedule %s %s\n", name, !strcmp(verb, "remove") ? "removed" : !strcmp(verb, "enable") ? "enabled" : "disabled");
	schedules_free(all, n);
	return rc;
}

static int do_run_now(struct cli_opts *o, redisContext *c, const char *name)
{
	struct schedule *all = NULL;
	size_t n = 0;
	int i, rc;

	if (schedules_load(c, cli_config(o->config_path, NULL), &all, &n) < 0)
		return EXIT_USAGE;
	if ((i = find(all, n, name)) < 0) {
		cli_err("no schedule named %s (see 'celeryroot schedule list')", name);
		schedules_free(all, n);
		return EXIT_USAGE;
	}
	struct trusted_key signer;
	if ((rc = need_signer(o, "run-now")) != EXIT_OK || vouched(o, &all[i], &signer, "run") < 0) {
		sodium_memzero(&o->signer, sizeof(o->signer));
		schedules_free(all, n);
		return EXIT_USAGE;
	}
	sodium_memzero(&o->signer, sizeof(o->signer));   /* loaded again to sign the tasks */
	rc = schedule_run(o, c, &all[i], cr_now_wall(), 1, signer.id[0] ? &signer : NULL, NULL, 0);
	schedules_free(all, n);
	return rc;
}

static int is_verb(const char *v)
{
	static const char *const verbs[] = { "list", "remove", "enable", "disable", "run-now" };

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(v, verbs[i]))
			return 1;
	return 0;
}

/* list, remove, enable, disable, run-now: options, then NAME unless list. */
static int do_verb(struct cli_opts *o, int argc, char **argv)
{
	const char *verb = argv[0];
	int want = strcmp(verb, "list") ? 1 : 0;
	int first = cli_parse(argc, argv, o, 0, schedule_help);
	redisContext *c;
	int rc;

	if (first < 0)
		return EXIT_USAGE;
	if (argc - first != want || (want && !valid_schedule_name(argv[first]))) {
		cli_err(want ? "schedule %s needs one schedule NAME" : "schedule %s takes no arguments", verb);
		return EXIT_USAGE;
	}
	if ((c = cli_connect(o)) == NULL)
		return EXIT_BROKER;
	if (!want)
		rc = schedule_list(o, c);
	else if (!strcmp(verb, "run-now"))
		rc = do_run_now(o, c, argv[first]);
	else
		rc = do_change(o, c, verb, argv[first]);
	cr_rconn_free(c);
	return rc;
}

int cmd_schedule(int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	struct schedule s;
	redisContext *c;
	const char *verb = argc >= 2 ? argv[1] : "";
	int rc = EXIT_USAGE;

	memset(&s, 0, sizeof(s));
	if (o == NULL)
		return EXIT_USAGE;
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		schedule_help(stdout);
		rc = EXIT_OK;
	} else if (!strcmp(verb, "add")) {
		o->timeout_s = -1;
		if (parse_add(argc - 1, argv + 1, o, &s) < 0) {
			rc = EXIT_USAGE;
		} else if ((c = cli_connect(o)) == NULL) {
			rc = EXIT_BROKER;
		} else {
			rc = do_add(o, c, &s);
			cr_rconn_free(c);
		}
	} else if (is_verb(verb)) {
		rc = do_verb(o, argc - 1, argv + 1);
	} else {
		cli_err("schedule needs list, add, remove, enable, disable or run-now (see 'celeryroot schedule --help')");
	}
	schedule_free(&s);
	sodium_memzero(o, sizeof(*o));   /* the signing key, whatever path was taken */
	free(o);
	return rc;
}
