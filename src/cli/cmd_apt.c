/* celeryroot apt: package operations, validated here before anything is
 * sent (exit 1), and again by net and by priv. */
#include "config.h"
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crerr.h"
#include "ops.h"
#include "pkgspec.h"
#include "proto.h"

#define ALLOW_DOWNGRADE "--allow-downgrade"
/* The guards' flags (issue 15), each a signed kwarg like --allow-downgrade. */
#define ALLOW_ESSENTIAL "--allow-essential"
#define ALLOW_REMOVALS "--allow-removals"
#define CONFFILE_OPT "--conffile"
enum { CONFFILE_KEEP = 1, CONFFILE_NEW = 2 };
/* The help's column for "install PKG[=VERSION]...". */
#define HELP_COL 20

/* "apt install PKG[=VERSION]... TARGET [--check] ...": from the table. */
static const char *apt_usage(const struct cr_op *op, char *buf, size_t len)
{
	const struct cr_kwarg *k;
	size_t used;

	snprintf(buf, len, "apt %s%s%s TARGET", op->name, op->args[0] ? " " : "", op->args);
	for (size_t i = 0; (k = cr_kwarg_at(i)) != NULL; i++) {
		used = strlen(buf);
		if ((op->kwargs & k->bit) && k->option && used < len)
			snprintf(buf + used, len - used, " [%s]", k->option);
	}
	return buf;
}

/* One operation's lines of help: its words, then its summary, each of
 * whose lines starts in the summary's column. */
static void help_op(FILE *f, const struct cr_op *op)
{
	char words[64];
	const char *line = op->summary, *nl;

	snprintf(words, sizeof(words), "%s%s%s", op->name, op->args[0] ? " " : "", op->args);
	if (strlen(words) > HELP_COL)
		fprintf(f, "  %s\n%*s", words, HELP_COL + 4, "");
	else
		fprintf(f, "  %-*s  ", HELP_COL, words);
	while ((nl = strchr(line, '\n')) != NULL) {
		fprintf(f, "%.*s\n%*s", (int)(nl - line), line, HELP_COL + 4, "");
		line = nl + 1;
	}
	fprintf(f, "%s\n", line);
}

static void apt_help(FILE *f)
{
	const struct cr_op *op;

	fprintf(f,
		"usage: celeryroot apt OPERATION [PKG...] TARGET [options]\n"
		"\n"
		"operations:\n");
	for (size_t i = 0; (op = cr_op_at(i)) != NULL; i++)
		if (op->req == REQ_APT)
			help_op(f, op);
	fprintf(f,
		"\n"
		"options:\n"
		"  --check        change nothing; report what would change, dependencies included\n"
		"  --max-age S    refresh the lists first unless they are younger than S seconds\n"
		"  --purge        remove configuration files too\n"
		"  --now          run even outside the hosts' maintenance windows (audited);\n"
		"                 otherwise a change outside them is deferred to the next one\n"
		"  --allow-downgrade\n"
		"                 install may go to a lower version than the installed one\n"
		"                 (PKG=VERSION); without it such a change is refused, as\n"
		"                 apt-get refuses one without --allow-downgrades (audited)\n"
		"  --full         upgrade as apt full-upgrade: may remove packages (with\n"
		"                 --allow-removals; listed in the record); without it upgrade\n"
		"                 is apt upgrade, which may install new dependencies but\n"
		"                 never removes\n"
		"  --exclude PKG  upgrade leaves PKG as it is (repeatable; listed as kept back)\n"
		"  --allow-essential\n"
		"                 the change may remove an Essential: yes or Priority: required\n"
		"                 package; without it such a plan is refused (audited)\n"
		"  --allow-removals\n"
		"                 install, remove or upgrade may remove packages not named on\n"
		"                 the command line; without it such a plan is refused and the\n"
		"                 record lists them (--check shows them first; audited)\n"
		"  --conffile keep|new\n"
		"                 install, upgrade: a conffile changed both locally and in\n"
		"                 the package stays (keep, the default: the package's is\n"
		"                 left as .dpkg-dist) or is replaced (new: the local one is\n"
		"                 left as .dpkg-old); the record lists what was left\n"
		"\n"
		"rollouts (changes only; any of these makes the change a rollout):\n"
		"  --canary N         the first N hosts (sorted by name) alone, as wave 1\n"
		"  --batch N|N%%      wave size (default: all the rest in one wave)\n"
		"  --max-failures N|N%%  failure budget (default 0); failed, expired, unreachable,\n"
		"                 timed-out and deferred-past-the-wave-timeout hosts count\n"
		"  --pause S          pause between waves\n"
		"  --wave-timeout S   a host without a result by then counts (default --timeout)\n"
		"  --detach           store the rollout and print its job id; drive it with\n"
		"                 'celeryroot job ID --resume'\n"
		"\n"
		"PKG is name[:arch][=version] (Debian policy names); at most %d per request.\n"
		"TARGET, --json, --timeout and --no-wait work as for 'celeryroot ping'.\n"
		"A failed install or upgrade is rolled back; the record says what was restored.\n"
		"Packages from archives apt cannot authenticate are refused unless the host's\n"
		"config says [daemon] allow_unauthenticated = true.\n"
		"A held package (apt hold) is left alone by upgrade; a change that would\n"
		"change or remove it is refused until it is unheld (apt unhold).\n"
		"\n"
		"examples:\n"
		"  celeryroot apt install nginx --role webserver\n"
		"  celeryroot apt install openssl=3.0.11-1~deb12u2 --all --check\n"
		"  celeryroot apt install nginx=1.22.1-9 --host web01 --allow-downgrade\n"
		"  celeryroot apt remove --purge telnet --all\n"
		"  celeryroot apt upgrade --security --all --max-age 3600\n"
		"  celeryroot apt upgrade nginx --host web01 --conffile new\n"
		"  celeryroot apt query nginx openssl --all\n"
		"  celeryroot apt list --role webserver --upgradable\n"
		"  celeryroot apt hold openssl --all\n", PKG_SPECS_MAX);
}

static const struct cr_op *apt_lookup(const char *name)
{
	const struct cr_op *op = cr_op_by_name(name);
	return op && op->req == REQ_APT ? op : NULL;
}

/* The positional arguments are the package specs: each one is checked. */
static json_t *apt_pkgs(const struct cr_op *op, int argc, char **argv, int first)
{
	json_t *pkgs = json_array();
	char err[CR_ERR_MAX], usage[256], why[64];

	if (argc - first > PKG_SPECS_MAX) {
		cli_err("too many packages (%d): at most %d per request; nothing was sent", argc - first, PKG_SPECS_MAX);
		json_decref(pkgs);
		return NULL;
	}
	for (int i = first; i < argc; i++) {
		struct pkgspec p;
		if (cr_pkgspec_parse(argv[i], &p, err, sizeof(err)) < 0) {
			cli_err("%s; nothing was sent", err);
			json_decref(pkgs);
			return NULL;
		}
		json_array_append_new(pkgs, json_string(argv[i]));
	}
	/* Too few: the usage says what is missing; too many: the rule's words. */
	if (cr_op_pkgs_fit(op, json_array_size(pkgs), why, sizeof(why)) < 0) {
		if (json_array_size(pkgs) < (size_t)op->min_pkgs)
			cli_err("usage: celeryroot %s", apt_usage(op, usage, sizeof(usage)));
		else
			cli_err("apt %s %s; usage: celeryroot %s", op->name, why, apt_usage(op, usage, sizeof(usage)));
		json_decref(pkgs);
		return NULL;
	}
	return pkgs;
}

/* The kwargs the operation's row names.  What is sent when not given is
 * part of what is signed (and of signed schedules): it stays as it was. */
static json_t *apt_kwargs(const struct cr_op *op, const struct cli_opts *o, int allow_downgrade)
{
	json_t *kw = json_object();

	/* Part of the signed kwargs: priv checks it against what was signed. */
	if ((op->kwargs & CR_KW_ALLOW_DOWNGRADE) && allow_downgrade)
		json_object_set_new(kw, "allow_downgrade", json_true());
	if (op->kwargs & CR_KW_UPGRADABLE)
		json_object_set_new(kw, "upgradable", json_boolean(o->upgradable));
	if (op->kwargs & CR_KW_SECURITY)
		json_object_set_new(kw, "security", json_boolean(o->security));
	if (op->kwargs & CR_KW_CHECK)
		json_object_set_new(kw, "check", json_boolean(o->check));
	if (op->kwargs & CR_KW_PURGE)
		json_object_set_new(kw, "purge", json_boolean(o->purge));
	if ((op->kwargs & CR_KW_NOW) && o->now)
		json_object_set_new(kw, "now", json_true());
	if ((op->kwargs & CR_KW_MAX_AGE) && o->max_age_s >= 0)
		/* Whole seconds: a signed task carries no real numbers (canon.h). */
		json_object_set_new(kw, "max_age", json_integer((json_int_t)llround(o->max_age_s)));
	return kw;
}

static int apt_options_fit(const struct cr_op *op, const struct cli_opts *o)
{
	unsigned given = (o->check ? CR_KW_CHECK : 0) | (o->purge ? CR_KW_PURGE : 0) |
			 (o->security ? CR_KW_SECURITY : 0) | (o->upgradable ? CR_KW_UPGRADABLE : 0) |
			 (o->max_age_s >= 0 ? CR_KW_MAX_AGE : 0) | (o->now ? CR_KW_NOW : 0);
	char usage[256];

	if (given & ~op->kwargs) {
		cli_err("an option does not apply to 'apt %s'; usage: celeryroot %s", op->name,
			apt_usage(op, usage, sizeof(usage)));
		return 0;
	}
	return 1;
}

/* A flag that is apt's alone (--allow-downgrade, the guards' flags):
 * taken out of argv (in place, up to a "--") before the common options
 * are parsed.  Returns 1 when given. */
static int take_flag(int *argc, char **argv, const char *flag)
{
	int found = 0, out = 0;

	for (int i = 0; i < *argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], flag))
			found = 1;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	return found;
}

/* --conffile keep|new (or --conffile=...) is apt's alone too, taken out of
 * argv the same way.  0 when not given, CONFFILE_KEEP or CONFFILE_NEW, -1
 * after saying what is wrong. */
static int take_conffile(int *argc, char **argv)
{
	int choice = 0, out = 0;

	for (int i = 0; i < *argc; i++) {
		const char *v = NULL;
		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], CONFFILE_OPT))
			v = i + 1 < *argc ? argv[++i] : "";
		else if (!strncmp(argv[i], CONFFILE_OPT "=", sizeof(CONFFILE_OPT)))
			v = argv[i] + sizeof(CONFFILE_OPT);
		else
			argv[out++] = argv[i];
		if (v != NULL && strcmp(v, "keep") != 0 && strcmp(v, "new") != 0) {
			cli_err("--conffile takes keep (the local file stays, the default) or new (the package's replaces it)");
			return -1;
		}
		if (v != NULL)
			choice = !strcmp(v, "new") ? CONFFILE_NEW : CONFFILE_KEEP;
	}
	*argc = out;
	return choice;
}

/* The guards' flags into the kwargs (signed with them); 0, or -1 (said)
 * when op does not take one that was given. */
static int apt_guards(const struct cr_op *op, int essential, int removals, json_t *kw)
{
	char usage[256];

	if ((essential && !(op->kwargs & CR_KW_ALLOW_ESSENTIAL)) || (removals && !(op->kwargs & CR_KW_ALLOW_REMOVALS))) {
		cli_err("%s does not apply to 'apt %s'; usage: celeryroot %s",
			essential && !(op->kwargs & CR_KW_ALLOW_ESSENTIAL) ? ALLOW_ESSENTIAL : ALLOW_REMOVALS, op->name,
			apt_usage(op, usage, sizeof(usage)));
		return -1;
	}
	if (essential)
		json_object_set_new(kw, "allow_essential", json_true());
	if (removals)
		json_object_set_new(kw, "allow_removals", json_true());
	return 0;
}

/* hold and unhold name packages, not versions: said before anything is sent. */
static int names_only(const struct cr_op *op, json_t *pkgs)
{
	size_t i;
	json_t *e;

	if (!(op->flags & CR_OP_CHANGES) || (op->flags & CR_OP_PACKAGES) || op->min_pkgs == 0)
		return 0;
	json_array_foreach(pkgs, i, e) {
		if (strchr(json_string_value(e), '=') != NULL) {
			cli_err("apt %s takes package names, not versions ('%s'); nothing was sent", op->name,
				json_string_value(e));
			return -1;
		}
	}
	return 0;
}

/* Parses "apt OP [PKG...] [options]" (argv[0] is "apt") into t; with
 * CLI_TARGET in flags a TARGET is required, without it none is allowed. */
int apt_build(int argc, char **argv, struct cli_opts *o, int flags, struct cli_task *t)
{
	int downgrade = take_flag(&argc, argv, ALLOW_DOWNGRADE);
	struct apt_upgrade_opts up;
	int essential = take_flag(&argc, argv, ALLOW_ESSENTIAL), removals = take_flag(&argc, argv, ALLOW_REMOVALS);
	int conffile = take_conffile(&argc, argv);
	const struct cr_op *op = argc >= 2 ? apt_lookup(argv[1]) : NULL;
	char names[128], usage[256];
	json_t *pkgs;
	int first;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		apt_help(stdout);
		exit(EXIT_OK);
	}
	if (apt_take_upgrade_opts(&argc, argv, &up) < 0 || conffile < 0)
		return -1;
	if (op == NULL) {
		cr_op_names(names, sizeof(names), REQ_APT, 0, ", ", " or ");
		cli_err("apt needs an operation: %s (see 'celeryroot apt --help')", names);
		return -1;
	}
	first = cli_parse(argc - 1, argv + 1, o, flags | CLI_APT, apt_help);
	if (first < 0 || !apt_options_fit(op, o) || (pkgs = apt_pkgs(op, argc - 1, argv + 1, first)) == NULL)
		return -1;
	if (downgrade && !(op->kwargs & CR_KW_ALLOW_DOWNGRADE)) {
		cli_err("--allow-downgrade applies to 'apt install' only; usage: celeryroot %s",
			apt_usage(op, usage, sizeof(usage)));
		json_decref(pkgs);
		return -1;
	}
	if (conffile && !(op->kwargs & CR_KW_CONFFILE_NEW)) {
		cli_err("--conffile applies to 'apt install' and 'apt upgrade' only; usage: celeryroot %s",
			apt_usage(op, usage, sizeof(usage)));
		json_decref(pkgs);
		return -1;
	}
	if (o->ro.given && !(op->flags & CR_OP_CHANGES)) {
		cli_err("rollout options (--canary, --batch, --max-failures, --pause, --wave-timeout, --detach) apply "
			"to changes only, not to 'apt %s'", op->name);
		json_decref(pkgs);
		return -1;
	}
	snprintf(t->operation, sizeof(t->operation), "apt.%s", op->name);
	snprintf(t->task, sizeof(t->task), "%s", op->task);
	if (names_only(op, pkgs) < 0) {
		json_decref(pkgs);
		return -1;
	}
	t->kwargs = apt_kwargs(op, o, downgrade);
	if (apt_upgrade_kwargs(op, &up, t->kwargs) < 0 || apt_guards(op, essential, removals, t->kwargs) < 0) {
		json_decref(pkgs);
		json_decref(t->kwargs);
		t->kwargs = NULL;
		return -1;
	}
	/* Part of the signed kwargs, like allow_downgrade. */
	if (conffile == CONFFILE_NEW)
		json_object_set_new(t->kwargs, "conffile_new", json_true());
	t->args = json_pack("[o]", pkgs);
	t->ro = o->ro;
	return 0;
}

int cmd_apt(int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	struct cli_task t = { 0 };
	int rc;

	if (o == NULL)
		return EXIT_USAGE;
	rc = apt_build(argc, argv, o, CLI_TARGET, &t) < 0 ? EXIT_USAGE : cli_send_task(o, &t);
	cli_task_free(&t);
	free(o);
	return rc;
}
