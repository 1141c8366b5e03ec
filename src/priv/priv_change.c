/* The changes, in DESIGN §5's order: facts (dpkg's view, lists age), repair
 * (of a dpkg run that was cut short), plan (apt's marks on a depcache under
 * the dpkg lock), apply (dpkg through libapt-pkg), verify (dpkg's view again,
 * held against what was asked).  The reported changes are the difference
 * between the "before" (taken when the task first started, before any
 * repair: priv_child.c keeps it in the change journal) and the final
 * reading, never apt's prose.  Runs in the change child, one change at a time. */
#include "config.h"
#include "crerr.h"
#include "priv.h"
#include "priv_change.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apt_shim.h"
#include "dpkg_status.h"
#include "log.h"
#include "ops.h"
#include "proto.h"
#include "timeutil.h"

/* ---- progress ------------------------------------------------------------ */

/* apt reports often; net publishes each one to Redis, so they are thinned
 * to a few a second (and one per package). */
void priv_change_on_progress(void *ctx, const char *stage, const char *pkg, double pct, const char *text)
{
	struct change_ctx *c = ctx;
	double now = cr_now_mono(), overall;

	overall = !strcmp(stage, "dpkg") ? 10 + pct * 0.9 : !strcmp(stage, "download") ? pct * 0.1 : 0;
	if (now - c->last_progress < 0.2 && strcmp(pkg, c->last_pkg) == 0 && overall < 100)
		return;
	c->last_progress = now;
	snprintf(c->last_pkg, sizeof(c->last_pkg), "%s", pkg);
	priv_progress(c->p, c->r->id, (int)overall, pkg, text);
}

/* ---- facts ---------------------------------------------------------------- */

int priv_change_snap(struct change_ctx *c, struct dpkg_snap *s)
{
	return priv_dpkg_snap_read(c->p->root, c->native, s, c->err, sizeof(c->err));
}

static json_t *ver_json(const struct dpkg_pkg *p)
{
	return priv_dpkg_present(p) ? json_string(p->version) : json_null();
}

static int same(const struct dpkg_pkg *a, const struct dpkg_pkg *b)
{
	if (priv_dpkg_present(a) != priv_dpkg_present(b))
		return 0;
	return !priv_dpkg_present(a) || strcmp(a->version, b->version) == 0;
}

static json_t *config_purged(void)
{
	return json_pack("{s:n, s:n, s:s}", "old", "new", "config", "purged");
}

static const char *state_word(const struct dpkg_pkg *p)
{
	return p == NULL ? "not-installed" : p->reinstreq ? "reinstreq" : p->state;
}

/* dpkg's state beside the versions when either side is halfway: a package
 * left half-installed is not "new 1.1" like an installed one. */
static json_t *with_state(json_t *entry, const struct dpkg_pkg *a, const struct dpkg_pkg *b)
{
	if (entry != NULL && (priv_dpkg_broken(a) || priv_dpkg_broken(b)))
		json_object_set_new(entry, "state", json_pack("{s:s, s:s}", "old", state_word(a), "new", state_word(b)));
	return entry;
}

json_t *priv_change_diff(const struct dpkg_snap *before, const struct dpkg_snap *after)
{
	json_t *d = json_object();

	for (size_t i = 0; i < before->n; i++) {
		const struct dpkg_pkg *a = &before->p[i], *b = priv_dpkg_snap_find(after, a->name);
		/* Same version, but halfway on one side and whole on the other:
		 * dpkg finished (or broke) it, and that is a change too. */
		if (!same(a, b) || (priv_dpkg_present(a) && priv_dpkg_present(b) && priv_dpkg_broken(a) != priv_dpkg_broken(b)))
			json_object_set_new(d, a->name, with_state(json_pack("{s:o, s:o}", "old", ver_json(a), "new",
									     ver_json(b)), a, b));
	}
	for (size_t i = 0; i < after->n; i++) {
		const struct dpkg_pkg *b = &after->p[i];
		if (priv_dpkg_present(b) && priv_dpkg_snap_find(before, b->name) == NULL)
			json_object_set_new(d, b->name, with_state(json_pack("{s:n, s:o}", "old", "new", ver_json(b)), NULL, b));
	}
	/* A purge of what was only configuration changes no version. */
	for (size_t i = 0; i < before->n; i++) {
		const struct dpkg_pkg *a = &before->p[i], *b = priv_dpkg_snap_find(after, a->name);
		if (!strcmp(a->state, "config-files") && (b == NULL || !strcmp(b->state, "not-installed")))
			json_object_set_new(d, a->name, config_purged());
	}
	return d;
}

/* ---- plan ------------------------------------------------------------------ */

static void spec_name(const struct pkgspec *s, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s", s->name, s->arch[0] ? ":" : "", s->arch);
}

/* Install where everything asked for is there at the wanted version, and
 * remove where nothing is: answered from dpkg status alone. */
static int fast_path(struct change_ctx *c, const struct dpkg_snap *s, char *why, size_t len)
{
	int install = !strcmp(c->r->op, "install"), remove = !strcmp(c->r->op, "remove");
	size_t used = 0;

	if ((!install && !remove) || c->r->npkgs == 0)
		return 0;
	for (size_t i = 0; i < c->r->npkgs; i++) {
		const struct pkgspec *ps = &c->r->pkgs[i];
		char name[APTSHIM_NAME_MAX];
		spec_name(ps, name, sizeof(name));
		const struct dpkg_pkg *d = priv_dpkg_snap_find(s, name);
		int ok = install ? priv_dpkg_present(d) && !priv_dpkg_broken(d) && (!ps->version[0] || !strcmp(d->version, ps->version))
				 : !priv_dpkg_present(d) && !(c->r->purge && d && !strcmp(d->state, "config-files"));
		if (!ok)
			return 0;
		if (used < len)
			used += (size_t)snprintf(why + used, len - used, "%s%s%s%s", i ? ", " : "", name,
						 install ? " " : "", install ? d->version : "");
	}
	if (used >= len && len > 4)
		memcpy(why + len - 4, "...", 4);
	return 1;
}

static void fill_items(const struct proto_req *r, struct aptshim_item *items)
{
	for (size_t i = 0; i < r->npkgs; i++) {
		memset(&items[i], 0, sizeof(items[i]));
		spec_name(&r->pkgs[i], items[i].name, sizeof(items[i].name));
		snprintf(items[i].version, sizeof(items[i].version), "%s", r->pkgs[i].version);
	}
}

static json_t *plan_json(const struct aptshim_change_res *res, json_t **predicted)
{
	json_t *plan = json_array();

	*predicted = json_object();
	for (size_t i = 0; i < res->nplan; i++) {
		const struct aptshim_action *a = &res->plan[i];
		json_t *old = a->old_ver[0] ? json_string(a->old_ver) : json_null();
		json_t *nw = a->new_ver[0] ? json_string(a->new_ver) : json_null();
		json_array_append_new(plan, json_pack("{s:s, s:s, s:O, s:O, s:b}", "package", a->name, "action",
						      a->what, "old", old, "new", nw, "requested", a->requested));
		if (a->old_ver[0] || a->new_ver[0])
			json_object_set_new(*predicted, a->name, json_pack("{s:O, s:O}", "old", old, "new", nw));
		else if (!strcmp(a->what, "purge"))
			json_object_set_new(*predicted, a->name, config_purged());
		json_decref(old);
		json_decref(nw);
	}
	return plan;
}

/* ---- the operation ---------------------------------------------------------- */

static int shim_op(const char *op, enum aptshim_op *out);

static int run_apt(struct change_ctx *c, struct aptshim_change_res *res)
{
	struct aptshim_item *items = calloc(c->r->npkgs + 1, sizeof(*items));
	struct aptshim_change_req q = { .nitems = c->r->npkgs, .purge = c->r->purge, .security = c->r->security,
					.check = c->r->check, .lock_timeout_s = c->p->lock_timeout_s,
					.allow_downgrade = c->r->allow_downgrade,
					.allow_unauthenticated = c->p->allow_unauthenticated,
					.allow_essential = c->r->allow_essential,
					.allow_removals = c->r->allow_removals,
					.progress = priv_change_on_progress, .ctx = c,
					.conffile_new = c->r->conffile_new };
	int rc, out = c->r->check ? -1 : priv_dpkgout_open(c->p->root);

	if (items == NULL || shim_op(c->r->op, &q.op) < 0) {
		free(items);
		snprintf(c->err, sizeof(c->err), items ? "unknown operation" : "out of memory");
		return -1;
	}
	fill_items(c->r, items);
	q.items = items;
	const char *exclude[CR_EXCLUDE_MAX];
	priv_upgrade_req(c->r, &q, exclude);
	q.capture_fd = out;
	clock_gettime(CLOCK_REALTIME_COARSE, &c->dpkg_started);
	rc = priv_aptshim_change(&q, res, c->err, sizeof(c->err));
	c->code = cr_err_of(rc);
	/* Read now: the rollback's dpkg run must not bury it. */
	if (rc < 0 && res->dpkg_ran)
		priv_dpkgout_tail(out, c->dpkg_output, sizeof(c->dpkg_output));
	priv_dpkgout_close(out);
	free(items);
	return rc < 0 ? -1 : 0;
}

/* The packages the plan removes that the task did not name (issue 15's
 * removals guard): listed in the record, the check's output included. */
static void unnamed_removals(const struct change_ctx *c, json_t *d, const struct aptshim_change_res *res)
{
	json_t *list = json_array();

	for (size_t i = 0; strcmp(c->r->op, "autoremove") != 0 && i < res->nplan; i++)
		if (!res->plan[i].requested && (!strcmp(res->plan[i].what, "remove") || !strcmp(res->plan[i].what, "purge")))
			json_array_append_new(list, json_string(res->plan[i].name));
	if (json_array_size(list) > 0)
		json_object_set_new(d, "unnamed_removals", list);
	else
		json_decref(list);
}

/* After apt: what changed since before (repair included), whether apt did
 * what it planned (mid is dpkg's view after the repair), and the rollback
 * (back to mid) when it failed. */
static void finish(struct change_ctx *c, json_t *d, const struct dpkg_snap *before, const struct dpkg_snap *mid,
		   const struct aptshim_change_res *res, int rc)
{
	struct dpkg_snap after;
	json_t *predicted = NULL, *plan = plan_json(res, &predicted);

	json_object_set_new(d, "plan", plan);
	/* APT's refusals (apt_shim_policy.cc), named for the record and the
	 * audit line; and what the host's config let in unauthenticated. */
	if (res->refused_by[0])
		json_object_set_new(d, "refused_by", json_string(res->refused_by));
	if (res->unauthenticated[0])
		json_object_set_new(d, "unauthenticated", json_string(res->unauthenticated));
	priv_upgrade_record(c->r, res, d);
	unnamed_removals(c, d, res);
	if (c->r->check) {
		/* Nothing ran: a check reports what would change. */
		json_object_set_new(d, "changes", rc == 0 ? predicted : json_object());
		if (rc < 0)
			json_decref(predicted);
		json_object_set_new(d, "changed", json_boolean(rc == 0 && res->nplan > 0));
		if (rc < 0)
			json_object_set_new(d, "error", json_string(c->err));
		return;
	}
	if (rc < 0) {
		json_object_set_new(d, "error", json_string(c->err));
		if (res->dpkg_ran)
			priv_dpkgout_record(c, d);
		if (res->dpkg_ran) {
			json_object_set_new(d, "dpkg_error", json_string(res->dpkg_error));
			json_object_set_new(d, "rollback", priv_change_rollback(c, mid));
		}
	}
	if (priv_change_snap(c, &after) < 0) {
		json_object_set_new(d, "changes", json_object());
		json_object_set_new(d, "error", json_string(c->err));
		json_decref(predicted);
		return;
	}
	json_t *changes = priv_change_diff(before, &after);
	json_object_set_new(d, "changed", json_boolean(json_object_size(changes) > 0));
	if (rc == 0) {
		json_t *applied = priv_change_diff(mid, &after);
		json_object_set_new(d, "verified", json_boolean(json_equal(applied, predicted)));
		json_decref(applied);
	}
	if (res->dpkg_ran)
		json_object_set_new(d, "conffiles_left", priv_conffiles_left(c->p->root, c->native, changes,
									      &c->dpkg_started));
	json_object_set_new(d, "changes", changes);
	json_decref(predicted);
	priv_dpkg_snap_free(&after);
}

static json_t *unchanged(json_t *d, const char *reason)
{
	json_object_set_new(d, "changed", json_false());
	json_object_set_new(d, "changes", json_object());
	json_object_set_new(d, "reason", json_string(reason));
	return d;
}

static int lists_refresh(struct change_ctx *c, json_t *d)
{
	double age;
	int fresh = c->r->max_age >= 0 && priv_lists_age(c->p->root, &age) == 0 && age <= c->r->max_age;

	if (fresh || (strcmp(c->r->op, "update") != 0 && c->r->max_age < 0))
		return 0;
	priv_change_on_progress(c, "download", "", 0, "updating the package lists");
	if (priv_aptshim_update(c->err, sizeof(c->err)) < 0) {
		json_object_set_new(d, "error", json_string(c->err));
		return -1;
	}
	priv_lists_touch(c->p->root);
	json_object_set_new(d, "refreshed", json_true());
	return 0;
}

static json_t *op_update(struct change_ctx *c, json_t *d)
{
	if (lists_refresh(c, d) < 0)
		return json_object_set_new(d, "changed", json_false()), d;
	if (!json_is_true(json_object_get(d, "refreshed")))
		return unchanged(d, "the lists are fresh (younger than --max-age)");
	json_object_set_new(d, "changed", json_true());
	json_object_set_new(d, "changes", json_object());
	return d;
}

static json_t *op_clean(struct change_ctx *c, json_t *d)
{
	long files = 0;

	int rc = priv_aptshim_clean(c->p->lock_timeout_s, &files, c->err, sizeof(c->err));

	if ((c->code = cr_err_of(rc)) != CR_OK)
		return json_object_set_new(d, "error", json_string(c->err)), d;
	json_object_set_new(d, "files_removed", json_integer(files));
	if (files == 0)
		return unchanged(d, "the archives cache is already empty");
	json_object_set_new(d, "changed", json_true());
	json_object_set_new(d, "changes", json_object());
	return d;
}

/* Verify (DESIGN §5): dpkg's view against what was asked, for every change
 * that was not a check.  An earlier error stays the error. */
static void verify(struct change_ctx *c, json_t *d)
{
	struct dpkg_snap s;
	char msg[1024];
	json_t *problems;

	if (priv_change_snap(c, &s) < 0) {
		if (!json_object_get(d, "error"))
			json_object_set_new(d, "error", json_string(c->err));
		return;
	}
	problems = priv_verify_state(c->r, &s, priv_dpkg_updates_pending(c->p->root));
	priv_dpkg_snap_free(&s);
	if (problems == NULL)
		return;
	if (json_array_size(problems) > 0 && !json_object_get(d, "error")) {
		priv_verify_message(problems, msg, sizeof(msg));
		json_object_set_new(d, "error", json_string(msg));
	}
	json_object_set_new(d, "verify", json_pack("{s:b, s:o}", "ok", json_array_size(problems) == 0, "problems",
						   problems));
}

/* Everything asked for is already so (after the repair): answered from
 * dpkg's view alone.  What the repair (or an earlier, interrupted run of
 * this task) changed since before is still reported. */
static void already(struct change_ctx *c, json_t *d, const struct dpkg_snap *before, const struct dpkg_snap *mid,
		    const char *why)
{
	char reason[CR_ERR_MAX + 32]; /* our words and the reason */
	json_t *changes = priv_change_diff(before, mid);

	snprintf(reason, sizeof(reason), "%s: %s", !strcmp(c->r->op, "install") ? "already installed" : "not installed",
		 why);
	unchanged(d, reason);
	json_object_set_new(d, "changed", json_boolean(json_object_size(changes) > 0));
	json_object_set_new(d, "changes", changes);
}

/* dpkg's view now, or (for a real change) the journal's "before". */
static int take_before(struct change_ctx *c, struct dpkg_snap *own, const struct dpkg_snap **before)
{
	if (c->start != NULL && c->start->before != NULL) {
		*before = c->start->before;
		return 0;
	}
	*before = own;
	return priv_change_snap(c, own);
}

static json_t *op_packages(struct change_ctx *c, json_t *d)
{
	struct aptshim_change_res res;
	struct dpkg_snap own = { 0 }, mid;
	const struct dpkg_snap *before;
	char why[CR_ERR_MAX];
	int rc;

	if (take_before(c, &own, &before) < 0)
		return json_object_set_new(d, "error", json_string(c->err)), d;
	/* A check changes nothing, not even a repair. */
	if ((!c->r->check && priv_change_repair(c, d) < 0) || priv_change_snap(c, &mid) < 0) {
		json_object_set_new(d, "error", json_string(c->err));
		if (priv_change_snap(c, &mid) == 0) {
			json_object_set_new(d, "changes", priv_change_diff(before, &mid));
			priv_dpkg_snap_free(&mid);
		}
		priv_dpkg_snap_free(&own);
		return d;
	}
	if (fast_path(c, &mid, why, sizeof(why))) {
		already(c, d, before, &mid, why);
	} else if (lists_refresh(c, d) == 0) {
		rc = run_apt(c, &res);
		finish(c, d, before, &mid, &res, rc);
		if (rc == 0 && res.nplan == 0)
			json_object_set_new(d, "reason", json_string(c->r->check ? "nothing would change" : "nothing to do"));
		priv_aptshim_change_res_free(&res);
	}
	if (!c->r->check)
		verify(c, d);
	priv_dpkg_snap_free(&mid);
	priv_dpkg_snap_free(&own);
	return d;
}

/* apt says only that it could not get a lock; the operator wants to know who
 * has it.  Read now, after the bounded wait, it is who still holds it.  Only
 * for a lock failure of apt's (the shim's CR_E_LOCK): a repair that gave up
 * on the lock has named the holder already. */
static void name_lock_holder(const struct change_ctx *c, json_t *d)
{
	const struct priv_ctx *p = c->p;
	const char *e = json_string_value(json_object_get(d, "error"));
	char holder[512], msg[2200];

	if (e == NULL || c->code != CR_E_LOCK || !priv_lock_holder(p->root, holder, sizeof(holder)))
		return;
	snprintf(msg, sizeof(msg), "gave up waiting for the dpkg lock after %d s: %s (%.1500s)", p->lock_timeout_s,
		 holder, e);
	json_object_set_new(d, "error", json_string(msg));
}

/* The handlers of the operation table's changes (ops.h CR_OP_CHANGES), one
 * row each: priv_ops_check() refuses to start without one. */
static const struct change_op {
	const char *op;
	json_t *(*fn)(struct change_ctx *c, json_t *d);
	enum aptshim_op shim;   /* op_packages: what apt is asked to do */
} change_ops[] = {
	{ "install", op_packages, APTSHIM_INSTALL },
	{ "remove", op_packages, APTSHIM_REMOVE },
	{ "upgrade", op_packages, APTSHIM_UPGRADE },
	{ "autoremove", op_packages, APTSHIM_AUTOREMOVE },
	{ "update", op_update, APTSHIM_INSTALL },
	{ "clean", op_clean, APTSHIM_INSTALL },
	{ "hold", priv_change_hold, APTSHIM_INSTALL },
	{ "unhold", priv_change_hold, APTSHIM_INSTALL },
};

static const struct change_op *change_op(const char *op)
{
	for (size_t i = 0; i < sizeof(change_ops) / sizeof(change_ops[0]); i++)
		if (!strcmp(op, change_ops[i].op))
			return &change_ops[i];
	return NULL;
}

static int shim_op(const char *op, enum aptshim_op *out)
{
	const struct change_op *h = change_op(op);

	if (h == NULL || h->fn != op_packages)
		return -1;
	*out = h->shim;
	return 0;
}

int priv_ops_check(char *err, size_t errlen)
{
	const struct cr_op *op;

	for (size_t i = 0; (op = cr_op_at(i)) != NULL; i++) {
		int changes = (op->flags & CR_OP_CHANGES) != 0;
		if (op->req != REQ_APT || (changes ? change_op(op->name) != NULL : priv_apt_handles(op->name)))
			continue;
		return snprintf(err, errlen, "operation %s has no handler in priv (%s)", op->name,
				changes ? "priv_change.c" : "priv_apt.c"), -1;
	}
	return 0;
}

json_t *priv_change(struct priv_ctx *p, const struct proto_req *r, const struct change_start *start)
{
	struct change_ctx c = { .p = p, .r = r, .start = start };
	const struct change_op *h = change_op(r->op);
	json_t *d = json_pack("{s:s, s:b, s:b}", "operation", r->op, "check", r->check, "refreshed", 0);

	if (d == NULL)
		return NULL;
	if (h == NULL) {
		json_object_set_new(d, "error", json_string("unknown operation"));
	} else if (priv_aptshim_init(p->root, c.err, sizeof(c.err)) < 0 ||
		   priv_aptshim_native_arch(c.native, sizeof(c.native)) < 0) {
		json_object_set_new(d, "error", json_string(c.err[0] ? c.err : "cannot initialise apt"));
	} else {
		h->fn(&c, d);
	}
	name_lock_holder(&c, d);
	if (start != NULL && start->interrupted != NULL)
		json_object_set(d, "interrupted", start->interrupted);
	if (json_object_get(d, "changes") == NULL)
		json_object_set_new(d, "changes", json_object());
	if (json_object_get(d, "changed") == NULL)
		json_object_set_new(d, "changed", json_false());
	json_object_set_new(d, "cache_age_s", priv_lists_age_json(p->root));
	return d;
}
