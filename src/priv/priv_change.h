/* Shared by the files that make a change (priv_change.c, priv_repair.c,
 * priv_rollback.c, priv_verify.c). */
#ifndef CR_PRIV_CHANGE_H
#define CR_PRIV_CHANGE_H

#include <jansson.h>
#include <time.h>

#include "apt_shim.h"
#include "crerr.h"
#include "dpkg_status.h"

struct priv_ctx;
struct proto_req;
struct change_start;

struct change_ctx {
	struct priv_ctx *p;
	const struct proto_req *r;
	const struct change_start *start;   /* NULL in check mode */
	char native[33];
	char err[CR_ERR_MAX];
	enum cr_err code;                   /* what kind of failure err is */
	double last_progress;
	char last_pkg[APTSHIM_NAME_MAX];
	/* When dpkg was started (CLOCK_REALTIME_COARSE, as file times are),
	 * and the end of what it printed when it failed (priv_dpkgout.c). */
	struct timespec dpkg_started;
	char dpkg_output[2400];
};

int priv_change_snap(struct change_ctx *c, struct dpkg_snap *s);
/* {pkg: {old, new}} for every package whose version differs or which was
 * halfway on one side and whole on the other; an entry where either side
 * is halfway also says "state": {"old", "new"} (dpkg's states, "reinstreq"
 * for a package so flagged, "not-installed" for none). */
json_t *priv_change_diff(const struct dpkg_snap *before, const struct dpkg_snap *after);
/* apt's and dpkg's progress, thinned, to net (ctx is the change_ctx). */
void priv_change_on_progress(void *ctx, const char *stage, const char *pkg, double pct, const char *text);

/* priv_upgrade.c: an upgrade's --full and --exclude into q (exclude: the
 * caller's array of CR_EXCLUDE_MAX, pointing into r), and its record's
 * "kept_back" and "removals" (--full) from res. */
void priv_upgrade_req(const struct proto_req *r, struct aptshim_change_req *q, const char **exclude);
void priv_upgrade_record(const struct proto_req *r, const struct aptshim_change_res *res, json_t *d);
/* ...and in the audit line, what it was asked: "full", "exclude" (only when given). */
void priv_upgrade_audit(const struct proto_req *r, json_t *rec);

/* priv_repair.c: when dpkg's view shows an interrupted run, repairs it and
 * says so in d ("repaired": {"ran", "ok", "changes"}).  -1 (reason in
 * c->err) when it could not, or something is still halfway afterwards. */
int priv_change_repair(struct change_ctx *c, json_t *d);

/* priv_rollback.c: undoes what a failed run did, back to before:
 * {"removed": [...], "restored": {pkg: ver}, "ok": bool, "error": str|null}. */
json_t *priv_change_rollback(struct change_ctx *c, const struct dpkg_snap *before);

/* priv_verify.c: what is wrong with s after the change r asked for (a JSON
 * array of one-line problems; empty when nothing is). */
json_t *priv_verify_state(const struct proto_req *r, const struct dpkg_snap *s, int updates_pending);
/* The problems as the change's error. */
void priv_verify_message(json_t *problems, char *out, size_t len);

/* priv_hold.c: apt hold / unhold (dpkg selections; issue 15). */
json_t *priv_change_hold(struct change_ctx *c, json_t *d);
/* priv_dpkgout.c: dpkg's output, captured in a file under the state
 * directory (-1 when it cannot be: the output then stays priv's). */
int priv_dpkgout_open(const char *root);
/* Its last lines (at most 20, from its last 2 KiB) but dpkg's own (its
 * progress and its report of the failure): what the maintainer scripts
 * printed, control bytes cleaned, joined with " | "; "" when none. */
void priv_dpkgout_tail(int fd, char *out, size_t len);
/* Empties the file and closes fd (-1: nothing). */
void priv_dpkgout_close(int fd);
/* A failed dpkg run: c->dpkg_output (when any) goes into d's error, after
 * dpkg's words (c->err), and on its own as "script_output". */
void priv_dpkgout_record(const struct change_ctx *c, json_t *d);
/* The .dpkg-dist, .dpkg-new and .dpkg-old files beside the conffiles (under
 * /etc, from dpkg's database) of the packages in changes that were made or
 * renamed at or after since: a JSON array of paths (at most 64). */
json_t *priv_conffiles_left(const char *root, const char *native, json_t *changes, const struct timespec *since);

#endif
