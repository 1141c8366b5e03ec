/* Unit tests for crconfig.c: the INI file, the broker URL and where the
 * broker address comes from. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crconfig.h"

static const char full_ini[] =
	"; a comment\n"
	"[broker]\n"
	"url = redis://redis.example.org:6380/2\n"
	"username = celeryroot\n"
	"password = s3cret\n"
	"\n"
	"[daemon]\n"
	"hostname = web01.dc1\n"
	"roles = webserver, edge  db_primary\n"
	"user = _crtest\n"
	"sandbox = /var/lib/celeryroot/sandbox\n"
	"heartbeat_interval = 7\n"
	"result_expires = 86400\n"
	"audit_max_size = 1048576\n"
	"audit_keep = 9\n"
	"allow_unauthenticated = true\n"
	"[cli]\n"
	"timeout = 0\n"
	"task_expires = 600\n"
	"job_ttl = 604800\n";

START_TEST(defaults)
{
	struct cr_config c;

	cr_config_defaults(&c);
	ck_assert_int_eq(c.heartbeat_s, 5);
	ck_assert_int_eq(c.result_expires_s, 2592000);
	ck_assert_int_eq(c.timeout_s, 60);
	ck_assert_int_eq(c.task_expires_s, 86400);
	ck_assert_int_eq(c.job_ttl_s, 2592000);
	ck_assert_str_eq(c.user, "_celeryroot");
	ck_assert_str_eq(c.broker_url, BROKER_DEFAULT_URL);
	ck_assert_str_eq(c.hostname, "");
	ck_assert_int_eq(c.nroles, 0);
	ck_assert_int_eq(c.audit_max_bytes, 64 * 1024 * 1024);
	ck_assert_int_eq(c.audit_keep, 5);
	ck_assert_int_eq(c.allow_unauthenticated, 0);
}
END_TEST

START_TEST(parse_full)
{
	struct cr_config c;
	char err[512] = "";

	cr_config_defaults(&c);
	ck_assert_msg(cr_config_parse_string(&c, full_ini, err, sizeof(err)) == 0, "refused: %s", err);
	ck_assert_str_eq(c.broker_url, "redis://redis.example.org:6380/2");
	ck_assert_str_eq(c.broker_user, "celeryroot");
	ck_assert_str_eq(c.broker_password, "s3cret");
	ck_assert_str_eq(c.hostname, "web01.dc1");
	ck_assert_int_eq(c.nroles, 3);
	ck_assert_str_eq(c.roles[0], "webserver");
	ck_assert_str_eq(c.roles[1], "edge");
	ck_assert_str_eq(c.roles[2], "db_primary");
	ck_assert_str_eq(c.user, "_crtest");
	ck_assert_str_eq(c.sandbox, "/var/lib/celeryroot/sandbox");
	ck_assert_int_eq(c.heartbeat_s, 7);
	ck_assert_int_eq(c.result_expires_s, 86400);
	ck_assert_int_eq(c.timeout_s, 0);
	ck_assert_int_eq(c.task_expires_s, 600);
	ck_assert_int_eq(c.job_ttl_s, 604800);
	ck_assert_int_eq(c.audit_max_bytes, 1048576);
	ck_assert_int_eq(c.audit_keep, 9);
	ck_assert_int_eq(c.allow_unauthenticated, 1);
}
END_TEST

/* Parses text and expects a refusal whose message contains each part. */
static void refused(const char *text, const char *part1, const char *part2)
{
	struct cr_config c;
	char err[512] = "";

	cr_config_defaults(&c);
	ck_assert_msg(cr_config_parse_string(&c, text, err, sizeof(err)) == -1, "accepted: %s", text);
	ck_assert_msg(strstr(err, part1) != NULL, "'%s' lacks '%s'", err, part1);
	if (part2)
		ck_assert_msg(strstr(err, part2) != NULL, "'%s' lacks '%s'", err, part2);
}

START_TEST(parse_unknown)
{
	refused("[daemon]\nhostname = web01\ncolour = blue\n", "config:3:", "unknown key 'colour' in [daemon]");
	refused("[daemon]\ncolour = blue\n", "allowed: hostname, roles", NULL);
	refused("[cli]\n\n\ntimeuot = 5\n", "config:4:", "unknown key 'timeuot' in [cli] (allowed: timeout");
	refused("[broker]\nhost = x\n", "config:2:", "[broker] (allowed: url, username, password, master_name, sentinel_password, reconnect_spread)");
	refused("[brokers]\nurl = redis://x\n", "config:2:", "unknown section [brokers]");
	refused("url = redis://x\n", "config:1:", "outside any section");
	refused("[daemon\nhostname = web01\n", "config:1:", "syntax error");
	refused("[daemon]\nthis is not a key\n", "config:2:", "syntax error");
	/* kombu's redelivery timers are gone; an old config says how to fix it. */
	refused("[daemon]\nvisibility_timeout = 3600\n", "config:2:", "no longer used: a host takes back");
	refused("[daemon]\nrestore_interval = 10\n", "'restore_interval' is no longer used", "remove the line");
	/* Only the first error is reported, with its own line. */
	refused("[daemon]\nheartbeat_interval = 5\nbad = 1\nworse = 2\n", "config:3:", "'bad'");
}
END_TEST

START_TEST(parse_bad_values)
{
	static const char *const bad_ints[] = { "abc", "0", "-1", "+5", "5s", "5 s", "0x10", "3601",
						"99999999999999999999", "", "1.5" };
	char text[128];

	for (size_t i = 0; i < sizeof(bad_ints) / sizeof(bad_ints[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\nheartbeat_interval = %s\n", bad_ints[i]);
		refused(text, "config:2: heartbeat_interval", "between 1 and 3600");
	}
	refused("[cli]\njob_ttl = 315360001\n", "job_ttl", "between 60 and 315360000");
	refused("[cli]\ntimeout = -1\n", "timeout", NULL);
	refused("[daemon]\naudit_max_size = 100\n", "audit_max_size", "whole number of bytes between 4096");
	refused("[daemon]\naudit_keep = 0\n", "audit_keep", "whole number of files between 1 and 100");
	refused("[daemon]\nallow_unauthenticated = maybe\n", "allow_unauthenticated", "true or false");
	refused("[daemon]\nhostname = Web01\n", "config:2:", "invalid hostname 'Web01'");
	refused("[daemon]\nhostname = web01;rm\n", "invalid hostname", NULL);
	refused("[daemon]\nroles = web, Bad\n", "invalid role 'Bad'", NULL);
	refused("[daemon]\nroles = a b c d e f g h i j k l m n o p q\n", "at most 16", NULL);
	refused("[daemon]\nuser = root;x\n", "invalid user", NULL);
	refused("[daemon]\nsandbox = relative/path\n", "absolute path", NULL);
	refused("[broker]\npassword = a\x01b\n", "control character", NULL);
	refused("[broker]\n\nurl = amqp://guest@rabbit//\n", "config:3: url: unsupported broker URL scheme 'amqp'", NULL);
	refused("[daemon]\ntrusted_keys = keys\n", "trusted_keys must be an absolute path", NULL);
	refused("[daemon]\nrequire_signed = maybe\n", "require_signed = 'maybe': use true or false", NULL);
	refused("[cli]\nsigning_key = ~/alice.key\n", "signing_key must be an absolute path", NULL);
}
END_TEST

START_TEST(parse_signing)
{
	struct cr_config c;
	char err[512] = "";

	cr_config_defaults(&c);
	ck_assert_str_eq(c.trusted_keys, "/etc/celeryroot/trusted-keys");
	ck_assert_int_eq(c.require_signed, -1);   /* decided by the daemon: required once a key is trusted */
	ck_assert_str_eq(c.signing_key, "");
	ck_assert_msg(cr_config_parse_string(&c, "[daemon]\ntrusted_keys = /srv/keys\nrequire_signed = true\n"
					  "[cli]\nsigning_key = /root/alice.key\n", err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.trusted_keys, "/srv/keys");
	ck_assert_int_eq(c.require_signed, 1);
	ck_assert_str_eq(c.signing_key, "/root/alice.key");
	ck_assert_int_eq(cr_config_parse_string(&c, "[daemon]\nrequire_signed = no\n", err, sizeof(err)), 0);
	ck_assert_int_eq(c.require_signed, 0);
}
END_TEST

START_TEST(parse_apparmor)
{
	static const char *const names[] = { "auto", "require", "off" };
	struct cr_config c;
	char text[64], err[512] = "";

	cr_config_defaults(&c);
	ck_assert_int_eq(c.apparmor, CR_APPARMOR_AUTO);
	for (int m = CR_APPARMOR_AUTO; m <= CR_APPARMOR_OFF; m++) {
		snprintf(text, sizeof(text), "[daemon]\napparmor = %s\n", names[m]);
		ck_assert_msg(cr_config_parse_string(&c, text, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(c.apparmor, m);
		ck_assert_str_eq(cr_config_apparmor_name(m), names[m]);
	}
	refused("[daemon]\napparmor = enforce\n", "config:2: apparmor = 'enforce': use auto, require or off", NULL);
	refused("[daemon]\napparmor = Auto\n", "use auto, require or off", NULL);
	refused("[cli]\napparmor = off\n", "unknown key 'apparmor' in [cli]", NULL);
}
END_TEST

START_TEST(parse_limits_ok)
{
	struct cr_config c;
	char err[512];

	cr_config_defaults(&c);
	ck_assert_int_eq(cr_config_parse_string(&c, "[cli]\njob_ttl = 315360000\n[daemon]\n"
						 "heartbeat_interval = 1\nroles =\n", err, sizeof(err)), 0);
	ck_assert_int_eq(c.job_ttl_s, 315360000);
	ck_assert_int_eq(c.heartbeat_s, 1);
	ck_assert_int_eq(c.nroles, 0);
}
END_TEST

START_TEST(load_file)
{
	char path[] = "/tmp/crconfig-test-XXXXXX", err[512] = "";
	struct cr_config c;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "[daemon]\nhostname = db01\n\nnope = 1\n", 35), 35);
	close(fd);
	cr_config_defaults(&c);
	ck_assert_int_eq(cr_config_load(&c, path, 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, ":4: unknown key 'nope'"));
	ck_assert_str_eq(c.hostname, "db01");
	unlink(path);
	/* A missing file is fine unless it was asked for. */
	ck_assert_int_eq(cr_config_load(&c, path, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(cr_config_load(&c, path, 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));
	/* /dev/null is an empty configuration: the defaults stand. */
	cr_config_defaults(&c);
	ck_assert_msg(cr_config_load(&c, "/dev/null", 1, err, sizeof(err)) == 0, "refused: %s", err);
	ck_assert_int_eq(c.heartbeat_s, 5);
	ck_assert_str_eq(c.hostname, "");
	/* A directory exists but is not a configuration. */
	ck_assert_int_eq(cr_config_load(&c, "/", 0, err, sizeof(err)), -1);
}
END_TEST

static void url_ok(const char *url, const char *host, int port, int db, const char *user, const char *pw)
{
	struct broker_addr b;
	char err[256] = "";

	ck_assert_msg(cr_broker_parse_url(url, &b, err, sizeof(err)) == 0, "refused %s: %s", url, err);
	ck_assert_str_eq(b.host, host);
	ck_assert_int_eq(b.port, port);
	ck_assert_int_eq(b.db, db);
	ck_assert_str_eq(b.user, user);
	ck_assert_str_eq(b.password, pw);
}

static void url_bad(const char *url, const char *why_part)
{
	struct broker_addr b;
	char err[256] = "";

	ck_assert_msg(cr_broker_parse_url(url, &b, err, sizeof(err)) == -1, "accepted %s", url);
	ck_assert_msg(strstr(err, why_part) != NULL, "'%s' lacks '%s'", err, why_part);
}

START_TEST(broker_urls)
{
	url_ok("redis://127.0.0.1:6379/0", "127.0.0.1", 6379, 0, "", "");
	url_ok("redis://localhost", "localhost", 6379, 0, "", "");
	url_ok("redis://localhost/", "localhost", 6379, 0, "", "");
	url_ok("redis://redis.example.org:6380/15", "redis.example.org", 6380, 15, "", "");
	url_ok("redis://alice:pw@redis:1/3", "redis", 1, 3, "alice", "pw");
	url_ok("redis://:pw@redis:65535", "redis", 65535, 0, "", "pw");
	url_ok("redis://lonepw@redis", "redis", 6379, 0, "", "lonepw");
	url_ok("redis://u:p@ss@redis", "redis", 6379, 0, "u", "p@ss");
	url_ok("redis://[::1]:7000/1", "::1", 7000, 1, "", "");
	url_ok("redis://u:p@[::1]:6380/2", "::1", 6380, 2, "u", "p");
	url_ok("redis://[fe80::1%eth0]", "fe80::1%eth0", 6379, 0, "", "");

	url_bad("amqp://guest:guest@localhost//", "unsupported broker URL scheme 'amqp': celeryroot speaks Redis only");
	url_bad("rediss://localhost", "scheme 'rediss'");
	url_bad("localhost:6379", "no scheme");
	url_bad("", "no scheme");
	url_bad("redis://host:0", "port must be 1..65535");
	url_bad("redis://host:65536", "port must be 1..65535");
	url_bad("redis://host:-1", "port");
	url_bad("redis://host:+1", "port");
	url_bad("redis://host:", "port");
	url_bad("redis://host:http", "port");
	url_bad("redis://host/16", "database must be a number 0..15");
	url_bad("redis://host/x", "database");
	url_bad("redis://host/0/1", "database");
	url_bad("redis://", "bad host");
	url_bad("redis://:pw@", "bad host");
	url_bad("redis://[::1", "bad host");
	url_bad("redis://[::1]x", "bad host");
	url_bad("redis://ho]st", "bad host");
	url_bad("redis://ho st", "control characters");
	url_bad("redis://host\n:1", "control characters");
	url_bad("redis://h\xc3\xa9st", "control characters");
	url_bad(NULL, "too long");
}
END_TEST

START_TEST(broker_precedence)
{
	struct cr_config c;
	struct broker_addr b;
	char url[512], err[256];

	cr_config_defaults(&c);
	c.broker_url[0] = '\0';
	unsetenv("CELERYROOT_BROKER_URL");
	ck_assert_int_eq(cr_broker_from(NULL, &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(url, BROKER_DEFAULT_URL);

	strcpy(c.broker_url, "redis://fromconfig:1/1");
	ck_assert_int_eq(cr_broker_from(NULL, &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(b.host, "fromconfig");

	setenv("CELERYROOT_BROKER_URL", "redis://fromenv:2/2", 1);
	ck_assert_int_eq(cr_broker_from(NULL, &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(b.host, "fromenv");
	ck_assert_int_eq(b.db, 2);

	ck_assert_int_eq(cr_broker_from("redis://explicit:3/3", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(b.host, "explicit");
	ck_assert_int_eq(b.port, 3);

	/* A bad URL from the environment is an error, not a silent fallback. */
	setenv("CELERYROOT_BROKER_URL", "amqp://x", 1);
	ck_assert_int_eq(cr_broker_from(NULL, &c, &b, url, sizeof(url), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "amqp"));
	unsetenv("CELERYROOT_BROKER_URL");

	/* Config credentials apply when the URL has none, and are masked. */
	strcpy(c.broker_user, "cr");
	strcpy(c.broker_password, "hunter2");
	ck_assert_int_eq(cr_broker_from(NULL, &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(b.user, "cr");
	ck_assert_str_eq(b.password, "hunter2");
	ck_assert_ptr_null(strstr(url, "hunter2"));
	ck_assert_int_eq(cr_broker_from("redis://:urlpw@h", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(b.password, "urlpw");
	ck_assert_str_eq(b.user, "");
	ck_assert_ptr_null(strstr(url, "urlpw"));
	ck_assert_ptr_nonnull(strstr(url, "***"));
	ck_assert_str_eq(url, "redis://:***@h:6379/0");
	/* An IPv6 broker keeps its brackets in the shown URL. */
	ck_assert_int_eq(cr_broker_from("redis://cr:pw@[::1]:6380/2", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(url, "redis://cr:***@[::1]:6380/2");
	/* No password in the URL: shown as given. */
	c.broker_password[0] = '\0';
	ck_assert_int_eq(cr_broker_from("redis://h:1/1", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(url, "redis://h:1/1");
}
END_TEST

START_TEST(resolve)
{
	struct broker_addr b;
	char err[256];

	ck_assert_int_eq(cr_broker_parse_url("redis://127.0.0.1:6379/0", &b, err, sizeof(err)), 0);
	ck_assert_int_eq(cr_broker_resolve(&b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.host, "127.0.0.1");
	ck_assert_int_eq(cr_broker_parse_url("redis://[::1]", &b, err, sizeof(err)), 0);
	ck_assert_int_eq(cr_broker_resolve(&b, err, sizeof(err)), 0);
	ck_assert_str_eq(b.host, "::1");
	ck_assert_int_eq(cr_broker_parse_url("redis://no-such-host.invalid", &b, err, sizeof(err)), 0);
	ck_assert_int_eq(cr_broker_resolve(&b, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no-such-host.invalid"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, parse_full);
	tcase_add_test(tc, parse_unknown);
	tcase_add_test(tc, parse_bad_values);
	tcase_add_test(tc, parse_signing);
	tcase_add_test(tc, parse_apparmor);
	tcase_add_test(tc, parse_limits_ok);
	tcase_add_test(tc, load_file);
	tcase_add_test(tc, broker_urls);
	tcase_add_test(tc, broker_precedence);
	tcase_add_test(tc, resolve);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
