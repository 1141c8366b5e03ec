/* Unit tests for cr_cron_next.c: next fire times for every field form, the
 * Vixie day rule, and real zones across DST changes (rules in cron.h);
 * parsing is in test_cron_parse.c. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "cron_tests.h"
#include "timeutil.h"

static time_t at(const char *iso)
{
	double t;

	ck_assert_msg(cr_iso8601_parse(iso, &t) == 0, "bad test time %s", iso);
	return (time_t)t;
}

/* expect NULL: no fire time within the horizon.  Times with an offset are the
 * local wall time, so the DST rows read as the rule they check. */
static const struct next_case {
	const char *expr, *tz, *after, *expect;
} next_cases[] = {
	/* Every field form, in UTC. */
	{ "* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z" },
	{ "* * * * *", "UTC", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z" },
	{ "5 * * * *", "UTC", "2026-01-01T10:05:00Z", "2026-01-01T11:05:00Z" },
	{ "5 * * * *", "UTC", "2026-01-01T10:04:59Z", "2026-01-01T10:05:00Z" },
	{ "0,30 * * * *", "UTC", "2026-01-01T10:10:00Z", "2026-01-01T10:30:00Z" },
	{ "10-20 * * * *", "UTC", "2026-01-01T10:20:00Z", "2026-01-01T11:10:00Z" },
	{ "*/7 * * * *", "UTC", "2026-01-01T10:56:00Z", "2026-01-01T11:00:00Z" },
	{ "10-40/15 * * * *", "UTC", "2026-01-01T10:25:00Z", "2026-01-01T10:40:00Z" },
	{ "10-40/15 * * * *", "UTC", "2026-01-01T10:40:00Z", "2026-01-01T11:10:00Z" },
	{ "1,2,3-5,10-20/5 0 * * *", "UTC", "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z" },
	{ "0 */6 * * *", "UTC", "2026-01-01T18:00:00Z", "2026-01-02T00:00:00Z" },
	{ "0 9-17/4 * * *", "UTC", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z" },
	{ "0 9-17/4 * * *", "UTC", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z" },
	{ "007 007 * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T07:07:00Z" },
	{ "0 0 15 * *", "UTC", "2026-01-15T00:00:00Z", "2026-02-15T00:00:00Z" },
	{ "0 0 10-12 * *", "UTC", "2026-01-12T00:00:00Z", "2026-02-10T00:00:00Z" },
	{ "0 0 1 jan,jul *", "UTC", "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z" },
	{ "0 0 1 JAN-Mar/2 *", "UTC", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z" },
	{ "0 0 1 */4 *", "UTC", "2026-05-01T00:00:00Z", "2026-09-01T00:00:00Z" },
	/* Days of the week; 2026-01-01 is a Thursday. */
	{ "0 9 * * mon-fri", "UTC", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z" },
	{ "0 9 * * MON-FRI", "UTC", "2026-01-06T08:00:00Z", "2026-01-06T09:00:00Z" },
	{ "0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z" },
	{ "0 0 * * 0", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z" },
	{ "0 0 * * sun", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z" },
	{ "0 0 * * sat-sun", "UTC", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z" },
	{ "0 0 * * 5-7", "UTC", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z" },
	{ "0 0 * * */2", "UTC", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z" },
	/* Vixie day rule: both restricted means either; '*' prefixed means both. */
	{ "0 0 1 * 1", "UTC", "2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z" },
	{ "0 0 1 * 1", "UTC", "2026-06-29T00:00:00Z", "2026-07-01T00:00:00Z" },
	{ "0 0 13 * fri", "UTC", "2026-04-10T00:00:00Z", "2026-04-13T00:00:00Z" },
	{ "0 0 */2 * mon", "UTC", "2026-06-01T00:00:00Z", "2026-06-15T00:00:00Z" },
	{ "0 0 * * mon", "UTC", "2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z" },
	/* Leap years, year and month rollovers, the horizon. */
	{ "0 3 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T03:00:00Z" },
	{ "0 3 29 2 *", "UTC", "2028-02-29T03:00:00Z", "2032-02-29T03:00:00Z" },
	{ "0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z" },
	{ "0 0 1 1 *", "UTC", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z" },
	{ "59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z" },
	{ "0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z" },
	{ "0 0 31 * *", "UTC", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z" },
	{ "0 12 30 * *", "UTC", "2026-01-30T12:00:00Z", "2026-03-30T12:00:00Z" },
	{ "0 0 29 2 */7", "UTC", "2026-03-01T00:00:00Z", "2032-02-29T00:00:00Z" },
	{ "0 0 29 2 */7", "UTC", "2032-03-01T00:00:00Z", NULL },   /* next: 2060 */
	/* Macros and blanks. */
	{ "@hourly", "UTC", "2026-01-01T10:20:00Z", "2026-01-01T11:00:00Z" },
	{ "@daily", "UTC", "2026-01-01T10:20:00Z", "2026-01-02T00:00:00Z" },
	{ "@MIDNIGHT", "UTC", "2026-01-01T10:20:00Z", "2026-01-02T00:00:00Z" },
	{ "@weekly", "UTC", "2026-01-01T10:20:00Z", "2026-01-04T00:00:00Z" },
	{ "@monthly", "UTC", "2026-01-01T10:20:00Z", "2026-02-01T00:00:00Z" },
	{ "@yearly", "UTC", "2026-01-01T10:20:00Z", "2027-01-01T00:00:00Z" },
	{ " @annually\t", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z" },
	{ " \t0   0 * *\t* ", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z" },
	/* Zones without DST, and local days that are not UTC days. */
	{ "0 9 * * *", "Asia/Kolkata", "2026-06-01T00:00:00Z", "2026-06-01T09:00:00+05:30" },
	{ "0 9 * * *", "Asia/Kolkata", "2026-06-01T03:30:00Z", "2026-06-02T09:00:00+05:30" },
	{ "30 23 * * sun", "Asia/Kolkata", "2026-01-04T12:00:00Z", "2026-01-04T23:30:00+05:30" },
	{ "0 0 * * *", "America/New_York", "2026-01-01T04:59:00Z", "2026-01-01T00:00:00-05:00" },
	{ "0 0 1 * *", "Pacific/Kiritimati", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00+14:00" },
	{ "0 0 * * mon", "Etc/GMT+12", "2026-01-05T11:00:00Z", "2026-01-05T00:00:00-12:00" },
	/* Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST. */
	{ "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T03:00:00+02:00" },
	{ "30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T02:30:00+02:00" },
	{ "0 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T03:00:00+02:00" },
	{ "0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T03:00:00+02:00" },
	{ "*/20 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T03:00:00+02:00" },
	{ "*/20 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T02:00:00+02:00" },
	{ "30 * * * *", "Europe/Berlin", "2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00" },
	{ "*/15 * * * *", "Europe/Berlin", "2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00" },
	/* Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET. */
	{ "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T02:30:00+02:00" },
	{ "30 2 * * *", "Europe/Berlin", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00" },
	{ "30 * * * *", "Europe/Berlin", "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00" },
	{ "*/15 * * * *", "Europe/Berlin", "2026-10-25T02:45:00+02:00", "2026-10-25T02:00:00+01:00" },
	{ "0 */2 * * *", "Europe/Berlin", "2026-10-25T02:00:00+02:00", "2026-10-25T04:00:00+01:00" },
	{ "* 2 * * *", "Europe/Berlin", "2026-10-25T02:59:00+02:00", "2026-10-26T02:00:00+01:00" },
	/* America/New_York: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00. */
	{ "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T03:00:00-04:00" },
	{ "30 2 * * *", "America/New_York", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00" },
	{ "0 9 * * mon-fri", "America/New_York", "2026-03-06T09:00:00-05:00", "2026-03-09T09:00:00-04:00" },
	{ "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T01:30:00-04:00" },
	{ "30 1 * * *", "America/New_York", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00" },
	{ "0 * * * *", "America/New_York", "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00" },
	/* Half-hour DST: Lord Howe 2026-10-04 02:00 -> 02:30, 2026-04-05 02:00 -> 01:30. */
	{ "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00:00Z", "2026-10-04T02:30:00+11:00" },
	{ "*/15 * * * *", "Australia/Lord_Howe", "2026-10-04T01:45:00+10:30", "2026-10-04T02:30:00+11:00" },
	{ "45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", "2026-04-05T01:45:00+11:00" },
	{ "45 1 * * *", "Australia/Lord_Howe", "2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30" },
	{ "*/15 * * * *", "Australia/Lord_Howe", "2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30" },
	/* 45-minute offset: Chatham 2026-09-27 02:45 -> 03:45. */
	{ "0 3 * * *", "Pacific/Chatham", "2026-09-26T00:00:00Z", "2026-09-27T03:45:00+13:45" },
	{ "0 9 * * *", "America/St_Johns", "2026-03-08T00:00:00Z", "2026-03-08T09:00:00-02:30" },
};

START_TEST(next_table)
{
	const struct next_case *c = &next_cases[_i];
	struct cron_expr e;
	char err[256], got[64];
	time_t next = 42;
	int rc;

	ck_assert_msg(cr_cron_parse(c->expr, &e, err, sizeof(err)) == 0, "'%s': %s", c->expr, err);
	rc = cr_cron_next(&e, c->tz, at(c->after), &next);
	if (c->expect == NULL) {
		ck_assert_msg(rc == CRON_NONE, "'%s' %s after %s: rc %d", c->expr, c->tz, c->after, rc);
		ck_assert_int_eq(next, 42);
		return;
	}
	cr_iso8601_utc((double)next, got, sizeof(got));
	ck_assert_msg(rc == 0 && next == at(c->expect), "'%s' %s after %s: rc %d, got %s, want %s", c->expr,
		      c->tz, c->after, rc, got, c->expect);
}
END_TEST

/* cr_cron_next puts TZ back as it found it, set or unset. */
START_TEST(tz_restored)
{
	struct cron_expr e;
	char err[256];
	time_t next;

	ck_assert_int_eq(cr_cron_parse("0 9 * * *", &e, err, sizeof(err)), 0);
	setenv("TZ", "Asia/Tokyo", 1);
	ck_assert_int_eq(cr_cron_next(&e, "Europe/Berlin", at("2026-06-01T00:00:00Z"), &next), 0);
	ck_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
	ck_assert_int_eq(cr_cron_next(&e, "Europe/Berln", 0, &next), CRON_EINVAL);
	ck_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
	unsetenv("TZ");
	ck_assert_int_eq(cr_cron_next(&e, "UTC", at("2026-06-01T00:00:00Z"), &next), 0);
	ck_assert_ptr_null(getenv("TZ"));
	ck_assert_int_eq(next, at("2026-06-01T09:00:00Z"));
}
END_TEST

/* Walks each span with cr_cron_next and with the minute-stepping model; both
 * must give the same sequence of fire times. */
static void check_against_ref(const char *expr, const char *tz, time_t from, time_t limit)
{
	struct cron_expr e;
	char err[256], got[64], want[64];
	time_t t = from, n1, n2;

	ck_assert_msg(cr_cron_parse(expr, &e, err, sizeof(err)) == 0, "%s: %s", expr, err);
	for (;;) {
		int r1 = cr_cron_next(&e, tz, t, &n1), r2 = cron_ref_next(&e, tz, t, limit, &n2);
		if (r2 < 0) {
			ck_assert_msg(r1 == 0 && n1 >= limit, "'%s' %s: extra fire", expr, tz);
			return;
		}
		cr_iso8601_utc((double)n1, got, sizeof(got));
		cr_iso8601_utc((double)n2, want, sizeof(want));
		ck_assert_msg(r1 == 0 && n1 == n2, "'%s' %s: got %s, model says %s", expr, tz, got, want);
		t = n1;
	}
}

START_TEST(dst_matches_model)
{
	static const char *const exprs[] = {
		"*/15 * * * *", "30 * * * *", "0 * * * *", "0,45 * * * *", "30 2 * * *", "*/20 2 * * *",
		"* 2 * * *", "15 1 * * *", "45 1 * * *", "0 0 * * *", "*/7 1-3 * * *", "0 */2 * * *",
		"59 1 * * sun", "0 2,3 * * *", "40 2 * * 0",
	};
	static const struct {
		const char *tz, *from;
	} spans[] = {
		{ "Europe/Berlin", "2026-03-28T00:00:00Z" },   { "Europe/Berlin", "2026-10-24T00:00:00Z" },
		{ "America/New_York", "2026-03-07T00:00:00Z" }, { "America/New_York", "2026-10-31T00:00:00Z" },
		{ "Australia/Lord_Howe", "2026-04-04T00:00:00Z" }, { "Australia/Lord_Howe", "2026-10-02T12:00:00Z" },
		{ "Pacific/Chatham", "2026-09-26T00:00:00Z" },  { "Asia/Kolkata", "2026-03-28T00:00:00Z" },
	};
	time_t from = at(spans[_i].from);

	for (size_t j = 0; j < sizeof(exprs) / sizeof(exprs[0]); j++)
		check_against_ref(exprs[j], spans[_i].tz, from, from + 3 * 86400);
}
END_TEST

/* Without DST, the model checks every field form over arbitrary stretches. */
START_TEST(utc_matches_model)
{
	static const char *const exprs[] = {
		"*/13 */5 * * *", "7 3 */3 * *",     "0 12 * * mon-wed", "0 0 1,15 * fri", "5-55/10 9-17 * * 1-5",
		"0 0 13 * 5",     "30 6 * jan,jun *", "0 0 * * 6-7",      "0 0 */2 * sun",  "59 23 28-31 * *",
	};
	time_t t = at("2026-01-01T00:00:00Z");

	/* A fixed stride keeps runs reproducible and lands on every weekday. */
	for (int k = 0; k < 6; k++, t += 61 * 86400 + 3 * 3600 + 17 * 60 + 5)
		check_against_ref(exprs[_i], "UTC", t, t + 20 * 86400);
}
END_TEST

static Suite *cron_suite(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, next_table, 0, sizeof(next_cases) / sizeof(next_cases[0]));
	tcase_add_test(tc, tz_restored);
	tcase_add_loop_test(tc, dst_matches_model, 0, 8);
	tcase_add_loop_test(tc, utc_matches_model, 0, 10);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, cron_parse_tcase());
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cron_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
