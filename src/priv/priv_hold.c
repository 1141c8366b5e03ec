/* apt hold / unhold (issue 15): dpkg's selection of each named package set
 * to "hold" or back to "install", through libapt-pkg (apt_shim_hold.cc,
 * apt-mark's own code).  Runs in the change child like every change, so it
 * is audited, signed when signing is on, and answered in check mode without
 * touching anything.
 *
 * The record's changes are selections, not versions:
 * {"nginx": {"old": "install", "new": "hold"}}.  Idempotent: a package
 * already in the wanted state is left alone, and a task that finds them all
 * so is "unchanged".  Like apt-mark, a package apt knows but that is not
 * installed may be held (dpkg then keeps a record of it, and an install of
 * it is refused until it is unheld); the record lists such packages under
 * "not_installed".  A package apt does not know is an error. */
#include "config.h"
#include "crerr.h"
#include "priv.h"
#include "priv_change.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "apt_shim.h"
#include "dpkg_status.h"
#include "proto.h"

struct hold_plan {
	const char *names[PKG_SPECS_MAX];       /* the ones to change */
	char name[PKG_SPECS_MAX][APTSHIM_NAME_MAX];
	size_t n;
	json_t *changes, *not_installed;
	char already[CR_ERR_MAX];               /* those left as they were */
};

static const char *want_of(const struct dpkg_snap *s, const char *name)
{
	const struct dpkg_pkg *e = priv_dpkg_snap_find(s, name);
	return e != NULL && e->want[0] ? e->want : "unknown";
}

static void note_already(struct hold_plan *h, const char *name)
{
	size_t used = strlen(h->already);

	if (used + strlen(name) + 8 < sizeof(h->already))
		snprintf(h->already + used, sizeof(h->already) - used, "%s%s", used ? ", " : "", name);
}

/* Is name known to apt (in its lists, or installed)?  -1 on error. */
static int known(struct change_ctx *c, const char *name)
{
	struct aptshim_pkg_info info;
	const char *names[1] = { name };

	if (priv_aptshim_query(names, 1, &info, c->err, sizeof(c->err)) < 0)
		return -1;
	return info.known || info.installed[0];
}

/* Which packages change, and to what; -1 with c->err on a bad request. */
static int plan(struct change_ctx *c, const struct dpkg_snap *s, int hold, struct hold_plan *h)
{
	const char *want = hold ? "hold" : "install";

	for (size_t i = 0; i < c->r->npkgs && i < PKG_SPECS_MAX; i++) {
		const struct pkgspec *ps = &c->r->pkgs[i];
		char *name = h->name[h->n];
		if (ps->version[0])
			return snprintf(c->err, sizeof(c->err), "apt %s takes package names, not versions: say %s, "
					"not %s=%s", c->r->op, ps->name, ps->name, ps->version), -1;
		snprintf(name, APTSHIM_NAME_MAX, "%s%s%s", ps->name, ps->arch[0] ? ":" : "", ps->arch);
		const char *old = want_of(s, name);
		if (hold ? !strcmp(old, "hold") : strcmp(old, "hold") != 0) {
			note_already(h, name);
			continue;
		}
		int k = known(c, name);
		if (k <= 0)
			return k < 0 ? -1 : (snprintf(c->err, sizeof(c->err), "unknown package '%s': not installed "
						      "and not in this host's apt lists", name), -1);
		if (hold && !priv_dpkg_present(priv_dpkg_snap_find(s, name)))
			json_array_append_new(h->not_installed, json_string(name));
		json_object_set_new(h->changes, name, json_pack("{s:s, s:s}", "old", old, "new", want));
		h->names[h->n++] = name;
	}
	return 0;
}

/* dpkg's view after: each one changed must now say what was wanted. */
static int check_after(struct change_ctx *c, struct hold_plan *h, int hold)
{
	struct dpkg_snap after;

	if (priv_change_snap(c, &after) < 0)
		return -1;
	for (size_t i = 0; i < h->n; i++) {
		const char *now = want_of(&after, h->names[i]);
		if (hold ? strcmp(now, "hold") != 0 : !strcmp(now, "hold")) {
			snprintf(c->err, sizeof(c->err), "dpkg's selection of %s is still %s after --set-selections",
				 h->names[i], now);
			priv_dpkg_snap_free(&after);
			return -1;
		}
	}
	priv_dpkg_snap_free(&after);
	return 0;
}

static json_t *fail(struct change_ctx *c, json_t *d)
{
	json_object_set_new(d, "error", json_string(c->err));
	json_object_set_new(d, "changed", json_false());
	return d;
}

static json_t *run(struct change_ctx *c, json_t *d, struct hold_plan *h, int hold)
{
	char reason[CR_ERR_MAX + 32];

	if (h->n == 0) {
		snprintf(reason, sizeof(reason), "%s: %s", hold ? "already held" : "not held", h->already);
		json_object_set_new(d, "reason", json_string(reason));
		json_object_set_new(d, "changed", json_false());
		return d;
	}
	/* A check says what would change, and changes nothing. */
	if (!c->r->check) {
		int rc = priv_aptshim_set_selections(h->names, h->n, hold, c->p->lock_timeout_s, c->err, sizeof(c->err));
		c->code = cr_err_of(rc);
		if (rc < 0 || check_after(c, h, hold) < 0)
			return fail(c, d);
	}
	json_object_set(d, "changes", h->changes);
	json_object_set_new(d, "changed", json_true());
	return d;
}

json_t *priv_change_hold(struct change_ctx *c, json_t *d)
{
	struct hold_plan h = { .n = 0 };
	struct dpkg_snap s;
	int hold = !strcmp(c->r->op, "hold");

	if (priv_change_snap(c, &s) < 0)
		return fail(c, d);
	h.changes = json_object();
	h.not_installed = json_array();
	if (plan(c, &s, hold, &h) < 0)
		fail(c, d);
	else
		run(c, d, &h, hold);
	if (json_array_size(h.not_installed) > 0 && !json_object_get(d, "error"))
		json_object_set(d, "not_installed", h.not_installed);
	json_decref(h.changes);
	json_decref(h.not_installed);
	priv_dpkg_snap_free(&s);
	return d;
}
