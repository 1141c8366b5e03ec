/* The broker's TLS settings: rediss:// URLs with kombu's ssl_* query
 * parameters, the [broker] ssl keys, and which wins (broker_tls.c). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "crconfig.h"

static void tls_ok(const char *url, int on, int verify, const char *ca, const char *name)
{
	struct broker_addr b;
	char err[256] = "";

	ck_assert_msg(cr_broker_parse_url(url, &b, err, sizeof(err)) == 0, "refused %s: %s", url, err);
	ck_assert_int_eq(b.tls.on, on);
	ck_assert_int_eq(b.tls.verify, verify);
	ck_assert_str_eq(b.tls.ca_certs, ca);
	ck_assert_str_eq(b.tls.servername, name);
}

static void tls_bad(const char *url, const char *why)
{
	struct broker_addr b;
	char err[256] = "";

	ck_assert_msg(cr_broker_parse_url(url, &b, err, sizeof(err)) == -1, "accepted %s", url);
	ck_assert_msg(strstr(err, why) != NULL, "'%s' lacks '%s'", err, why);
}

START_TEST(urls)
{
	struct broker_addr b;
	char err[256];

	tls_ok("redis://h", 0, 1, "", "");
	tls_ok("rediss://localhost", 1, 1, "", "localhost");
	tls_ok("rediss://u:p@redis.example:6380/2?ssl_cert_reqs=none&ssl_ca_certs=%2Fetc%2Fca.pem", 1, 0,
	       "/etc/ca.pem", "redis.example");
	tls_ok("rediss://[::1]:7000/1?ssl_cert_reqs=CERT_OPTIONAL", 1, 1, "", "::1");
	tls_ok("rediss://h?ssl_cert_reqs=CERT_NONE", 1, 0, "", "h");
	ck_assert_int_eq(cr_broker_parse_url("rediss://a:b@h:1/3?ssl_certfile=/c.pem&ssl_keyfile=/k.pem", &b, err,
					     sizeof(err)), 0);
	ck_assert_str_eq(b.tls.certfile, "/c.pem");
	ck_assert_str_eq(b.tls.keyfile, "/k.pem");
	ck_assert_str_eq(b.password, "b");
	ck_assert_int_eq(b.db, 3);
	tls_bad("rediss://h?ssl_cert_reqs=maybe", "ssl_cert_reqs='maybe'");
	tls_bad("rediss://h?x=1", "unknown parameter 'x'");
	tls_bad("rediss://h?ssl_ca_certs=rel.pem", "absolute path");
	tls_bad("rediss://h?ssl_ca_certs=%2", "bad query");
	tls_bad("rediss://h?ssl_ca_certs=%2G", "bad query");
	tls_bad("rediss://h?ssl_ca_certs=%00x", "bad query");
	tls_bad("rediss://h?novalue", "bad query");
	tls_bad("rediss://h?=x", "bad query");
	tls_bad("rediss://h/16?ssl_cert_reqs=none", "database");
}
END_TEST

START_TEST(config_keys)
{
	struct cr_config c;
	char err[512] = "";

	cr_config_defaults(&c);
	ck_assert_int_eq(c.broker_ssl, 0);
	ck_assert_int_eq(c.broker_ssl_cert_reqs, -1);
	ck_assert_int_eq(cr_config_parse_string(&c, "[broker]\nssl = true\nssl_cert_reqs = CERT_NONE\n"
					       "ssl_ca_certs = /ca.pem\nssl_certfile = /c.pem\nssl_keyfile = /k.pem\n",
					       err, sizeof(err)), 0);
	ck_assert_int_eq(c.broker_ssl, 1);
	ck_assert_int_eq(c.broker_ssl_cert_reqs, 0);
	ck_assert_str_eq(c.broker_ssl_ca_certs, "/ca.pem");
	ck_assert_str_eq(c.broker_ssl_keyfile, "/k.pem");
	ck_assert_int_eq(cr_config_parse_string(&c, "[broker]\nssl = maybe\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "use true or false"));
	ck_assert_int_eq(cr_config_parse_string(&c, "[broker]\nssl_cert_reqs = sometimes\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "config:2: ssl_cert_reqs"));
	ck_assert_int_eq(cr_config_parse_string(&c, "[broker]\nssl_ca_certs = ca.pem\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "absolute path"));
	/* A URL with a query in the config is checked with its line too. */
	ck_assert_int_eq(cr_config_parse_string(&c, "[broker]\nurl = rediss://h?ssl=1\n", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "config:2: url: broker URL: unknown parameter 'ssl'"));
}
END_TEST

START_TEST(precedence)
{
	struct cr_config c;
	struct broker_addr b;
	char url[512], err[256];

	unsetenv("CELERYROOT_BROKER_URL");
	cr_config_defaults(&c);
	c.broker_ssl = 1;
	c.broker_ssl_cert_reqs = 0;
	strcpy(c.broker_ssl_ca_certs, "/conf-ca.pem");
	strcpy(c.broker_ssl_certfile, "/conf-cert.pem");
	/* ssl = true: TLS on a redis:// URL, with the config's files. */
	ck_assert_int_eq(cr_broker_from("redis://h:1/0", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_int_eq(b.tls.on, 1);
	ck_assert_int_eq(b.tls.verify, 0);
	ck_assert_str_eq(b.tls.ca_certs, "/conf-ca.pem");
	ck_assert_str_eq(b.tls.servername, "h");
	/* The URL's query wins, key by key. */
	ck_assert_int_eq(cr_broker_from("rediss://h:1/0?ssl_cert_reqs=required&ssl_ca_certs=/url-ca.pem", &c, &b,
					url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_int_eq(b.tls.verify, 1);
	ck_assert_str_eq(b.tls.ca_certs, "/url-ca.pem");
	ck_assert_str_eq(b.tls.certfile, "/conf-cert.pem");
	/* Without ssl = true: off, verified by default once on. */
	c.broker_ssl = 0;
	c.broker_ssl_cert_reqs = -1;
	ck_assert_int_eq(cr_broker_from("redis://h:1/0", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_int_eq(b.tls.on, 0);
	ck_assert_int_eq(cr_broker_from("rediss://h:1/0", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_int_eq(b.tls.verify, 1);
	/* ssl_* in a clear-text URL is refused, not ignored. */
	ck_assert_int_eq(cr_broker_from("redis://h:1/0?ssl_ca_certs=/x.pem", &c, &b, url, sizeof(url), err,
					sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not rediss://"));
	/* The shown URL keeps its scheme when the password is masked. */
	ck_assert_int_eq(cr_broker_from("rediss://u:pw@h:1/0", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(url, "rediss://u:***@h:1/0");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("broker_tls");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, urls);
	tcase_add_test(tc, config_keys);
	tcase_add_test(tc, precedence);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
