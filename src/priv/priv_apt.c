/* The read-only APT requests (query, list), answered by priv itself from the
 * cache it keeps open while it is in use (given back after apt_cache_idle_s
 * without a read, DESIGN §7): they never take the dpkg lock, so they are
 * answered while a change runs in the change child.  Requests arrive decoded
 * by proto.c, which re-validated every package spec; nothing here builds a
 * command line. */
#include "config.h"
#include "priv.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apt_shim.h"
#include "log.h"
#include "ops.h"
#include "proto.h"

/* A list answer must fit one frame, as the signed payload (its quotes
 * escaped once more) with the attest around it; past this it says it was
 * cut.  ENTRY_BYTES is an entry's size in the payload beside its strings. */
#define LIST_MAX_BYTES (40 * 1024)
#define ENTRY_BYTES 80

int priv_apt_readonly(const struct proto_req *r)
{
	const struct cr_op *op = cr_op_by_req(REQ_APT, r->op);
	return op != NULL && !(op->flags & CR_OP_CHANGES);
}

static json_t *str_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *pkg_json(const struct aptshim_pkg_info *i)
{
	json_t *o = json_pack("{s:b, s:o, s:o, s:b, s:s, s:s, s:s, s:b}", "known", i->known, "installed",
			      str_or_null(i->installed), "candidate", str_or_null(i->candidate), "upgradable",
			      i->upgradable, "origin", i->origin, "archive", i->archive, "label", i->label,
			      "security", i->security);
	if (o && i->security_upgradable)
		json_object_set_new(o, "security_version", json_string(i->security_version));
	/* dpkg's selection, and whether it is a hold (issue 15). */
	if (o && i->selection[0])
		json_object_set_new(o, "selection", json_string(i->selection));
	if (o)
		json_object_set_new(o, "held", json_boolean(!strcmp(i->selection, "hold")));
	return o;
}

static json_t *answer(const struct priv_ctx *p, json_t *pkgs)
{
	return json_pack("{s:o, s:b, s:o}", "packages", pkgs, "refreshed", 0, "cache_age_s",
			 priv_lists_age_json(p->root));
}

static json_t *apt_query(const struct priv_ctx *p, const struct proto_req *r, char *err, size_t errlen)
{
	const char *names[PKG_SPECS_MAX];
	char full[PKG_SPECS_MAX][APTSHIM_NAME_MAX];
	struct aptshim_pkg_info *info = calloc(PKG_SPECS_MAX, sizeof(*info));
	json_t *pkgs;

	if (info == NULL)
		return snprintf(err, errlen, "out of memory"), NULL;
	for (size_t i = 0; i < r->npkgs && i < PKG_SPECS_MAX; i++) {
		snprintf(full[i], sizeof(full[i]), "%s%s%s", r->pkgs[i].name, r->pkgs[i].arch[0] ? ":" : "",
			 r->pkgs[i].arch);
		names[i] = full[i];
	}
	if (priv_aptshim_query(names, r->npkgs, info, err, errlen) < 0) {
		free(info);
		return NULL;
	}
	pkgs = json_object();
	for (size_t i = 0; i < r->npkgs; i++)
		json_object_set_new(pkgs, full[i], pkg_json(&info[i]));
	free(info);
	return answer(p, pkgs);
}

/* Compact entries: a host can have thousands of packages installed. */
static json_t *apt_list(const struct priv_ctx *p, const struct proto_req *r, char *err, size_t errlen)
{
	struct aptshim_pkg_info *info = NULL;
	size_t n = 0, bytes = 0, i;
	json_t *pkgs, *d;

	if (priv_aptshim_list(r->upgradable, r->security, &info, &n, err, errlen) < 0)
		return NULL;
	pkgs = json_array();
	for (i = 0; i < n && bytes < LIST_MAX_BYTES; i++) {
		const struct aptshim_pkg_info *e = &info[i];
		const char *to = r->security ? e->security_version : e->candidate;
		json_array_append_new(pkgs, json_pack("{s:s, s:o, s:o, s:b}", "name", e->name, "installed",
						      str_or_null(e->installed), "candidate", str_or_null(to),
						      "security", r->security || e->security));
		bytes += strlen(e->name) + strlen(e->installed) + strlen(to) + ENTRY_BYTES;
	}
	d = answer(p, pkgs);
	json_object_set_new(d, "total", json_integer((json_int_t)n));
	json_object_set_new(d, "truncated", json_boolean(i < n));
	free(info);
	return d;
}

/* The handlers of the operation table's APT reads (ops.h), one row each:
 * priv_ops_check() refuses to start without one. */
static const struct {
	const char *op;
	json_t *(*fn)(const struct priv_ctx *p, const struct proto_req *r, char *err, size_t errlen);
} read_ops[] = {
	{ "query", apt_query },
	{ "list", apt_list },
};

int priv_apt_handles(const char *op)
{
	for (size_t i = 0; i < sizeof(read_ops) / sizeof(read_ops[0]); i++)
		if (!strcmp(op, read_ops[i].op))
			return 1;
	return 0;
}

json_t *priv_apt(struct priv_ctx *p, const struct proto_req *r, char *err, size_t errlen)
{
	if (priv_aptshim_init(p->root, err, errlen) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(read_ops) / sizeof(read_ops[0]); i++)
		if (!strcmp(r->op, read_ops[i].op))
			return read_ops[i].fn(p, r, err, errlen);
	snprintf(err, errlen, "operation '%s' is not a query", r->op);
	return NULL;
}

/* priv's resident size in KiB, from /proc/self/statm; -1 when unreadable. */
static long priv_rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = -1, page = sysconf(_SC_PAGESIZE);

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2 || page <= 0)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (page / 1024);
}

/* With a real host's lists the open cache is ~47 MiB of priv's heap, kept
 * only while reads come; reopening from apt's pkgcache.bin costs a fraction
 * of a second (bench/mem_idle.py). */
double priv_apt_idle_tick(struct priv_ctx *p)
{
	double idle = priv_aptshim_idle_s();

	if (idle < 0)
		return -1;
	if (idle < (double)p->apt_cache_idle_s)
		return (double)p->apt_cache_idle_s - idle;
	long before = priv_rss_kib();
	priv_aptshim_release();
	long after = priv_rss_kib();
	info_f("gave the APT cache back after %.0f s without a read (resident %ld -> %ld KiB); the next read reopens it",
	       idle, before, after);
	return -1;
}
