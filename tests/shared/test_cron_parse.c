/* Unit tests for cron.c and cron_field.c: what the parser refuses and why,
 * what it builds, and time zone names. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "cron_tests.h"

/* Refused expressions and a substring of the reason. */
static const struct bad_case {
	const char *expr, *why;
} bad_cases[] = {
	{ "", "empty" },
	{ " \t ", "empty" },
	{ "* * * *", "has 4 fields; expected 5: minute hour" },
	{ "* * * * * *", "has 6 fields" },
	{ "0 0 * * * /bin/true", "has 6 fields" },
	{ "60 * * * *", "field 1 (minute): 60 is out of range 0-59" },
	{ "* 24 * * *", "field 2 (hour): 24 is out of range 0-23" },
	{ "* * 0 * *", "field 3 (day of month): 0 is out of range 1-31" },
	{ "* * 32 * *", "field 3 (day of month): 32 is out of range 1-31" },
	{ "* * * 0 *", "field 4 (month): 0 is out of range 1-12" },
	{ "* * * 13 *", "field 4 (month): 13 is out of range 1-12" },
	{ "* * * * 8", "field 5 (day of week): 8 is out of range 0-7" },
	{ "1-60 * * * *", "60 is out of range 0-59" },
	{ "0005 * * * *", "0005 is out of range" },
	{ "99999999999999999999999 * * * *", "999999999999... is out of range 0-59" },
	{ "*/0 * * * *", "field 1 (minute): step 0 is out of range 1-59" },
	{ "*/60 * * * *", "step 60 is out of range 1-59" },
	{ "0 */24 * * *", "field 2 (hour): step 24 is out of range 1-23" },
	{ "*/99999999999999 * * * *", "is out of range 1-59" },
	{ "*/ * * * *", "expected a step number after '/'" },
	{ "*/5/2 * * * *", "unexpected '/'" },
	{ "5/15 * * * *", "a step needs '*' or a range before it" },
	{ "5-1 * * * *", "reversed range 5-1" },
	{ "* * * dec-jan *", "reversed range 12-1" },
	{ "* * * * fri-mon", "reversed range 5-1" },
	{ "1,,2 * * * *", "empty list item" },
	{ ",1 * * * *", "empty list item" },
	{ "1, * * * *", "field 1 (minute): empty list item" },
	{ "1- * * * *", "expected 0-59 after '-'" },
	{ "-1 * * * *", "unexpected '-'" },
	{ "1-2-3 * * * *", "unexpected '-'" },
	{ "** * * * *", "unexpected '*'" },
	{ "1x * * * *", "unexpected 'x'" },
	{ "jan * * * *", "field 1 (minute): names are not allowed here; expected 0-59" },
	{ "* * * foo *", "field 4 (month): unknown name 'foo'; expected 1-12 or jan-dec" },
	{ "* * * january *", "unknown name 'january'" },
	{ "* * * * monday", "field 5 (day of week): unknown name 'monday'; expected 0-7 or sun-sat" },
	{ "* * * * mon-fri-sat", "unexpected '-'" },
	{ "0 0 ? * *", "unexpected '?'" },
	{ "0 0 L * *", "names are not allowed here" },
	{ "0 0 1W * *", "unexpected 'W'" },
	{ "0 0 * * 5#3", "unexpected '#'" },
	{ "0 0 30 2 *", "field 3 (day of month): never fires" },
	{ "0 0 31 4,6,9,11 *", "never fires" },
	{ "0 0 30-31 feb *", "never fires" },
	{ "@reboot", "unknown macro '@reboot'; use @hourly" },
	{ "@daily 1", "unknown macro '@daily 1'" },
	{ "@", "unknown macro" },
	{ "0 0 * * *\n", "byte 0x0a at position 10 is not allowed" },
	{ "0 0 * * *\r", "byte 0x0d" },
	{ "\xef\xbc\x90 0 * * *", "byte 0xef at position 1" },
	{ "0 0 * * \x7f", "byte 0x7f" },
};

START_TEST(bad_table)
{
	const struct bad_case *c = &bad_cases[_i];
	struct cron_expr e, before;
	char err[256] = "";

	memset(&e, 0xa5, sizeof(e));
	before = e;
	ck_assert_msg(cr_cron_parse(c->expr, &e, err, sizeof(err)) == -1, "accepted '%s'", c->expr);
	ck_assert_msg(strstr(err, c->why) != NULL, "'%s': got \"%s\", want \"%s\"", c->expr, err, c->why);
	ck_assert_msg(strchr(err, '\n') == NULL, "multi-line error for '%s'", c->expr);
	ck_assert_int_eq(memcmp(&e, &before, sizeof(e)), 0);   /* untouched on refusal */
}
END_TEST

START_TEST(parse_edges)
{
	char s[CRON_EXPR_MAX + 2], err[256];
	struct cron_expr e;

	ck_assert_int_eq(cr_cron_parse(NULL, &e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no cron expression");
	/* Exactly at the limit (blanks count), then one over. */
	memset(s, ' ', sizeof(s));
	memcpy(s, "0 0 * * *", 9);
	s[CRON_EXPR_MAX] = '\0';
	ck_assert_int_eq(cr_cron_parse(s, &e, err, sizeof(err)), 0);
	s[CRON_EXPR_MAX] = ' ';
	s[CRON_EXPR_MAX + 1] = '\0';
	ck_assert_int_eq(cr_cron_parse(s, &e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "cron expression is longer than 255 characters");
	/* A tiny or absent error buffer is never overrun. */
	ck_assert_int_eq(cr_cron_parse("61 * * * *", &e, err, 8), -1);
	ck_assert_str_eq(err, "field 1");
	ck_assert_int_eq(cr_cron_parse("61 * * * *", &e, NULL, 0), -1);
	/* What the masks hold. */
	ck_assert_int_eq(cr_cron_parse("0-59/30 1,23 1-31/15 feb-apr 6-7", &e, err, sizeof(err)), 0);
	ck_assert(e.minute == (1ULL | 1ULL << 30));
	ck_assert_uint_eq(e.hour, 1u << 1 | 1u << 23);
	ck_assert_uint_eq(e.dom, 1u << 1 | 1u << 16 | 1u << 31);
	ck_assert_uint_eq(e.month, 1u << 2 | 1u << 3 | 1u << 4);
	ck_assert_uint_eq(e.dow, 1u << 0 | 1u << 6);
	ck_assert_uint_eq(e.flags, 0);
	ck_assert(!cr_cron_is_interval(&e));
	ck_assert_int_eq(cr_cron_parse("* * */2 * *", &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.flags, CRON_DOM_STAR | CRON_DOW_STAR);
	ck_assert(cr_cron_is_interval(&e));
	ck_assert_int_eq(cr_cron_parse("0 0-23 * * *", &e, err, sizeof(err)), 0);
	ck_assert(cr_cron_is_interval(&e));
	ck_assert_int_eq(cr_cron_parse("0 */2 * * *", &e, err, sizeof(err)), 0);
	ck_assert(!cr_cron_is_interval(&e));
}
END_TEST

START_TEST(zones)
{
	static const char *const good[] = { "UTC", "Europe/Berlin", "America/New_York",
					    "America/Argentina/Buenos_Aires", "Etc/GMT+5", "Etc/GMT-14",
					    "America/Port-au-Prince", "Australia/Lord_Howe", "Asia/Kolkata" };
	static const char *const bad[] = {
		"", "utc", "Europe/Berln", "../etc/passwd", "/etc/localtime", "/usr/share/zoneinfo/UTC",
		"Europe/../Europe/Berlin", "Europe/./Berlin", "Europe", "Europe/", "Europe//Berlin",
		"Europe/Berlin ", " Europe/Berlin", "Europe/Berlin\n", "Europe\\Berlin", "Europe/Berlin;id",
		"$(id)", "right/Europe/Berlin", "leapseconds", "zone.tab", "tzdata.zi", "Europe/Berlin\x01",
		"Europe/Berlin/", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	struct cron_expr e;
	time_t next = 42;
	char err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(cr_cron_zone_valid(good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!cr_cron_zone_valid(bad[i]), "accepted '%s'", bad[i]);
	ck_assert(!cr_cron_zone_valid(NULL));
	ck_assert_int_eq(cr_cron_parse("* * * * *", &e, err, sizeof(err)), 0);
	ck_assert_int_eq(cr_cron_next(&e, "Europe/Berln", 0, &next), CRON_EINVAL);
	ck_assert_int_eq(cr_cron_next(&e, NULL, 0, &next), CRON_EINVAL);
	ck_assert_int_eq(cr_cron_next(&e, "UTC", -1, &next), CRON_EINVAL);
	ck_assert_int_eq(cr_cron_next(&e, "UTC", CRON_TIME_MAX + 1, &next), CRON_EINVAL);
	ck_assert_int_eq(cr_cron_next(NULL, "UTC", 0, &next), CRON_EINVAL);
	ck_assert_int_eq(next, 42);
	ck_assert_int_eq(cr_cron_next(&e, "UTC", 0, NULL), CRON_EINVAL);
}
END_TEST

TCase *cron_parse_tcase(void)
{
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, bad_table, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, parse_edges);
	tcase_add_test(tc, zones);
	return tc;
}
