/* Task arguments into requests (see taskreq.h).  The apt tasks take args
 * [[PKG...]] (or []) and a few keyword arguments per operation. */
#include "config.h"
#include "taskreq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pkgspec.h"

/* Which operations name packages (1: at least one, 0: none, -1: either). */
enum { PKGS_NONE = 0, PKGS_SOME = 1, PKGS_ANY = -1 };

struct task_spec {
	const char *name;
	uint8_t type;
	int pkgs;
	const char *const *bools;
	int max_age;
};

static const char *const b_none[] = { NULL };
/* now: run even outside the host's maintenance windows (audited);
 * allow_downgrade: a version pin below the installed one may downgrade. */
static const char *const b_install[] = { "check", "now", "allow_downgrade", NULL };
static const char *const b_list[] = { "upgradable", "security", NULL };
static const char *const b_remove[] = { "check", "purge", "now", NULL };
static const char *const b_upgrade[] = { "check", "security", "now", NULL };

static const struct task_spec specs[] = {
	{ "celeryroot.ping", REQ_PING, PKGS_NONE, b_none, 0 },
	{ "celeryroot.facts", REQ_FACTS, PKGS_NONE, b_none, 0 },
	{ "celeryroot.apt.query", REQ_APT, PKGS_SOME, b_none, 0 },
	{ "celeryroot.apt.list", REQ_APT, PKGS_NONE, b_list, 0 },
	{ "celeryroot.apt.update", REQ_APT, PKGS_NONE, b_none, 1 },
	{ "celeryroot.apt.install", REQ_APT, PKGS_SOME, b_install, 1 },
	{ "celeryroot.apt.remove", REQ_APT, PKGS_SOME, b_remove, 0 },
	{ "celeryroot.apt.upgrade", REQ_APT, PKGS_ANY, b_upgrade, 1 },
	{ "celeryroot.apt.autoremove", REQ_APT, PKGS_NONE, b_remove, 0 },
	{ "celeryroot.apt.clean", REQ_APT, PKGS_NONE, b_none, 0 },
};

static const struct task_spec *find(const char *task)
{
	for (size_t i = 0; task && i < sizeof(specs) / sizeof(specs[0]); i++)
		if (!strcmp(specs[i].name, task))
			return &specs[i];
	return NULL;
}

int taskreq_type(const char *task)
{
	const struct task_spec *t = find(task);
	return t ? t->type : 0;
}

static int check_args(const struct task_spec *t, json_t *args, struct proto_req *r, char *err, size_t errlen)
{
	json_t *pkgs = json_array_size(args) ? json_array_get(args, 0) : NULL;

	if (t->type != REQ_APT) {
		if (!json_is_array(args) || json_array_size(args) != 0)
			return snprintf(err, errlen, "%s takes no positional arguments", t->name), -1;
		return 0;
	}
	if (!json_is_array(args) || json_array_size(args) > 1 || (pkgs && !json_is_array(pkgs)))
		return snprintf(err, errlen, "%s takes one positional argument: a list of package specs", t->name), -1;
	if (pkgs && pkgspec_parse_list(pkgs, r->pkgs, PKG_SPECS_MAX, &r->npkgs, err, errlen) < 0)
		return -1;
	if ((t->pkgs == PKGS_SOME && r->npkgs == 0) || (t->pkgs == PKGS_NONE && r->npkgs > 0))
		return snprintf(err, errlen, t->pkgs == PKGS_SOME ? "%s needs at least one package" : "%s takes no packages",
				t->name), -1;
	return 0;
}

static int kwarg_ok(const struct task_spec *t, const char *key, json_t *v)
{
	double n = json_number_value(v);

	if (t->type == REQ_PING)
		return !strcmp(key, "hold") && json_is_number(v) && isfinite(n) && n >= 0 && n <= PING_HOLD_MAX;
	if (t->max_age && !strcmp(key, "max_age"))
		return json_is_number(v) && isfinite(n) && n >= 0 && n <= 315360000;
	for (size_t i = 0; t->bools[i]; i++)
		if (!strcmp(key, t->bools[i]) && json_is_boolean(v))
			return 1;
	return 0;
}

static int check_kwargs(const struct task_spec *t, json_t *kwargs, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(kwargs))
		return snprintf(err, errlen, "%s: keyword arguments must be an object", t->name), -1;
	json_object_foreach(kwargs, key, v) {
		if (kwarg_ok(t, key, v))
			continue;
		if (t->type == REQ_PING)
			return snprintf(err, errlen, "celeryroot.ping accepts only hold=<0..%.0f seconds>", PING_HOLD_MAX), -1;
		if (t->type == REQ_FACTS)
			return snprintf(err, errlen, "celeryroot.facts takes no keyword arguments"), -1;
		return snprintf(err, errlen, "%s: keyword argument '%.40s' is unknown or of the wrong type", t->name, key), -1;
	}
	return 0;
}

int taskreq_build(const char *task, json_t *args, json_t *kwargs, struct proto_req *r, char *err,
		  size_t errlen)
{
	const struct task_spec *t = find(task);
	json_t *max_age = json_object_get(kwargs, "max_age");

	r->npkgs = 0;
	if (t == NULL)
		return snprintf(err, errlen, "unknown task %.128s", task ? task : "(none)"), -1;
	if (check_args(t, args, r, err, errlen) < 0 || check_kwargs(t, kwargs, err, errlen) < 0)
		return -1;
	r->type = t->type;
	if (t->type != REQ_APT)
		return 0;
	copy_str(r->op, sizeof(r->op), t->name + strlen("celeryroot.apt."));
	r->upgradable = json_is_true(json_object_get(kwargs, "upgradable"));
	r->security = json_is_true(json_object_get(kwargs, "security"));
	r->check = json_is_true(json_object_get(kwargs, "check"));
	r->purge = json_is_true(json_object_get(kwargs, "purge"));
	r->now = json_is_true(json_object_get(kwargs, "now"));
	r->allow_downgrade = json_is_true(json_object_get(kwargs, "allow_downgrade"));
	r->max_age = max_age ? json_number_value(max_age) : -1;
	return 0;
}

static int same_pkgs(const struct proto_req *a, const struct proto_req *b)
{
	if (a->npkgs != b->npkgs)
		return 0;
	for (size_t i = 0; i < a->npkgs && i < PKG_SPECS_MAX; i++)
		if (strcmp(a->pkgs[i].name, b->pkgs[i].name) || strcmp(a->pkgs[i].arch, b->pkgs[i].arch) ||
		    strcmp(a->pkgs[i].version, b->pkgs[i].version))
			return 0;
	return 1;
}

int taskreq_same(const struct proto_req *a, const struct proto_req *b)
{
	if (a->type != b->type)
		return 0;
	if (a->type != REQ_APT)
		return 1;
	return !strcmp(a->op, b->op) && same_pkgs(a, b) && a->upgradable == b->upgradable &&
	       a->security == b->security && a->check == b->check && a->purge == b->purge && a->now == b->now &&
	       a->allow_downgrade == b->allow_downgrade && a->max_age == b->max_age;
}
