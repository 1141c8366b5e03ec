/* Putting a host back: undoing a transaction that failed (DESIGN §7).  The
 * repair of an interrupted dpkg run is in priv_repair.c. */
#include "config.h"
#include "priv.h"
#include "crerr.h"
#include "priv_change.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"

/* What to undo: purge what is new, put back what was replaced. */
static size_t undo_items(const struct dpkg_snap *before, const struct dpkg_snap *after, struct aptshim_item *items,
			 size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < after->n && n < cap; i++) {
		const struct dpkg_pkg *a = &after->p[i], *b = priv_dpkg_snap_find(before, a->name);
		if (priv_dpkg_present(a) && !priv_dpkg_present(b)) {
			memset(&items[n], 0, sizeof(items[n]));
			snprintf(items[n].name, sizeof(items[n].name), "%s", a->name);
			items[n++].remove = 1;
		}
	}
	for (size_t i = 0; i < before->n && n < cap; i++) {
		const struct dpkg_pkg *b = &before->p[i], *a = priv_dpkg_snap_find(after, b->name);
		if (priv_dpkg_present(b) && (!priv_dpkg_present(a) || priv_dpkg_broken(a) || strcmp(a->version, b->version) != 0)) {
			memset(&items[n], 0, sizeof(items[n]));
			snprintf(items[n].name, sizeof(items[n].name), "%s", b->name);
			snprintf(items[n].version, sizeof(items[n].version), "%s", b->version);
			n++;
		}
	}
	return n;
}

static json_t *undo_report(const struct dpkg_snap *before, const struct dpkg_snap *final, const struct aptshim_item *items,
			   size_t n, int *ok)
{
	json_t *removed = json_array(), *restored = json_object();

	*ok = priv_dpkg_snap_clean(final);
	for (size_t i = 0; i < n; i++) {
		const struct dpkg_pkg *f = priv_dpkg_snap_find(final, items[i].name), *b = priv_dpkg_snap_find(before, items[i].name);
		int back = items[i].remove ? !priv_dpkg_present(f) : priv_dpkg_present(f) && !strcmp(f->version, b->version);
		if (back && items[i].remove)
			json_array_append_new(removed, json_string(items[i].name));
		else if (back)
			json_object_set_new(restored, items[i].name, json_string(items[i].version));
		*ok &= back;
	}
	return json_pack("{s:o, s:o}", "removed", removed, "restored", restored);
}

json_t *priv_change_rollback(struct change_ctx *c, const struct dpkg_snap *before)
{
	struct dpkg_snap after, final;
	struct aptshim_change_res res;
	struct aptshim_item *items;
	char err[CR_ERR_MAX] = "";
	size_t n;
	int ok = 0;

	/* apt will not start on an interrupted dpkg: what the failed run left
	 * halfway is repaired first, and the rollback says so. */
	json_t *repair = json_object();
	priv_change_repair(c, repair);
	if (priv_change_snap(c, &after) < 0) {
		json_decref(repair);
		return json_pack("{s:[], s:{}, s:b, s:s}", "removed", "restored", "ok", 0, "error", c->err);
	}
	items = calloc(after.n + before->n + 1, sizeof(*items));
	n = items ? undo_items(before, &after, items, after.n + before->n) : 0;
	struct aptshim_change_req q = { .op = APTSHIM_RESTORE, .items = items, .nitems = n,
					.lock_timeout_s = c->p->lock_timeout_s };
	int rc = n == 0 ? 0 : priv_aptshim_change(&q, &res, err, sizeof(err));
	if (n > 0)
		priv_aptshim_change_res_free(&res);
	json_t *rep = NULL;
	if (priv_change_snap(c, &final) == 0) {
		rep = undo_report(before, &final, items, n, &ok);
		priv_dpkg_snap_free(&final);
	}
	if (rep == NULL)
		rep = json_pack("{s:[], s:{}}", "removed", "restored");
	json_object_set_new(rep, "ok", json_boolean(ok && rc == 0));
	json_object_set_new(rep, "error", rc < 0 ? json_string(err) : json_null());
	if (json_object_get(repair, "repaired"))
		json_object_set(rep, "repaired", json_object_get(repair, "repaired"));
	json_decref(repair);
	info_f("rollback %s (%zu package(s))", ok && rc == 0 ? "done" : "incomplete", n);
	free(items);
	priv_dpkg_snap_free(&after);
	return rep;
}
