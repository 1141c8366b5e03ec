/* upgrade's own options, --full and --exclude PKG (repeatable), taken out
 * of argv before the common options are parsed (as --allow-downgrade is),
 * checked here (exit 1, nothing sent) and sent as the signed kwargs "full"
 * and "exclude" (a list of names, checked again by net and by priv). */
#include "config.h"
#include "cli.h"

#include <string.h>

#include "crerr.h"
#include "ops.h"
#include "pkgspec.h"
#include "proto.h"

_Static_assert(sizeof(((struct apt_upgrade_opts *)0)->exclude) / sizeof(const char *) == CR_EXCLUDE_MAX,
	       "cli.h's exclude array is proto.h's CR_EXCLUDE_MAX");

static int add_exclude(struct apt_upgrade_opts *u, const char *name)
{
	struct pkgspec p;
	char err[CR_ERR_MAX];

	if (cr_pkgspec_parse(name, &p, err, sizeof(err)) < 0) {
		cli_err("--exclude: %s; nothing was sent", err);
		return -1;
	}
	if (p.version[0]) {
		cli_err("--exclude takes a package name (name[:arch]), not a version: '%s'; nothing was sent", name);
		return -1;
	}
	for (size_t i = 0; i < u->nexclude; i++)
		if (!strcmp(u->exclude[i], name))
			return 0;   /* said twice: once is enough */
	if (u->nexclude >= CR_EXCLUDE_MAX) {
		cli_err("--exclude: at most %d packages; nothing was sent", CR_EXCLUDE_MAX);
		return -1;
	}
	u->exclude[u->nexclude++] = name;
	return 0;
}

int apt_take_upgrade_opts(int *argc, char **argv, struct apt_upgrade_opts *u)
{
	int out = 0;

	memset(u, 0, sizeof(*u));
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "--full")) {
			u->full = u->given = 1;
		} else if (!strcmp(a, "--exclude") || !strncmp(a, "--exclude=", 10)) {
			const char *name = a[9] == '=' ? a + 10 : i + 1 < *argc ? argv[++i] : NULL;
			if (name == NULL) {
				cli_err("--exclude needs a package name; see 'celeryroot apt --help'");
				return -1;
			}
			if (add_exclude(u, name) < 0)
				return -1;
			u->given = 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	return 0;
}

int apt_upgrade_kwargs(const struct cr_op *op, const struct apt_upgrade_opts *u, json_t *kw)
{
	if (u->given && !(op->kwargs & CR_KW_FULL)) {
		cli_err("--full and --exclude apply to 'apt upgrade' only; see 'celeryroot apt --help'");
		return -1;
	}
	/* Only when given: what an upgrade without them sends (and signs) stays as it was. */
	if (u->full)
		json_object_set_new(kw, "full", json_true());
	if (u->nexclude > 0) {
		json_t *ex = json_array();
		for (size_t i = 0; i < u->nexclude; i++)
			json_array_append_new(ex, json_string(u->exclude[i]));
		json_object_set_new(kw, "exclude", ex);
	}
	return 0;
}
