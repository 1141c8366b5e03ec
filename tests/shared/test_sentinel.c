/* Unit tests for sentinel.c: kombu's sentinel:// URLs, the master name from
 * the URL or the config, masking every password, and reading a sentinel's
 * answer under the array bound (rbound.c). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "crconfig.h"
#include "rbound.h"
#include "sentinel.h"

static struct broker_addr b;
static char err[512];

START_TEST(kombu_urls)
{
	ck_assert_int_eq(cr_broker_parse_url("sentinel://:s3cret@10.0.0.1:26380;sentinel://host2;"
					     "sentinel://[::1]:5000/3?master_name=my-master", &b, err, sizeof(err)), 0);
	ck_assert_int_eq(b.nsentinels, 3);
	ck_assert_str_eq(b.sentinels[0].host, "10.0.0.1");
	ck_assert_int_eq(b.sentinels[0].port, 26380);
	ck_assert_str_eq(b.sentinels[1].host, "host2");
	ck_assert_int_eq(b.sentinels[1].port, 26379);   /* kombu's default for a sentinel */
	ck_assert_str_eq(b.sentinels[2].host, "::1");
	ck_assert_int_eq(b.sentinels[2].port, 5000);
	ck_assert_str_eq(b.password, "s3cret");          /* the master's (kombu) */
	ck_assert_str_eq(b.user, "");
	ck_assert_int_eq(b.db, 3);
	ck_assert_str_eq(b.master_name, "my-master");
	ck_assert_str_eq(b.host, "");                    /* found at connect time */
}
END_TEST

START_TEST(refusals)
{
	static const char *const bad[] = {
		"sentinel://",                                   /* no host */
		"sentinel://h:0?master_name=m",                  /* port range */
		"sentinel://h:70000?master_name=m",
		"sentinel://h;redis://h2?master_name=m",         /* every part is sentinel:// */
		"sentinel://h;;sentinel://h2?master_name=m",
		"sentinel://h?master_name=",                     /* empty name */
		"sentinel://h?master_name=a/b",
		"sentinel://h?other=1",
		"sentinel://h/16?master_name=m",                 /* db 0..15 */
		"sentinel://h;sentinel://h;sentinel://h;sentinel://h;sentinel://h;sentinel://h;sentinel://h;"
		"sentinel://h;sentinel://h?master_name=m",       /* 9 > BROKER_SENTINELS_MAX */
		"sentinel://h\x01?master_name=m",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cr_broker_parse_url(bad[i], &b, err, sizeof(err)) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(master_name_from_config)
{
	struct cr_config c;
	char url[512];

	cr_config_defaults(&c);
	ck_assert_int_eq(cr_config_parse_string(&c, "[broker]\nurl = sentinel://u:pw@h1;sentinel://h2\n"
						 "master_name = cfgmaster\nsentinel_password = sp\n", err, sizeof(err)), 0);
	ck_assert_int_eq(cr_broker_from(NULL, &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(b.master_name, "cfgmaster");
	ck_assert_str_eq(b.sentinel_password, "sp");
	ck_assert_str_eq(b.user, "u");
	ck_assert_str_eq(url, "sentinel://u:***@h1;sentinel://h2");
	ck_assert_ptr_null(strstr(url, "pw"));
	/* The URL's name wins over the config's. */
	ck_assert_int_eq(cr_broker_from("sentinel://h1?master_name=urlname", &c, &b, url, sizeof(url), err, sizeof(err)), 0);
	ck_assert_str_eq(b.master_name, "urlname");
	/* None at all: one line saying where to put it. */
	cr_config_defaults(&c);
	ck_assert_int_eq(cr_broker_from("sentinel://h1", &c, &b, url, sizeof(url), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "master_name"));
}
END_TEST

START_TEST(masking)
{
	char out[512];

	cr_sentinel_mask_url("sentinel://:pw1@a:1;sentinel://bob:pw2@b:2;sentinel://lone@c/1?master_name=m", out,
			     sizeof(out));
	ck_assert_str_eq(out, "sentinel://:***@a:1;sentinel://bob:***@b:2;sentinel://***@c/1?master_name=m");
	cr_sentinel_mask_url("sentinel://a:1;sentinel://b:2", out, sizeof(out));
	ck_assert_str_eq(out, "sentinel://a:1;sentinel://b:2");
	cr_sentinel_mask_url("sentinel://:pw@a:1", out, 12);   /* truncated, still no password */
	ck_assert_ptr_null(strstr(out, "pw"));
}
END_TEST

/* Feeds bytes to a reader under the array bound (reply_bytes): the reply,
 * or NULL; *refused says whether the bound refused it (its budget). */
static redisReply *read_one(const char *bytes, size_t len, size_t reply_bytes, long *refused)
{
	redisReader *r = redisReaderCreate();
	void *reply = NULL;

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(cr_rbound_attach(r, reply_bytes), 0);
	redisReaderFeed(r, bytes, len);
	if (redisReaderGetReply(r, &reply) != REDIS_OK)
		reply = NULL;
	*refused = cr_rbound_refused(r);
	cr_rbound_release(r);
	redisReaderFree(r);
	return reply;
}

#define READ(lit, ...) read_one(lit, sizeof(lit) - 1, __VA_ARGS__)

START_TEST(master_reply_and_array_bound)
{
	static const char good[] = "*2\r\n$8\r\n10.0.0.7\r\n$4\r\n6380\r\n";
	struct broker_endpoint m = { "", 0 };
	long refused;
	redisReply *r = read_one(good, sizeof(good) - 1, 1 << 20, &refused);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(cr_sentinel_master_reply(r, &m), 1);
	ck_assert_str_eq(m.host, "10.0.0.7");
	ck_assert_int_eq(m.port, 6380);
	freeReplyObject(r);
	/* hiredis alone would calloc 16 GiB for this header. */
	ck_assert_ptr_null(READ("*2147483647\r\n", 256u << 20, &refused));
	ck_assert_int_eq(refused, CR_RBOUND_ELEMENTS_MAX);
	/* Arrays nested in one reply share its budget: 12 bytes allow 4. */
	ck_assert_ptr_null(READ("*2\r\n*3\r\n", 12, &refused));
	ck_assert_int_eq(refused, 4);
	r = READ("*2\r\n*2\r\n:1\r\n:2\r\n:3\r\n", 12, &refused);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(refused, 0);
	ck_assert_int_eq(cr_sentinel_master_reply(r, &m), -1);   /* wrong types */
	freeReplyObject(r);
	r = READ("*-1\r\n", 12, &refused);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(cr_sentinel_master_reply(r, &m), 0);    /* nil: the name is unknown */
	freeReplyObject(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sentinel");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, kombu_urls);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, master_name_from_config);
	tcase_add_test(tc, masking);
	tcase_add_test(tc, master_reply_and_array_bound);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
