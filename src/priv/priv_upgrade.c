/* An upgrade's own parts of the request and of the record (issue 15;
 * DESIGN §7): --full and --exclude on the way to apt, and on the way back
 * the packages it kept back, each with the reason, and what a full upgrade
 * removed.  The planning itself is apt_shim_upgrade.cc's. */
#include "config.h"
#include "priv.h"
#include "priv_change.h"

#include <jansson.h>
#include <string.h>

#include "proto.h"

void priv_upgrade_req(const struct proto_req *r, struct aptshim_change_req *q, const char **exclude)
{
	if (strcmp(r->op, "upgrade") != 0)
		return;
	q->full = r->full;
	for (size_t i = 0; i < r->nexclude && i < CR_EXCLUDE_MAX; i++)
		exclude[i] = r->exclude[i];
	q->exclude = exclude;
	q->nexclude = r->nexclude < CR_EXCLUDE_MAX ? r->nexclude : CR_EXCLUDE_MAX;
}

static json_t *kept_json(const struct aptshim_change_res *res)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < res->nkept; i++) {
		const struct aptshim_kept *k = &res->kept[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "package", k->name, "installed",
						   k->installed, "candidate", k->candidate, "reason", k->reason));
	}
	return a;
}

/* A full upgrade's removals are its own to make: named, so that the
 * record says so in one place besides the plan. */
static json_t *removals_json(const struct aptshim_change_res *res)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < res->nplan; i++)
		if (!strcmp(res->plan[i].what, "remove") || !strcmp(res->plan[i].what, "purge"))
			json_array_append_new(a, json_string(res->plan[i].name));
	return a;
}

void priv_upgrade_record(const struct proto_req *r, const struct aptshim_change_res *res, json_t *d)
{
	if (strcmp(r->op, "upgrade") != 0)
		return;
	json_object_set_new(d, "full", json_boolean(r->full));
	json_object_set_new(d, "kept_back", kept_json(res));
	if (r->full)
		json_object_set_new(d, "removals", removals_json(res));
}

void priv_upgrade_audit(const struct proto_req *r, json_t *rec)
{
	if (r->type != REQ_APT || strcmp(r->op, "upgrade") != 0)
		return;
	if (r->full)
		json_object_set_new(rec, "full", json_true());
	if (r->nexclude > 0) {
		json_t *ex = json_array();
		for (size_t i = 0; ex != NULL && i < r->nexclude && i < CR_EXCLUDE_MAX; i++)
			json_array_append_new(ex, json_string(r->exclude[i]));
		json_object_set_new(rec, "exclude", ex);
	}
}
