/* Unit tests for names.c: every name that crosses a trust boundary. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "celery.h"
#include "names.h"

/* Hostile or malformed strings that no validator may accept. */
static const char *const hostile[] = {
	"", "-a", "a-", "A", "Web01", "web01;rm", "web 01", "$(x)", "`id`", "web\n01", "web\t01",
	"web01\r", "w\xd0\xb5" "b01", "web\xff", "a..b", "a.", ".a", "web/01", "web01*", "../etc",
	"web01\x7f",
};

START_TEST(hostname_hostile)
{
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		ck_assert_msg(!cr_valid_hostname(hostile[i]), "accepted hostile hostname #%zu", i);
	ck_assert(!cr_valid_hostname(NULL));
	ck_assert(!cr_valid_hostname("a_b"));   /* underscore is not RFC 1123 */
}
END_TEST

START_TEST(hostname_good)
{
	ck_assert(cr_valid_hostname("web01"));
	ck_assert(cr_valid_hostname("a"));
	ck_assert(cr_valid_hostname("0"));
	ck_assert(cr_valid_hostname("web-01.dc1.example.org"));
	ck_assert(cr_valid_hostname("1-2-3"));
}
END_TEST

START_TEST(hostname_lengths)
{
	char label[70], name[300];

	/* A label of 63 is fine, 64 is not. */
	memset(label, 'a', 63);
	label[63] = '\0';
	ck_assert(cr_valid_hostname(label));
	label[63] = 'a';
	label[64] = '\0';
	ck_assert(!cr_valid_hostname(label));

	/* 253 total is fine (labels of 63+1+63+1+63+1+61), 254 is not. */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	ck_assert_uint_eq(strlen(name), 253);
	ck_assert(cr_valid_hostname(name));
	name[253] = 'a';
	name[254] = '\0';
	ck_assert(!cr_valid_hostname(name));
}
END_TEST

START_TEST(role_cases)
{
	char r[80];

	ck_assert(cr_valid_role("web"));
	ck_assert(cr_valid_role("db_primary"));
	ck_assert(cr_valid_role("0edge-1"));
	ck_assert(!cr_valid_role(NULL));
	ck_assert(!cr_valid_role("_web"));
	ck_assert(!cr_valid_role("-web"));
	ck_assert(!cr_valid_role("Web"));
	ck_assert(!cr_valid_role("web.db"));
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		if (strcmp(hostile[i], "a-") != 0)   /* "a-" is a valid role: no rule on the end */
			ck_assert_msg(!cr_valid_role(hostile[i]), "accepted hostile role #%zu", i);
	memset(r, 'r', 63);
	r[63] = '\0';
	ck_assert(cr_valid_role(r));
	r[63] = 'r';
	r[64] = '\0';
	ck_assert(!cr_valid_role(r));
}
END_TEST

START_TEST(task_id_cases)
{
	char id[80];

	ck_assert(cr_valid_task_id("221d2fcc-146d-432e-9635-8ac05f046af4"));
	ck_assert(cr_valid_task_id("A.b_c:d-e"));
	ck_assert(!cr_valid_task_id(NULL));
	ck_assert(!cr_valid_task_id(""));
	ck_assert(!cr_valid_task_id("id with space"));
	ck_assert(!cr_valid_task_id("id;rm"));
	ck_assert(!cr_valid_task_id("id\n"));
	ck_assert(!cr_valid_task_id("../x/y"));
	ck_assert(!cr_valid_task_id("\xd0\xb5"));
	memset(id, 'a', 64);
	id[64] = '\0';
	ck_assert(cr_valid_task_id(id));
	id[64] = 'a';
	id[65] = '\0';
	ck_assert(!cr_valid_task_id(id));
}
END_TEST

START_TEST(task_name_cases)
{
	char n[200];

	ck_assert(cr_valid_task_name("celeryroot.apt.install"));
	ck_assert(cr_valid_task_name("celeryroot.ping"));
	ck_assert(cr_valid_task_name("celeryroot.apt.security_upgrade2"));
	ck_assert(!cr_valid_task_name(NULL));
	ck_assert(!cr_valid_task_name(""));
	ck_assert(!cr_valid_task_name("celeryroot"));
	ck_assert(!cr_valid_task_name("celeryroot."));
	ck_assert(!cr_valid_task_name("celeryroot.apt."));
	ck_assert(!cr_valid_task_name("celeryroot..apt"));
	ck_assert(!cr_valid_task_name("celeryroot.Apt"));
	ck_assert(!cr_valid_task_name("celeryroot.1apt"));
	ck_assert(!cr_valid_task_name("celeryroot._apt"));
	ck_assert(!cr_valid_task_name("celeryroot.apt-get"));
	ck_assert(!cr_valid_task_name("celeryroot.apt;rm"));
	ck_assert(!cr_valid_task_name("tasks.add"));
	ck_assert(!cr_valid_task_name("xceleryroot.apt"));
	ck_assert(!cr_valid_task_name("celeryroot.apt\n"));
	memset(n, 'a', sizeof(n));
	memcpy(n, "celeryroot.", 11);
	n[128] = '\0';
	ck_assert(cr_valid_task_name(n));
	n[128] = 'a';
	n[129] = '\0';
	ck_assert(!cr_valid_task_name(n));
}
END_TEST

START_TEST(queue_cases)
{
	char q[300];

	ck_assert(cr_valid_queue_name("host.web01"));
	ck_assert(cr_valid_queue_name("host.web01.example.org"));
	ck_assert(cr_valid_queue_name("role.db_primary"));
	ck_assert(!cr_valid_queue_name(NULL));
	ck_assert(!cr_valid_queue_name(""));
	ck_assert(!cr_valid_queue_name("host."));
	ck_assert(!cr_valid_queue_name("role."));
	ck_assert(!cr_valid_queue_name("celery"));
	ck_assert(!cr_valid_queue_name("host.Web01"));
	ck_assert(!cr_valid_queue_name("host.web01\x06\x16" "3"));
	ck_assert(!cr_valid_queue_name("role.web.db"));
	ck_assert(!cr_valid_queue_name("hosts.web01"));
	/* host. plus a 253-byte name fits CELERY_QUEUE_MAX; one more byte does not. */
	memset(q, 'a', sizeof(q));
	memcpy(q, "host.", 5);
	q[5 + 63] = q[5 + 127] = q[5 + 191] = '.';
	q[5 + 253] = '\0';
	ck_assert_uint_le(strlen(q), CELERY_QUEUE_MAX);
	ck_assert(cr_valid_queue_name(q));
	q[5 + 253] = 'a';
	q[5 + 254] = '\0';
	ck_assert(!cr_valid_queue_name(q));
}
END_TEST

START_TEST(copy_str_cases)
{
	char buf[4];

	ck_assert_int_eq(cr_copy_str(buf, sizeof(buf), "abc"), 1);
	ck_assert_str_eq(buf, "abc");
	ck_assert_int_eq(cr_copy_str(buf, sizeof(buf), ""), 1);
	ck_assert_str_eq(buf, "");
	memcpy(buf, "xyz", 4);
	ck_assert_int_eq(cr_copy_str(buf, sizeof(buf), "abcd"), 0);
	ck_assert_str_eq(buf, "");
	memcpy(buf, "xyz", 4);
	ck_assert_int_eq(cr_copy_str(buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(cr_copy_str(buf, 0, "a"), 0);
}
END_TEST

static Suite *names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, hostname_hostile);
	tcase_add_test(tc, hostname_good);
	tcase_add_test(tc, hostname_lengths);
	tcase_add_test(tc, role_cases);
	tcase_add_test(tc, task_id_cases);
	tcase_add_test(tc, task_name_cases);
	tcase_add_test(tc, queue_cases);
	tcase_add_test(tc, copy_str_cases);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(names_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
