/* Task arguments into requests (see taskreq.h).  The apt tasks take args
 * [[PKG...]] (or []) and the keyword arguments their row of the operation
 * table (ops.c) names. */
#include "config.h"
#include "crerr.h"
#include "taskreq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "names.h"
#include "ops.h"
#include "pkgspec.h"

/* The longest max_age: ten years of seconds. */
#define MAX_AGE_MAX 315360000

static int check_args(const struct cr_op *t, json_t *args, struct proto_req *r, char *err, size_t errlen)
{
	json_t *pkgs = json_array_size(args) ? json_array_get(args, 0) : NULL;
	char why[CR_ERR_MAX];

	if (t->req != REQ_APT) {
		if (!json_is_array(args) || json_array_size(args) != 0)
			return snprintf(err, errlen, "%s takes no positional arguments", t->task), -1;
		return 0;
	}
	if (!json_is_array(args) || json_array_size(args) > 1 || (pkgs && !json_is_array(pkgs)))
		return snprintf(err, errlen, "%s takes one positional argument: a list of package specs", t->task), -1;
	if (pkgs && cr_pkgspec_parse_list(pkgs, r->pkgs, PKG_SPECS_MAX, &r->npkgs, err, errlen) < 0)
		return -1;
	if (cr_op_pkgs_fit(t, r->npkgs, why, sizeof(why)) < 0)
		return snprintf(err, errlen, "%s %s", t->task, why), -1;
	return 0;
}

/* The kwargs the operation's row names, booleans or numbers in bounds. */
static int kwarg_ok(const struct cr_op *t, const char *key, json_t *v)
{
	const struct cr_kwarg *k = cr_kwarg_by_name(key);
	double n = json_number_value(v);

	if (k == NULL || !(t->kwargs & k->bit))
		return 0;
	/* The one list: package names, bounded (proto.h CR_EXCLUDE_MAX). */
	if (k->bit == CR_KW_EXCLUDE)
		return cr_proto_exclude_parse(v, NULL) == 0;
	if (k->is_bool)
		return json_is_boolean(v);
	if (!json_is_number(v) || !isfinite(n) || n < 0)
		return 0;
	return n <= (k->bit == CR_KW_HOLD ? PING_HOLD_MAX : MAX_AGE_MAX);
}

static int check_kwargs(const struct cr_op *t, json_t *kwargs, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(kwargs))
		return snprintf(err, errlen, "%s: keyword arguments must be an object", t->task), -1;
	json_object_foreach(kwargs, key, v) {
		if (kwarg_ok(t, key, v))
			continue;
		if (t->req == REQ_PING)
			return snprintf(err, errlen, "celeryroot.ping accepts only hold=<0..%.0f seconds>", PING_HOLD_MAX), -1;
		if (t->req == REQ_FACTS)
			return snprintf(err, errlen, "celeryroot.facts takes no keyword arguments"), -1;
		/* The key is the writer's: quoted printable, or a forged line could follow. */
		char q[44];
		cr_quote_printable(q, sizeof(q), key, 40);
		return snprintf(err, errlen, "%s: keyword argument '%s' is unknown or of the wrong type", t->task, q), -1;
	}
	return 0;
}

int cr_taskreq_build(const char *task, json_t *args, json_t *kwargs, struct proto_req *r, char *err,
		  size_t errlen)
{
	const struct cr_op *t = cr_op_by_task(task);
	json_t *max_age = json_object_get(kwargs, "max_age");

	r->npkgs = 0;
	r->nexclude = 0;
	if (t == NULL)
		return snprintf(err, errlen, "unknown task %.128s", task ? task : "(none)"), -1;
	if (check_args(t, args, r, err, errlen) < 0 || check_kwargs(t, kwargs, err, errlen) < 0)
		return -1;
	r->type = t->req;
	if (t->req != REQ_APT)
		return 0;
	cr_copy_str(r->op, sizeof(r->op), t->name);
	cr_proto_apt_flags(r, kwargs);
	r->max_age = max_age ? json_number_value(max_age) : -1;
	if (json_object_get(kwargs, "exclude") != NULL)
		cr_proto_exclude_parse(json_object_get(kwargs, "exclude"), r);
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

/* An upgrade's --full and --exclude list, names in order. */
static int same_upgrade(const struct proto_req *a, const struct proto_req *b)
{
	if (a->full != b->full || a->nexclude != b->nexclude)
		return 0;
	for (size_t i = 0; i < a->nexclude && i < CR_EXCLUDE_MAX; i++)
		if (strcmp(a->exclude[i], b->exclude[i]))
			return 0;
	return 1;
}

int cr_taskreq_same(const struct proto_req *a, const struct proto_req *b)
{
	if (a->type != b->type)
		return 0;
	if (a->type != REQ_APT)
		return 1;
	return !strcmp(a->op, b->op) && same_pkgs(a, b) && a->upgradable == b->upgradable &&
	       a->security == b->security && a->check == b->check && a->purge == b->purge && a->now == b->now &&
	       a->allow_downgrade == b->allow_downgrade && a->max_age == b->max_age &&
	       a->allow_essential == b->allow_essential && a->allow_removals == b->allow_removals && same_upgrade(a, b) &&
	       a->conffile_new == b->conffile_new;
}
