/* Shared by the files that make a change (priv_change.c, priv_rollback.c). */
#ifndef CR_PRIV_CHANGE_H
#define CR_PRIV_CHANGE_H

#include <jansson.h>

#include "apt_shim.h"
#include "dpkg_status.h"

struct change_ctx {
	struct priv_ctx *p;
	const struct proto_req *r;
	char native[33];
	char err[1024];
	double last_progress;
	char last_pkg[APTSHIM_NAME_MAX];
};

int change_snap(struct change_ctx *c, struct dpkg_snap *s);
json_t *change_diff(const struct dpkg_snap *before, const struct dpkg_snap *after);
/* Runs "dpkg --configure -a" when an earlier run was interrupted, and says
 * so in d ("repaired").  -1 (reason in c->err) when it could not. */
int change_repair(struct change_ctx *c, json_t *d);
/* Undoes what a failed run did, back to before:
 * {"removed": [...], "restored": {pkg: ver}, "ok": bool, "error": str|null}. */
json_t *change_rollback(struct change_ctx *c, const struct dpkg_snap *before);

#endif
