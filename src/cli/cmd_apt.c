/* celeryroot apt: package operations, validated here before anything is
 * sent (exit 1), and again by net and by priv. */
#include "config.h"
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pkgspec.h"

/* The options each operation accepts. */
enum { O_CHECK = 1, O_PURGE = 2, O_SECURITY = 4, O_UPGRADABLE = 8, O_MAX_AGE = 16, O_NOW = 32, O_DOWNGRADE = 64 };

#define ALLOW_DOWNGRADE "--allow-downgrade"

struct apt_op {
	const char *name;
	int takes_pkgs;     /* 0 none, 1 optional, 2 at least one */
	int opts;
	const char *usage;
};

static const struct apt_op apt_ops[] = {
	{ "install", 2, O_CHECK | O_MAX_AGE | O_NOW | O_DOWNGRADE,
	  "apt install PKG[=VERSION]... TARGET [--check] [--max-age S] [--now] [--allow-downgrade]" },
	{ "remove", 2, O_CHECK | O_PURGE | O_NOW, "apt remove PKG... TARGET [--purge] [--check] [--now]" },
	{ "query", 2, 0, "apt query PKG... TARGET" },
	{ "list", 0, O_SECURITY | O_UPGRADABLE, "apt list TARGET [--upgradable] [--security]" },
	{ "update", 0, O_MAX_AGE, "apt update TARGET [--max-age S]" },
	{ "upgrade", 1, O_CHECK | O_SECURITY | O_MAX_AGE | O_NOW, "apt upgrade [PKG...] TARGET [--security] [--check] [--now]" },
	{ "autoremove", 0, O_CHECK | O_PURGE | O_NOW, "apt autoremove TARGET [--purge] [--check] [--now]" },
	{ "clean", 0, 0, "apt clean TARGET" },
};

static void apt_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot apt OPERATION [PKG...] TARGET [options]\n"
		"\n"
		"operations:\n"
		"  install PKG[=VER]...  make sure the packages are installed (at VER when given);\n"
		"                        already there: unchanged, answered from dpkg status\n"
		"  remove PKG...         remove them (--purge: their configuration too)\n"
		"  upgrade [PKG...]      upgrade these, or everything upgradable (--security:\n"
		"                        only to versions from security origins)\n"
		"  autoremove            remove dependencies nothing needs any more\n"
		"  clean                 empty the downloaded-archives cache\n"
		"  query PKG...          installed and candidate version, upgradable, origin:\n"
		"                        a host x package matrix\n"
		"  list                  installed packages (--upgradable: only those with a\n"
		"                        newer candidate; --security: only security upgrades)\n"
		"  update                refresh the APT lists\n"
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
		"\n"
		"PKG is name[:arch][=version] (Debian policy names); at most %d per request.\n"
		"TARGET, --json, --timeout and --no-wait work as for 'celeryroot ping'.\n"
		"A failed install or upgrade is rolled back; the record says what was restored.\n"
		"Packages from archives apt cannot authenticate are refused unless the host's\n"
		"config says [daemon] allow_unauthenticated = true.\n"
		"\n"
		"examples:\n"
		"  celeryroot apt install nginx --role webserver\n"
		"  celeryroot apt install openssl=3.0.11-1~deb12u2 --all --check\n"
		"  celeryroot apt install nginx=1.22.1-9 --host web01 --allow-downgrade\n"
		"  celeryroot apt remove --purge telnet --all\n"
		"  celeryroot apt upgrade --security --all --max-age 3600\n"
		"  celeryroot apt query nginx openssl --all\n"
		"  celeryroot apt list --role webserver --upgradable\n", PKG_SPECS_MAX);
}

static const struct apt_op *apt_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(apt_ops) / sizeof(apt_ops[0]); i++)
		if (strcmp(apt_ops[i].name, name) == 0)
			return &apt_ops[i];
	return NULL;
}

/* The positional arguments are the package specs: each one is checked. */
static json_t *apt_pkgs(const struct apt_op *op, int argc, char **argv, int first)
{
	json_t *pkgs = json_array();
	char err[512];

	if (argc - first > PKG_SPECS_MAX) {
		cli_err("too many packages (%d): at most %d per request; nothing was sent", argc - first, PKG_SPECS_MAX);
		json_decref(pkgs);
		return NULL;
	}
	for (int i = first; i < argc; i++) {
		struct pkgspec p;
		if (pkgspec_parse(argv[i], &p, err, sizeof(err)) < 0) {
			cli_err("%s; nothing was sent", err);
			json_decref(pkgs);
			return NULL;
		}
		json_array_append_new(pkgs, json_string(argv[i]));
	}
	if (op->takes_pkgs == 2 && json_array_size(pkgs) == 0) {
		cli_err("usage: celeryroot %s", op->usage);
		json_decref(pkgs);
		return NULL;
	}
	if (op->takes_pkgs == 0 && json_array_size(pkgs) > 0) {
		cli_err("apt %s takes no packages; usage: celeryroot %s", op->name, op->usage);
		json_decref(pkgs);
		return NULL;
	}
	return pkgs;
}

static json_t *apt_kwargs(const struct apt_op *op, const struct cli_opts *o, int allow_downgrade)
{
	json_t *kw = json_object();

	/* Part of the signed kwargs: priv checks it against what was signed. */
	if ((op->opts & O_DOWNGRADE) && allow_downgrade)
		json_object_set_new(kw, "allow_downgrade", json_true());
	if (op->opts & O_UPGRADABLE)
		json_object_set_new(kw, "upgradable", json_boolean(o->upgradable));
	if (op->opts & O_SECURITY)
		json_object_set_new(kw, "security", json_boolean(o->security));
	if (op->opts & O_CHECK)
		json_object_set_new(kw, "check", json_boolean(o->check));
	if (op->opts & O_PURGE)
		json_object_set_new(kw, "purge", json_boolean(o->purge));
	if ((op->opts & O_NOW) && o->now)
		json_object_set_new(kw, "now", json_true());
	if ((op->opts & O_MAX_AGE) && o->max_age_s >= 0)
		/* Whole seconds: a signed task carries no real numbers (canon.h). */
		json_object_set_new(kw, "max_age", json_integer((json_int_t)llround(o->max_age_s)));
	return kw;
}

static int apt_options_fit(const struct apt_op *op, const struct cli_opts *o)
{
	int given = (o->check ? O_CHECK : 0) | (o->purge ? O_PURGE : 0) | (o->security ? O_SECURITY : 0) |
		    (o->upgradable ? O_UPGRADABLE : 0) | (o->max_age_s >= 0 ? O_MAX_AGE : 0) | (o->now ? O_NOW : 0);

	if (given & ~op->opts) {
		cli_err("an option does not apply to 'apt %s'; usage: celeryroot %s", op->name, op->usage);
		return 0;
	}
	return 1;
}

/* --allow-downgrade is apt's alone: taken out of argv (in place, up to a
 * "--") before the common options are parsed.  Returns 1 when given. */
static int take_allow_downgrade(int *argc, char **argv)
{
	int found = 0, out = 0;

	for (int i = 0; i < *argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], ALLOW_DOWNGRADE))
			found = 1;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	return found;
}

/* Parses "apt OP [PKG...] [options]" (argv[0] is "apt") into t; with
 * CLI_TARGET in flags a TARGET is required, without it none is allowed. */
int apt_build(int argc, char **argv, struct cli_opts *o, int flags, struct cli_task *t)
{
	int downgrade = take_allow_downgrade(&argc, argv);
	const struct apt_op *op = argc >= 2 ? apt_lookup(argv[1]) : NULL;
	json_t *pkgs;
	int first;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		apt_help(stdout);
		exit(EXIT_OK);
	}
	if (op == NULL) {
		cli_err("apt needs an operation: install, remove, upgrade, autoremove, clean, query, list or update "
			"(see 'celeryroot apt --help')");
		return -1;
	}
	first = cli_parse(argc - 1, argv + 1, o, flags | CLI_APT, apt_help);
	if (first < 0 || !apt_options_fit(op, o) || (pkgs = apt_pkgs(op, argc - 1, argv + 1, first)) == NULL)
		return -1;
	if (downgrade && !(op->opts & O_DOWNGRADE)) {
		cli_err("--allow-downgrade applies to 'apt install' only; usage: celeryroot %s", op->usage);
		json_decref(pkgs);
		return -1;
	}
	snprintf(t->operation, sizeof(t->operation), "apt.%s", op->name);
	snprintf(t->task, sizeof(t->task), "celeryroot.apt.%s", op->name);
	t->kwargs = apt_kwargs(op, o, downgrade);
	t->args = json_pack("[o]", pkgs);
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
