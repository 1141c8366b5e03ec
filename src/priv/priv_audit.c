/* The audit log: one JSON line per request priv acted on or refused, each
 * chained to the one before by its hash (auditchain.h), signed with the
 * host key (hostsig.h), appended by priv alone (DESIGN §9) and rotated at a
 * size cap (priv_audit_file.c).  The same line goes back to net with the answer
 * (or on its own, ANS_AUDIT), which adds it to a capped Redis stream for
 * central review; the file on the host is the one net cannot touch, and the
 * signature lets a reviewer tell priv's lines from anyone else's.  Reads
 * are counted, not written one by one, and refusals past a budget are
 * coalesced (priv_audit_rate.c): what net can make priv write is bounded. */
#include "config.h"
#include "priv.h"
#include "priv_change.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ops.h"
#include "pkgspec.h"
#include "proto.h"

#define AUDIT_DEFAULT "var/log/celeryroot/audit.log"
#define AUDIT_MAX_DEFAULT (64L * 1024 * 1024)
#define AUDIT_KEEP_DEFAULT 5

void priv_audit_iso_now(char *buf, size_t len)
/* len must be at least 64: tm_year is an int. */
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static json_t *pkgs_json(const struct proto_req *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->npkgs; i++) {
		char spec[PKG_SPEC_MAX + 1];
		cr_pkgspec_format(&r->pkgs[i], spec, sizeof(spec));
		json_array_append_new(a, json_string(spec));
	}
	return a;
}

static json_t *field_or_null(json_t *data, const char *key)
{
	json_t *v = data ? json_object_get(data, key) : NULL;
	return v ? json_incref(v) : json_null();
}

json_t *priv_audit_record(const struct priv_ctx *p, const struct proto_req *r, const char *outcome, json_t *data)
{
	char when[64];

	const char *op = cr_op_req_name(r->type, r->op);
	json_t *rec;

	priv_audit_iso_now(when, sizeof(when));
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:s, s:o, s:o, s:o}", "time", when, "host", p->hostname ? p->hostname : "",
			"job", r->job, "task", r->task, "operation", op, "packages", pkgs_json(r), "check",
			r->check, "now", r->now, "outcome", outcome, "changes", field_or_null(data, "changes"), "rollback",
			field_or_null(data, "rollback"), "error", field_or_null(data, "error"));
	if (rec && r->allow_downgrade)
		json_object_set_new(rec, "allow_downgrade", json_true());
	if (rec)
		priv_upgrade_audit(r, rec);
	if (rec && r->allow_essential)
		json_object_set_new(rec, "allow_essential", json_true());
	if (rec && r->allow_removals)
		json_object_set_new(rec, "allow_removals", json_true());
	/* The local conffiles gave way to the packages' (--conffile new). */
	if (rec && r->conffile_new)
		json_object_set_new(rec, "conffile", json_string("new"));
	/* The key that signed the task (claimed, when the signature was refused). */
	if (rec && r->key[0])
		json_object_set_new(rec, "key", json_string(r->key));
	/* A task beat fired for a schedule: the schedule and the key that signed
	 * its definition (sign.h "for"), from the claims priv checked. */
	if (rec && r->key[0] && r->schedule[0])
		json_object_set_new(rec, "schedule", json_string(r->schedule));
	if (rec && r->key[0] && r->schedule[0] && r->schedule_key[0])
		json_object_set_new(rec, "schedule_key", json_string(r->schedule_key));
	/* What the repair of an interrupted dpkg run did, which earlier run of
	 * this task was cut short, which of APT's refusals stopped it, and what
	 * the host's config let in unauthenticated: part of what priv did. */
	for (size_t i = 0; rec && data && i < 4; i++) {
		static const char *const extra[] = { "repaired", "interrupted", "refused_by", "unauthenticated" };
		json_t *v = json_object_get(data, extra[i]);
		if (v != NULL)
			json_object_set(rec, extra[i], v);
	}
	/* The conffile copies dpkg left for the administrator to merge. */
	if (rec && json_array_size(json_object_get(data, "conffiles_left")) > 0)
		json_object_set(rec, "conffiles_left", json_object_get(data, "conffiles_left"));
	return rec;
}

static int audit_path(const struct priv_ctx *p, char *buf, size_t len)
{
	if (p->audit_log && p->audit_log[0])
		return snprintf(buf, len, "%s", p->audit_log) < (int)len;
	return priv_root_path(buf, len, p->root, AUDIT_DEFAULT);
}

int priv_audit_write(const struct priv_ctx *p, json_t *rec)
{
	char path[PATH_MAX];

	if (rec == NULL || !audit_path(p, path, sizeof(path)))
		return -1;
	return priv_audit_file_append(path, p->audit_max_bytes > 0 ? p->audit_max_bytes : AUDIT_MAX_DEFAULT,
				 p->audit_keep > 0 ? p->audit_keep : AUDIT_KEEP_DEFAULT, rec, p->hostkey);
}

/* Written when the window's budget allows it, else counted (priv_audit_rate.c). */
static json_t *refusal_line(struct priv_ctx *p, json_t *rec, const char *type, const char *reason)
{
	if (rec == NULL || !priv_audit_rate_refusal(p, type, json_string_value(json_object_get(rec, "key")), reason) ||
	    priv_audit_write(p, rec) < 0) {
		json_decref(rec);
		return NULL;
	}
	return rec;
}

json_t *priv_audit_refusal(struct priv_ctx *p, uint32_t id, const char *type, const char *reason)
{
	char when[64];

	priv_audit_iso_now(when, sizeof(when));
	return refusal_line(p, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "time", when, "host",
					 p->hostname ? p->hostname : "", "request", (json_int_t)id, "type", type,
					 "outcome", "refused", "error", reason),
			    type, reason);
}

/* A request refused for its signature: the record says which key it claimed. */
json_t *priv_audit_refusal_req(struct priv_ctx *p, const struct proto_req *r, const char *reason)
{
	json_t *why = json_pack("{s:s}", "error", reason);
	json_t *rec = priv_audit_record(p, r, "refused", why);

	json_decref(why);
	return refusal_line(p, rec, cr_proto_type_name(r->type), reason);
}
