/* celeryroot audit: the fleet's audit trail, as net copies priv's records
 * into the capped Redis stream celeryroot:audit (the authoritative copy is
 * each host's own audit file). */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_verify.h"
#include "auditchain.h"
#include "names.h"
#include "sign.h"
#include "rconn.h"
#include "timeutil.h"

#define AUDIT_STREAM "celeryroot:audit"
#define AUDIT_FILE_DEFAULT "/var/log/celeryroot/audit.log"
#define AUDIT_LIMIT_DEFAULT 50
#define AUDIT_LIMIT_MAX 10000

struct audit_opts {
	const char *host, *key, *op, *package, *file, *pubkey;
	double since;      /* unix time; 0: from the start */
	double until;      /* unix time; 0: up to now */
	long limit;
	int verify;
};

static void audit_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot audit [--host H] [--key K] [--op OP] [--package P] [--since T] [--until T]\n"
		"                        [--limit N] [--file FILE] [--json]\n"
		"       celeryroot audit --verify [--file FILE] [--host H] [--key FILE.pub] [--json]\n"
		"\n"
		"Shows the audit trail: what each host's root helper did or refused, newest\n"
		"last (the last %d unless --limit says otherwise), from the fleet's Redis\n"
		"stream, or with --file from a host's own audit log.  Filters: --host, --key\n"
		"(the operator key that signed the task), --op (install, remove, ...),\n"
		"--package, --since and --until.  T is a duration back from now (30m, 2h,\n"
		"7d) or a UTC date or time (2026-11-22, 2026-11-22T08:00:00).  A record from\n"
		"the stream that is not signed by its host's known key is shown as FORGED\n"
		"(or UNSIGNED, for a host that has no key), never as what the host did.\n"
		"\n"
		"--verify checks what a host's root helper wrote, against the host's key:\n"
		"  --file FILE  its audit log (default " AUDIT_FILE_DEFAULT " when no\n"
		"               --host is given) and the files rotation left beside it\n"
		"               (FILE.1, FILE.2, ...), read as one chain: every line is chained\n"
		"               to the one before by its hash and signed with the host key, so\n"
		"               an edited, inserted, reordered or forged line is reported with\n"
		"               its line number (exit 2)\n"
		"  --host H     H's records in the Redis stream: each signature, the signed\n"
		"               seqs (copies counted once; records deleted or trimmed away are\n"
		"               said plainly); entries not signed by H's key are forged and\n"
		"               ignored; with --file too, the two must agree where both hold\n"
		"               a record, and signed records past the file's end show that\n"
		"               lines were cut from it\n"
		"  --key F.pub  the host's public key (its /var/lib/celeryroot/host.pub; also\n"
		"               --pubkey); default: host.pub in the state directory of the host\n"
		"               root the file belongs to, else H's key in known_hosts\n"
		"Exit 0 only when everything asked for was checked and is intact; 2 when\n"
		"tampering shows; 3 when something could not be checked (no key, no broker,\n"
		"no signed record to compare): 'not checked' is never a success.\n"
		"\n"
		"examples:\n"
		"  celeryroot audit\n"
		"  celeryroot audit --host web01 --since 24h\n"
		"  celeryroot audit --key alice --op install --package openssl\n"
		"  celeryroot audit --since 2026-11-01 --limit 1000 --json\n"
		"  celeryroot audit --verify\n"
		"  celeryroot audit --verify --host web01\n"
		"  celeryroot audit --verify --file copies/web01/audit.log --host web01 --key web01-host.pub\n",
		AUDIT_LIMIT_DEFAULT);
}

/* "30m", "2h", "7d", "90s", "2026-11-22", "2026-11-22T08:00:00": unix time. */
static int parse_since(const char *s, double *out)
{
	struct tm tm;
	char unit = 0, extra;
	double n;

	if (sscanf(s, "%lf%c%c", &n, &unit, &extra) == 2 && n >= 0 && n <= 3650.0 * 86400) {
		double mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
		if (mult == 0)
			return -1;
		*out = cr_now_wall() - n * mult;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || *end != '\0')
		return -1;
	*out = (double)timegm(&tm);
	return 0;
}

static int take_value(struct audit_opts *a, const char *k, const char *v)
{
	if (!strcmp(k, "--host") && !cr_valid_hostname(v))
		return cli_err("invalid host name '%.64s'", v), -1;
	if ((!strcmp(k, "--since") && parse_since(v, &a->since) < 0) || (!strcmp(k, "--until") && parse_since(v, &a->until) < 0))
		return cli_err("%s takes a duration (30m, 2h, 7d) or a UTC date/time "
			       "(2026-11-22 or 2026-11-22T08:00:00), not '%.64s'", k, v), -1;
	if (!strcmp(k, "--limit") && ((a->limit = strtol(v, NULL, 10)) < 1 || a->limit > AUDIT_LIMIT_MAX))
		return cli_err("--limit takes a number from 1 to %d", AUDIT_LIMIT_MAX), -1;

	if (!strcmp(k, "--op") && !cr_valid_role(v))
		return cli_err("invalid operation '%.64s' (install, remove, upgrade, ...)", v), -1;
	if (!strcmp(k, "--package") && (strlen(v) > 128 || strchr(v, ' ')))
		return cli_err("invalid package name '%.64s'", v), -1;
	const char **dst = !strcmp(k, "--host") ? &a->host : !strcmp(k, "--key") ? &a->key : !strcmp(k, "--op") ? &a->op :
			   !strcmp(k, "--package") ? &a->package : !strcmp(k, "--file") ? &a->file :
			   !strcmp(k, "--pubkey") ? &a->pubkey : NULL;
	if (dst)
		*dst = v;
	return 0;
}

/* Takes out audit's own options; the rest goes to cli_parse. */
static int audit_args(int argc, char **argv, struct audit_opts *a, char **rest, int *nrest)
{
	static const char *const valued[] = { "--host", "--since", "--until", "--limit", "--key", "--op", "--package", "--file",
					      "--pubkey" };

	*nrest = 0;
	for (int i = 0; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int ours = 0;
		for (size_t j = 0; j < sizeof(valued) / sizeof(valued[0]); j++)
			ours |= !strcmp(k, valued[j]);
		if (!strcmp(k, "--verify")) {
			a->verify = 1;
			continue;
		}
		if (!ours) {
			rest[(*nrest)++] = argv[i];
			continue;
		}
		if (v == NULL)
			return cli_err("%s needs a value; see 'celeryroot audit --help'", k), -1;
		i++;
		if (take_value(a, k, v) < 0)
			return -1;
	}
	rest[*nrest] = NULL;
	/* --key names the operator key to filter by, or with --verify the
	 * host's public key file (also --pubkey). */
	if (a->key && a->verify && a->pubkey == NULL)
		a->pubkey = a->key, a->key = NULL;
	if (a->key && !cr_valid_key_id(a->key))
		return cli_err("invalid key id '%.64s'", a->key), -1;
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

static const char *str(json_t *o, const char *k);

/* The record's time: "time" (ISO, priv) or "time_unix" (net). */
static double record_time(json_t *r)
{
	struct tm tm;
	const char *t = json_string_value(json_object_get(r, "time"));

	if (json_is_number(json_object_get(r, "time_unix")))
		return json_number_value(json_object_get(r, "time_unix"));
	memset(&tm, 0, sizeof(tm));
	if (t == NULL || strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return (double)timegm(&tm);
}

static int has_package(json_t *r, const char *name)
{
	size_t i, n = strlen(name);
	json_t *p;

	json_array_foreach(json_object_get(r, "packages"), i, p) {
		const char *s = json_string_value(p);
		if (s && !strncmp(s, name, n) && (s[n] == '\0' || s[n] == '=' || s[n] == ':'))
			return 1;
	}
	return 0;
}

/* Every filter given must match. */
static int matches(const struct audit_opts *a, const char *host, json_t *r)
{
	double t = record_time(r);

	if (a->host && strcmp(host, a->host) != 0)
		return 0;
	if (a->key && strcmp(str(r, "key"), a->key) != 0)
		return 0;
	/* priv names the operation ("install"), net the task ("celeryroot.apt.install"). */
	if (a->op && strcmp(cr_sig_operation(str(r, "operation")), a->op) != 0)
		return 0;
	if (a->package && !has_package(r, a->package))
		return 0;
	return !((a->since > 0 && t < a->since) || (a->until > 0 && t > a->until));
}

/* One stream entry: {"id", "host", "record"}; NULL if it is not ours. */
static json_t *entry_json(const redisReply *e, const struct audit_opts *a)
{
	const redisReply *f;
	const char *host = NULL, *rec = NULL;
	size_t reclen = 0;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	f = e->element[1];
	for (size_t i = 0; i + 1 < f->elements; i += 2) {
		if (f->element[i]->type != REDIS_REPLY_STRING || f->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		if (!strcmp(f->element[i]->str, "host"))
			host = f->element[i + 1]->str;
		if (!strcmp(f->element[i]->str, "record"))
			rec = f->element[i + 1]->str, reclen = f->element[i + 1]->len;
	}
	if (host == NULL || rec == NULL || (a->host && strcmp(host, a->host) != 0))
		return NULL;
	json_t *r = json_loadb(rec, reclen, 0, NULL);
	if (!json_is_object(r) || !matches(a, host, r))
		return json_decref(r), NULL;
	return json_pack("{s:s, s:s, s:o}", "id", e->element[0]->str ? e->element[0]->str : "", "host", host,
			 "record", r);
}

static void detail(json_t *r, char *buf, size_t len)
{
	json_t *changes = json_object_get(r, "changes"), *v, *rb = json_object_get(r, "rollback");
	const char *name;
	size_t used = 0;

	buf[0] = '\0';
	if (json_is_string(json_object_get(r, "error")))
		used += (size_t)snprintf(buf, len, "%.120s", str(r, "error"));
	json_object_foreach(changes, name, v) {
		if (used >= len)
			break;
		used += (size_t)snprintf(buf + used, len - used, "%s%s %s -> %s", used ? "; " : "", name,
					 json_is_string(json_object_get(v, "old")) ? str(v, "old") : "-",
					 json_is_string(json_object_get(v, "new")) ? str(v, "new") : "-");
	}
	if (json_is_object(rb) && used < len)
		snprintf(buf + used, len - used, "%srollback %s", used ? "; " : "",
			 json_is_true(json_object_get(rb, "ok")) ? "ok" : "INCOMPLETE");
}

/* CELERYROOT_UNSIGNED_HOSTS=accept: records of hosts that have no key at
 * all are shown as they say (marked "unsigned" in --json). */
static int accept_unsigned(void)
{
	const char *v = getenv("CELERYROOT_UNSIGNED_HOSTS");
	return v != NULL && !strcmp(v, "accept");
}

static void table(json_t *entries)
{
	size_t i, j;
	json_t *e, *p;

	san_printf("%-24s  %-14s  %-10s  %-24s  %-15s  %s\n", "TIME", "HOST", "OPERATION", "PACKAGES", "OUTCOME", "DETAIL");
	json_array_foreach(entries, i, e) {
		json_t *r = json_object_get(e, "record");
		const char *sig = str(e, "signature"), *outcome = str(r, "outcome");
		char pkgs[256] = "", d[300];
		json_array_foreach(json_object_get(r, "packages"), j, p)
			snprintf(pkgs + strlen(pkgs), sizeof(pkgs) - strlen(pkgs), "%s%s", j ? "," : "", json_string_value(p));
		detail(r, d, sizeof(d));
		/* Never shown as what the host did unless its key signed it. */
		if (!strcmp(sig, "forged"))
			outcome = "FORGED";
		else if (!strcmp(sig, "unsigned") && !accept_unsigned())
			outcome = "UNSIGNED";
		san_printf("%-24.24s  %-14.14s  %-10.10s  %-24.24s  %-15.15s  %s%s%s%s\n", str(r, "time")[0] ? str(r, "time") : str(e, "id"),
			   str(e, "host"), str(r, "operation"), pkgs, outcome, !strcmp(sig, "net") ? "(by net) " : "",
			   json_is_true(json_object_get(r, "check")) ? "(check) " : "",
			   json_is_true(json_object_get(r, "now")) ? "(--now) " : "", d);
	}
	if (json_array_size(entries) == 0)
		san_printf("(no entries)\n");
}

/* Newest first from Redis, so that --limit keeps the most recent; printed
 * oldest first. */
static int audit_read(redisContext *c, const struct audit_opts *a, json_t *entries)
{
	char start[40], end[40], count[24];
	int filtered = a->host || a->key || a->op || a->package;
	redisReply *r;

	snprintf(start, sizeof(start), a->since > 0 ? "%.0f" : "-", a->since * 1000);
	snprintf(end, sizeof(end), a->until > 0 ? "%.0f" : "+", a->until * 1000);
	snprintf(count, sizeof(count), "%ld", filtered ? AUDIT_LIMIT_MAX : a->limit);
	r = cr_rconn_cmd(c, "XREVRANGE", AUDIT_STREAM, end, start, "COUNT", count, NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		cli_err("cannot read the audit stream: %s", r && r->str ? r->str : c->errstr);
		if (r)
			freeReplyObject(r);
		return -1;
	}
	for (size_t i = r->elements; i-- > 0;) {
		json_t *e = entry_json(r->element[i], a);
		if (e)
			json_array_append_new(entries, e);
	}
	freeReplyObject(r);
	while (json_array_size(entries) > (size_t)a->limit)
		json_array_remove(entries, 0);
	return 0;
}

/* A host's own audit log, filtered the same way; the last --limit entries. */
static int audit_read_file(const struct audit_opts *a, json_t *entries)
{
	FILE *f = fopen(a->file, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL) {
		cli_err("cannot read %s: %s", a->file, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		json_t *r = n <= AUDIT_LINE_MAX ? json_loadb(line, (size_t)n, 0, NULL) : NULL;
		if (json_is_object(r) && matches(a, str(r, "host"), r))
			json_array_append_new(entries, json_pack("{s:s, s:s, s:O}", "id", "", "host", str(r, "host"), "record", r));
		json_decref(r);
		while (json_array_size(entries) > (size_t)a->limit)
			json_array_remove(entries, 0);
	}
	free(line);
	fclose(f);
	return 0;
}

int cmd_audit(int argc, char **argv)
{
	struct audit_opts a = { .limit = AUDIT_LIMIT_DEFAULT };
	struct cli_opts *o = calloc(1, sizeof(*o));
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	json_t *entries = json_array();
	redisContext *c = NULL;
	int nrest = 0, first = -1, rc = EXIT_USAGE;

	if (o && rest && audit_args(argc, argv, &a, rest, &nrest) == 0)
		first = cli_parse(nrest, rest, o, 0, audit_help);
	if (first >= 0 && first < nrest)
		cli_err("unexpected argument '%s'; see 'celeryroot audit --help'", rest[first]);
	else if (first >= 0 && a.verify)
		rc = audit_verify(o, a.file ? a.file : a.host ? NULL : AUDIT_FILE_DEFAULT, a.host, a.pubkey);
	else if (first >= 0 && a.file)
		rc = audit_read_file(&a, entries) < 0 ? EXIT_USAGE : EXIT_OK;
	else if (first >= 0 && (c = cli_connect(o)) == NULL)
		rc = EXIT_BROKER;
	else if (first >= 0)
		rc = audit_read(c, &a, entries) < 0 ? EXIT_BROKER : EXIT_OK;
	if (rc == EXIT_OK && c != NULL && !a.verify)
		audit_mark(c, entries);
	if (rc == EXIT_OK && !a.verify && o->json) {
		json_t *out = json_pack("{s:O}", "entries", entries);
		san_json_print(stdout, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(out);
	} else if (rc == EXIT_OK && !a.verify) {
		table(entries);
	}
	if (c)
		cr_rconn_free(c);
	json_decref(entries);
	free(rest);
	free(o);
	return rc;
}
