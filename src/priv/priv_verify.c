/* Verify, the last step of every change (DESIGN §5): dpkg's view afterwards
 * is read again and held against what was asked.  apt saying "done" is not
 * the test; dpkg's status is.  A package left halfway, one flagged for
 * reinstallation, an unfolded updates journal or a requested package not in
 * the requested state makes the change fail, whatever apt said. */
#include "config.h"
#include "priv_change.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

static void problem(json_t *list, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(json_t *list, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	json_array_append_new(list, json_string(line));
}

static void spec_name(const struct pkgspec *ps, char *out, size_t len)
{
	snprintf(out, len, "%s%s%s", ps->name, ps->arch[0] ? ":" : "", ps->arch);
}

/* install: there, whole, at the pinned version when one was asked for. */
static void check_installed(json_t *list, const struct pkgspec *ps, const struct dpkg_pkg *p, const char *name)
{
	if (!priv_dpkg_present(p))
		problem(list, "%s is %s after the change", name, p ? p->state : "not installed");
	else if (ps->version[0] && strcmp(p->version, ps->version) != 0)
		problem(list, "%s is at version %s, not the requested %s", name, p->version, ps->version);
}

/* remove: files gone (config-files is a removed package); purge: nothing left. */
static void check_removed(json_t *list, int purge, const struct dpkg_pkg *p, const char *name)
{
	if (priv_dpkg_present(p))
		problem(list, "%s is still %s after the removal", name, p->state);
	else if (purge && p != NULL && !strcmp(p->state, "config-files"))
		problem(list, "%s still has its configuration files after the purge", name);
}

json_t *priv_verify_state(const struct proto_req *r, const struct dpkg_snap *s, int updates_pending)
{
	int install = !strcmp(r->op, "install"), remove = !strcmp(r->op, "remove"), upgrade = !strcmp(r->op, "upgrade");
	json_t *list = json_array();

	for (size_t i = 0; list && i < r->npkgs && (install || remove || upgrade); i++) {
		char name[APTSHIM_NAME_MAX];
		spec_name(&r->pkgs[i], name, sizeof(name));
		const struct dpkg_pkg *p = priv_dpkg_snap_find(s, name);
		if (remove)
			check_removed(list, r->purge, p, name);
		else
			check_installed(list, &r->pkgs[i], p, name);
	}
	/* The whole host, as dpkg --audit sees it: one that is halfway is
	 * named once, with its state. */
	for (size_t i = 0; list && i < s->n; i++) {
		char what[400];
		priv_dpkg_describe(&s->p[i], what, sizeof(what));
		if (what[0])
			json_array_append_new(list, json_string(what));
	}
	if (list && updates_pending)
		json_array_append_new(list, json_string("dpkg's updates journal (var/lib/dpkg/updates) was left "
							"unfolded: dpkg was cut short"));
	return list;
}

/* "the change did not leave dpkg as asked: ... ; dpkg --audit lists ..." */
void priv_verify_message(json_t *problems, char *out, size_t len)
{
	size_t used = 0, i;
	json_t *v;

	used = (size_t)snprintf(out, len, "%s", "dpkg is not in the requested state after the change: ");
	json_array_foreach(problems, i, v) {
		if (used >= len)
			break;
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "; " : "", json_string_value(v));
	}
	if (used < len)
		snprintf(out + used, len - used, "%s", " (dpkg --audit lists what is halfway)");
}
