/* The audit log: one JSON line per request priv acted on or refused, each
 * chained to the one before by its hash (auditchain.h),
 * appended by priv alone (DESIGN §4).  The same record goes back to net in
 * the reply, which adds it to a capped Redis stream for central review; the
 * file on the host is the one net cannot touch. */
#include "config.h"
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auditchain.h"
#include "log.h"
#include "pkgspec.h"
#include "proto.h"

#define AUDIT_DEFAULT "var/log/celeryroot/audit.log"

static void iso_now(char *buf, size_t len)
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
		pkgspec_format(&r->pkgs[i], spec, sizeof(spec));
		json_array_append_new(a, json_string(spec));
	}
	return a;
}

static json_t *field_or_null(json_t *data, const char *key)
{
	json_t *v = data ? json_object_get(data, key) : NULL;
	return v ? json_incref(v) : json_null();
}

json_t *audit_record(const struct priv_ctx *p, const struct proto_req *r, const char *outcome, json_t *data)
{
	char when[64];

	const char *op = r->op[0] ? r->op : r->type == REQ_PING ? "ping" : r->type == REQ_FACTS ? "facts" : "";
	json_t *rec;

	iso_now(when, sizeof(when));
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:s, s:o, s:o, s:o}", "time", when, "host", p->hostname ? p->hostname : "",
			"job", r->job, "task", r->task, "operation", op, "packages", pkgs_json(r), "check",
			r->check, "now", r->now, "outcome", outcome, "changes", field_or_null(data, "changes"), "rollback",
			field_or_null(data, "rollback"), "error", field_or_null(data, "error"));
	/* The key that signed the task (claimed, when the signature was refused). */
	if (rec && r->key[0])
		json_object_set_new(rec, "key", json_string(r->key));
	return rec;
}

static int audit_path(const struct priv_ctx *p, char *buf, size_t len)
{
	if (p->audit_log && p->audit_log[0])
		return snprintf(buf, len, "%s", p->audit_log) < (int)len;
	return priv_root_path(buf, len, p->root, AUDIT_DEFAULT);
}

/* mkdir -p of the file's directory, 0750: the log names packages and jobs. */
static void make_parent(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0750);
		*s = '/';
	}
}

/* Appends rec, chained to the last line (auditchain.h).  The file is locked
 * from reading its last line to writing the new one: priv and its change
 * worker both write here. */
void audit_write(const struct priv_ctx *p, json_t *rec)
{
	char path[PATH_MAX];
	struct audit_head head;
	char *line;
	int fd;

	if (rec == NULL || !audit_path(p, path, sizeof(path)))
		return;
	make_parent(path);
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
	if (fd < 0) {
		error_f("cannot open the audit log %s: %s", path, strerror(errno));
		return;
	}
	flock(fd, LOCK_EX);
	if (auditchain_head(fd, &head) < 0) {
		error_f("the last line of %s is not a chained record; starting a new chain", path);
		auditchain_genesis(&head);
	}
	/* A torn last line (a crash mid-write) is ended, so ours stays whole. */
	if (head.torn && write(fd, "\n", 1) != 1)
		error_f("cannot append to the audit log %s: %s", path, strerror(errno));
	json_object_set_new(rec, "seq", json_integer((json_int_t)head.seq + 1));
	json_object_set_new(rec, "prev", json_string(head.hash));
	if ((line = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS)) != NULL) {
		size_t len = strlen(line);
		line[len] = '\n';   /* one write: a line is never split */
		if (write(fd, line, len + 1) != (ssize_t)(len + 1))
			error_f("cannot append to the audit log %s: %s", path, strerror(errno));
		free(line);
	}
	flock(fd, LOCK_UN);
	close(fd);
}

void audit_refusal(const struct priv_ctx *p, uint32_t id, const char *type, const char *reason)
{
	char when[64];
	json_t *rec;

	iso_now(when, sizeof(when));
	rec = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "time", when, "host", p->hostname ? p->hostname : "", "request",
			(json_int_t)id, "type", type, "outcome", "refused", "error", reason);
	audit_write(p, rec);
	json_decref(rec);
}

/* A request refused for its signature: the record says which key it claimed. */
void audit_refusal_req(const struct priv_ctx *p, const struct proto_req *r, const char *reason)
{
	json_t *why = json_pack("{s:s}", "error", reason);
	json_t *rec = audit_record(p, r, "refused", why);

	audit_write(p, rec);
	json_decref(rec);
	json_decref(why);
}
