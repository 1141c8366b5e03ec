/* The INI configuration (libinih); the broker address is in broker.c. */
#include "config.h"
#include "crerr.h"
#include "crconfig.h"
#include "broker_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* inih reports the line of the first entry whose handler failed, so the
 * handlers keep only the first message and finish() adds file and line. */
struct parse_ctx {
	struct cr_config *c;
	const char *file;
	char *err;
	size_t errlen;
	int failed;
	char msg[400];
};

struct int_key {
	const char *section, *key;
	size_t off;
	long min, max;
	const char *unit;   /* what the number counts ("seconds" when NULL) */
};

#define TEN_YEARS 315360000L
#define OFF(f) offsetof(struct cr_config, f)
static const struct int_key int_keys[] = {
	{ "daemon", "heartbeat_interval", OFF(heartbeat_s), 1, 3600, NULL },
	{ "daemon", "result_expires", OFF(result_expires_s), 60, TEN_YEARS, NULL },
	{ "daemon", "lock_timeout", OFF(lock_timeout_s), 0, 3600, NULL },
	{ "cli", "timeout", OFF(timeout_s), 0, TEN_YEARS, NULL },   /* 0: do not wait */
	{ "cli", "task_expires", OFF(task_expires_s), 1, TEN_YEARS, NULL },
	{ "cli", "job_ttl", OFF(job_ttl_s), 60, TEN_YEARS, NULL },
	/* priv's audit log: rotated past this size, this many old files kept. */
	{ "daemon", "audit_max_size", OFF(audit_max_bytes), 4096, 1L << 30, "bytes" },
	{ "daemon", "audit_keep", OFF(audit_keep), 1, 100, "files" },
	{ "daemon", "audit_changes_per_minute", OFF(audit_changes_per_minute), 1, 1000000, "changes" },
	/* 0: priv gives the cache back right after each read. */
	{ "daemon", "apt_cache_idle", OFF(apt_cache_idle_s), 0, 86400, NULL },
	/* net's first reconnect after losing the broker, at random within this:
	 * a fleet does not return to a restarted Redis all at once. */
	{ "broker", "reconnect_spread", OFF(reconnect_spread_ms), 0, 60000, "milliseconds" },
};

void cr_config_defaults(struct cr_config *c)
{
	memset(c, 0, sizeof(*c));
	cr_copy_str(c->broker_url, sizeof(c->broker_url), BROKER_DEFAULT_URL);
	cr_copy_str(c->user, sizeof(c->user), "_celeryroot");
	c->heartbeat_s = 5;
	c->reconnect_spread_ms = 2000;
	c->result_expires_s = 30 * 86400;
	c->lock_timeout_s = 120;
	c->timeout_s = 60;
	c->task_expires_s = 86400;
	c->job_ttl_s = 30 * 86400;
	c->require_signed = -1;
	c->broker_ssl_cert_reqs = -1;
	c->audit_max_bytes = 64 * 1024 * 1024;
	c->audit_keep = 5;
	c->audit_changes_per_minute = 300;
	c->apt_cache_idle_s = 30;
	cr_copy_str(c->trusted_keys, sizeof(c->trusted_keys), TRUSTED_KEYS_DEFAULT);
}

static int fail(struct parse_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse_ctx *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	p->failed = 1;
	return 0;
}

static int parse_roles(struct parse_ctx *p, const char *v)
{
	char buf[1024], *save = NULL;

	if (!cr_copy_str(buf, sizeof(buf), v))
		return fail(p, "roles: list longer than %zu characters", sizeof(buf) - 1);
	p->c->nroles = 0;
	for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (!cr_valid_role(tok))
			return fail(p, "invalid role '%.80s' in roles: use [a-z0-9][a-z0-9_-]{0,62}, separated by commas or spaces", tok);
		if (p->c->nroles >= REG_MAX_ROLES)
			return fail(p, "roles: at most %d roles", REG_MAX_ROLES);
		cr_copy_str(p->c->roles[p->c->nroles++], ROLE_MAX + 1, tok);
	}
	return 1;
}

/* Decimal digits only: strtol alone would also take " 5", "+5" and "-0". */
static int set_int(struct parse_ctx *p, const struct int_key *k, const char *v)
{
	char *end = NULL;
	long n = 0;

	errno = 0;
	if (v[0] >= '0' && v[0] <= '9')
		n = strtol(v, &end, 10);
	if (end == NULL || errno || *end != '\0' || n < k->min || n > k->max)
		return fail(p, "%s = '%.40s': must be a whole number of %s between %ld and %ld",
			    k->key, v, k->unit ? k->unit : "seconds", k->min, k->max);
	*(int *)((char *)p->c + k->off) = (int)n;
	return 1;
}

static int set_str(struct parse_ctx *p, const char *key, char *dst, size_t len, const char *v)
{
	if (!cr_copy_str(dst, len, v))
		return fail(p, "%s is longer than %zu characters", key, len - 1);
	return 1;
}

static int set_path(struct parse_ctx *p, const char *key, char *dst, size_t len, const char *v);
static int set_bool(struct parse_ctx *p, const char *key, int *dst, const char *v);

/* ssl and kombu's ssl_* keys (README, "TLS"). */
static int on_broker_tls(struct parse_ctx *p, const char *k, const char *v)
{
	if (!strcmp(k, "ssl"))
		return set_bool(p, k, &p->c->broker_ssl, v);
	if (!strcmp(k, "ssl_cert_reqs")) {
		if ((p->c->broker_ssl_cert_reqs = cr_broker_tls_reqs(v)) < 0)
			return fail(p, "ssl_cert_reqs = '%.40s': use required, optional or none", v);
		return 1;
	}
	if (!strcmp(k, "ssl_ca_certs"))
		return set_path(p, k, p->c->broker_ssl_ca_certs, sizeof(p->c->broker_ssl_ca_certs), v);
	if (!strcmp(k, "ssl_certfile"))
		return set_path(p, k, p->c->broker_ssl_certfile, sizeof(p->c->broker_ssl_certfile), v);
	if (!strcmp(k, "ssl_keyfile"))
		return set_path(p, k, p->c->broker_ssl_keyfile, sizeof(p->c->broker_ssl_keyfile), v);
	if (!strcmp(k, "password_file"))
		return set_path(p, k, p->c->broker_password_file, sizeof(p->c->broker_password_file), v);
	return fail(p, "unknown key '%.64s' in [broker] (allowed: url, username, password, password_file, ssl, "
		    "ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile, master_name, sentinel_password, "
		    "reconnect_spread)", k);
}

static int on_broker(struct parse_ctx *p, const char *k, const char *v)
{
	if (!strcmp(k, "url")) {
		/* Checked here too, so that a bad URL is reported with its line. */
		struct broker_addr b;
		char why[CR_ERR_MAX];
		if (cr_broker_parse_url(v, &b, why, sizeof(why)) < 0)
			return fail(p, "url: %s", why);
		return set_str(p, k, p->c->broker_url, sizeof(p->c->broker_url), v);
	}
	if (!strcmp(k, "username"))
		return set_str(p, k, p->c->broker_user, sizeof(p->c->broker_user), v);
	/* Either the password or the file holding it: two would leave it to
	 * the reader to guess which one is used. */
	if ((!strcmp(k, "password") && p->c->broker_password_file[0]) ||
	    (!strcmp(k, "password_file") && p->c->broker_password[0]))
		return fail(p, "password and password_file are both set in [broker]: keep only password_file");
	if (!strcmp(k, "password"))
		return set_str(p, k, p->c->broker_password, sizeof(p->c->broker_password), v);
	if (!strcmp(k, "master_name"))
		return set_str(p, k, p->c->master_name, sizeof(p->c->master_name), v);
	if (!strcmp(k, "sentinel_password"))
		return set_str(p, k, p->c->sentinel_password, sizeof(p->c->sentinel_password), v);
	return on_broker_tls(p, k, v);
}

/* A POSIX portable user name: it ends up in getpwnam(). */
static int valid_user(const char *s)
{
	size_t n = strnlen(s, 33);

	if (n == 0 || n > 32 || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return 0;
	return 1;
}

static int set_path(struct parse_ctx *p, const char *key, char *dst, size_t len, const char *v)
{
	if (v[0] != '/')
		return fail(p, "%s must be an absolute path, got '%.80s'", key, v);
	return set_str(p, key, dst, len, v);
}

static int set_bool(struct parse_ctx *p, const char *key, int *dst, const char *v)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		return *dst = 1;
	if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		return (*dst = 0), 1;
	return fail(p, "%s = '%.40s': use true or false", key, v);
}

static const char *const apparmor_modes[] = { [CR_APPARMOR_AUTO] = "auto",
					       [CR_APPARMOR_REQUIRE] = "require",
					       [CR_APPARMOR_OFF] = "off" };

const char *cr_config_apparmor_name(int mode)
{
	return mode >= 0 && mode <= CR_APPARMOR_OFF ? apparmor_modes[mode] : "?";
}

static int set_apparmor(struct parse_ctx *p, const char *v)
{
	for (int m = CR_APPARMOR_AUTO; m <= CR_APPARMOR_OFF; m++)
		if (!strcmp(v, apparmor_modes[m]))
			return (p->c->apparmor = m), 1;
	return fail(p, "apparmor = '%.40s': use auto, require or off", v);
}

static int on_daemon(struct parse_ctx *p, const char *k, const char *v)
{
	if (!strcmp(k, "hostname")) {
		if (!cr_valid_hostname(v))
			return fail(p, "invalid hostname '%.80s': use lower-case letters, digits, '-' and '.'", v);
		return set_str(p, k, p->c->hostname, sizeof(p->c->hostname), v);
	}
	if (!strcmp(k, "roles"))
		return parse_roles(p, v);
	if (!strcmp(k, "user")) {
		if (!valid_user(v))
			return fail(p, "invalid user '%.40s': use lower-case letters, digits, '_' and '-'", v);
		return set_str(p, k, p->c->user, sizeof(p->c->user), v);
	}
	if (!strcmp(k, "sandbox")) {
		if (v[0] != '/')
			return fail(p, "sandbox must be an absolute path, got '%.80s'", v);
		return set_str(p, k, p->c->sandbox, sizeof(p->c->sandbox), v);
	}
	if (!strcmp(k, "audit_log"))
		return set_path(p, k, p->c->audit_log, sizeof(p->c->audit_log), v);
	if (!strcmp(k, "trusted_keys"))
		return set_path(p, k, p->c->trusted_keys, sizeof(p->c->trusted_keys), v);
	if (!strcmp(k, "require_signed"))
		return set_bool(p, k, &p->c->require_signed, v);
	if (!strcmp(k, "apparmor"))
		return set_apparmor(p, v);
	if (!strcmp(k, "allow_unauthenticated"))
		return set_bool(p, k, &p->c->allow_unauthenticated, v);
	/* kombu's redelivery timers: each host now takes back its own tasks at start. */
	if (!strcmp(k, "visibility_timeout") || !strcmp(k, "restore_interval"))
		return fail(p, "'%s' is no longer used: a host takes back the tasks it had taken as soon as it starts "
			    "again (README, \"Delivery\"); remove the line", k);
	return fail(p, "unknown key '%.64s' in [daemon] (allowed: hostname, roles, user, sandbox, audit_log, lock_timeout, "
		    "heartbeat_interval, result_expires, trusted_keys, require_signed, apparmor, audit_max_size, "
		    "audit_keep, audit_changes_per_minute, allow_unauthenticated, apt_cache_idle)", k);
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *p = user;

	if (p->failed)
		return 0;
	for (const char *c = value; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
			return fail(p, "control character in the value of '%.64s'", key);
	for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++)
		if (!strcmp(section, int_keys[i].section) && !strcmp(key, int_keys[i].key))
			return set_int(p, &int_keys[i], value);
	/* Checked by their own readers: beat (schedules) and the daemon (windows). */
	if (!strncmp(section, "schedule ", 9) || !strncmp(section, "window ", 7))
		return 1;
	if (!strcmp(section, "broker"))
		return on_broker(p, key, value);
	if (!strcmp(section, "daemon"))
		return on_daemon(p, key, value);
	if (!strcmp(section, "cli") && !strcmp(key, "signing_key"))
		return set_path(p, key, p->c->signing_key, sizeof(p->c->signing_key), value);
	if (!strcmp(section, "cli"))
		return fail(p, "unknown key '%.64s' in [cli] (allowed: timeout, task_expires, job_ttl, signing_key)", key);
	/* beat fires a runtime schedule only when a key from here signed it. */
	if (!strcmp(section, "beat") && !strcmp(key, "trusted_keys"))
		return set_path(p, key, p->c->beat_trusted_keys, sizeof(p->c->beat_trusted_keys), value);
	if (!strcmp(section, "beat"))
		return fail(p, "unknown key '%.64s' in [beat] (allowed: trusted_keys)", key);
	if (section[0] == '\0')
		return fail(p, "key '%.64s' outside any section: put it under [broker], [daemon] or [cli]", key);
	return fail(p, "unknown section [%.64s] (allowed: broker, daemon, cli, beat, schedule NAME, window NAME)", section);
}

static int accept_all(void *user, const char *section, const char *key, const char *value)
{
	(void)user, (void)section, (void)key, (void)value;
	return 1;
}

/* inih returns only the line of the first error, be it a syntax error or a
 * refusal by our handler; syntax_line (from a pass that accepts every entry)
 * tells the two apart, so the message matches the line. */
static int finish(struct parse_ctx *p, int syntax_line, int rc)
{
	if (rc < 0) {
		snprintf(p->err, p->errlen, "%s: cannot parse (out of memory)", p->file);
		return -1;
	}
	if (syntax_line > 0 && syntax_line == rc) {
		snprintf(p->err, p->errlen, "%s:%d: syntax error (expected [section] or key = value)", p->file, rc);
		return -1;
	}
	if (p->failed) {
		snprintf(p->err, p->errlen, "%s:%d: %s", p->file, rc, p->msg);
		return -1;
	}
	return 0;
}

int cr_config_parse_string(struct cr_config *c, const char *text, char *err, size_t errlen)
{
	struct parse_ctx p = { .c = c, .file = "config", .err = err, .errlen = errlen };
	int syntax = ini_parse_string(text, accept_all, NULL);

	return finish(&p, syntax, ini_parse_string(text, on_entry, &p));
}

int cr_config_file_safe(const struct cr_config *c, const char *path, char *err, size_t errlen)
{
	int secret = c->broker_password[0] != '\0' || c->sentinel_password[0] != '\0' || strchr(c->broker_url, '@') != NULL;

	if (!c->file.found)
		return 0;
	if (c->file.mode & 022)
		return snprintf(err, errlen, "%s is writable by group or others (mode %04o): run 'chmod go-w %s'", path,
				(unsigned)(c->file.mode & 07777), path), -1;
	if (c->file.uid != 0 && c->file.uid != geteuid())
		return snprintf(err, errlen, "%s belongs to uid %ld, who could change what this host runs: run 'chown root %s'",
				path, (long)c->file.uid, path), -1;
	if (secret && (c->file.mode & 004))
		return snprintf(err, errlen, "%s holds the broker password and is readable by everyone (mode %04o): run "
				"'chmod o-r %s' (640, or 600)", path, (unsigned)(c->file.mode & 07777), path), -1;
	return 0;
}

int cr_config_load(struct cr_config *c, const char *path, int must_exist, char *err, size_t errlen)
{
	struct parse_ctx p = { .c = c, .file = path, .err = err, .errlen = errlen };
	FILE *f = fopen(path, "re");
	int syntax, rc;

	if (f == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat sb;
	/* A regular file's owner and mode (not /dev/null's, say: empty by nature). */
	if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) {
		c->file.found = 1;
		c->file.mode = sb.st_mode;
		c->file.uid = sb.st_uid;
	}
	syntax = ini_parse_file(f, accept_all, NULL);
	rewind(f);
	rc = ini_parse_file(f, on_entry, &p);
	/* inih treats a read error as the end of the file: a directory or an
	 * unreadable device would otherwise pass as an empty configuration. */
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
		return -1;
	}
	fclose(f);
	return finish(&p, syntax, rc);
}
