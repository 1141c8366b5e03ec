/* The celeryroot.apt.* tasks: args [[PKG...]] (or []), keyword arguments
 * per operation.  Every package spec is validated here, so that a bad one
 * never reaches priv (which checks everything again anyway). */
#include "config.h"
#include "net_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pkgspec.h"
#include "proto.h"

/* Which operations name packages (1: at least one, 0: none, -1: either). */
enum { PKGS_NONE = 0, PKGS_SOME = 1, PKGS_ANY = -1 };

struct apt_task {
	const char *name;
	int pkgs;
	const char *const *bools;
	int max_age;
};

static const char *const b_none[] = { NULL };
static const char *const b_check[] = { "check", NULL };
static const char *const b_list[] = { "upgradable", "security", NULL };
static const char *const b_remove[] = { "check", "purge", NULL };
static const char *const b_upgrade[] = { "check", "security", NULL };

static const struct apt_task apt_tasks[] = {
	{ "celeryroot.apt.query", PKGS_SOME, b_none, 0 },
	{ "celeryroot.apt.list", PKGS_NONE, b_list, 0 },
	{ "celeryroot.apt.update", PKGS_NONE, b_none, 1 },
	{ "celeryroot.apt.install", PKGS_SOME, b_check, 1 },
	{ "celeryroot.apt.remove", PKGS_SOME, b_remove, 0 },
	{ "celeryroot.apt.upgrade", PKGS_ANY, b_upgrade, 1 },
	{ "celeryroot.apt.autoremove", PKGS_NONE, b_remove, 0 },
	{ "celeryroot.apt.clean", PKGS_NONE, b_none, 0 },
};

#define N_APT (sizeof(apt_tasks) / sizeof(apt_tasks[0]))

static const struct apt_task *apt_find(const char *name)
{
	for (size_t i = 0; i < N_APT; i++)
		if (strcmp(apt_tasks[i].name, name) == 0)
			return &apt_tasks[i];
	return NULL;
}

static json_t *pkgs_arg(const struct celery_msg *m)
{
	return json_array_size(m->args) == 0 ? NULL : json_array_get(m->args, 0);
}

static int check_args(const struct celery_msg *m, int need, char *err, size_t errlen)
{
	json_t *pkgs = pkgs_arg(m);
	struct pkgspec specs[PKG_SPECS_MAX];
	size_t n = 0;

	if (!json_is_array(m->args) || json_array_size(m->args) > 1 || (pkgs && !json_is_array(pkgs))) {
		snprintf(err, errlen, "%s takes one positional argument: a list of package specs", m->task);
		return -1;
	}
	if (pkgs && pkgspec_parse_list(pkgs, specs, PKG_SPECS_MAX, &n, err, errlen) < 0)
		return -1;
	if ((need == PKGS_SOME && n == 0) || (need == PKGS_NONE && n > 0)) {
		snprintf(err, errlen, need == PKGS_SOME ? "%s needs at least one package" : "%s takes no packages",
			 m->task);
		return -1;
	}
	return 0;
}

/* Only the operation's keyword arguments, each of its kind. */
static int check_kwargs(const struct celery_msg *m, const struct apt_task *t, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(m->kwargs, key, v) {
		int ok = 0;
		for (size_t i = 0; t->bools[i]; i++)
			ok |= !strcmp(key, t->bools[i]) && json_is_boolean(v);
		if (t->max_age && !strcmp(key, "max_age"))
			ok = json_is_number(v) && isfinite(json_number_value(v)) && json_number_value(v) >= 0 &&
			     json_number_value(v) <= 315360000;
		if (!ok) {
			snprintf(err, errlen, "%s: keyword argument '%.40s' is unknown or of the wrong type", m->task, key);
			return -1;
		}
	}
	return 0;
}

static int apt_check(const struct celery_msg *m, char *err, size_t errlen)
{
	const struct apt_task *t = apt_find(m->task);

	if (t == NULL)
		return snprintf(err, errlen, "unknown apt task"), -1;
	return check_args(m, t->pkgs, err, errlen) < 0 ? -1 : check_kwargs(m, t, err, errlen);
}

static void apt_fill(const struct celery_msg *m, struct proto_req *r)
{
	char err[256];
	json_t *max_age = json_object_get(m->kwargs, "max_age");

	copy_str(r->op, sizeof(r->op), m->task + strlen("celeryroot.apt."));
	if (pkgs_arg(m) && pkgspec_parse_list(pkgs_arg(m), r->pkgs, PKG_SPECS_MAX, &r->npkgs, err, sizeof(err)) < 0)
		r->npkgs = 0;
	r->upgradable = json_is_true(json_object_get(m->kwargs, "upgradable"));
	r->security = json_is_true(json_object_get(m->kwargs, "security"));
	r->check = json_is_true(json_object_get(m->kwargs, "check"));
	r->purge = json_is_true(json_object_get(m->kwargs, "purge"));
	r->max_age = max_age ? json_number_value(max_age) : -1;
}

static json_t *apt_data(struct net_state *st, const struct inflight *f, json_t *reply)
{
	json_t *d = json_deep_copy(reply);
	(void)f;
	if (d)
		json_object_set_new(d, "host", json_string(st->cfg->hostname));
	return d;
}

static struct task_def apt_defs[N_APT];

const struct task_def *tasks_apt_lookup(const char *name)
{
	for (size_t i = 0; i < N_APT; i++) {
		if (strcmp(apt_tasks[i].name, name) != 0)
			continue;
		apt_defs[i] = (struct task_def){ apt_tasks[i].name, REQ_APT, apt_check, apt_fill, apt_data };
		return &apt_defs[i];
	}
	return NULL;
}
