/* Unit tests for timeutil.c: Celery's ISO 8601 forms, strict parsing. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* 2026-11-22T12:24:23.886825Z, the expiry in the captured message. */
#define CAPTURE_SEC 1795350263.0
#define CAPTURE_T (CAPTURE_SEC + 0.886825)

START_TEST(clocks)
{
	double w = cr_now_wall(), m1 = cr_now_mono(), m2 = cr_now_mono();

	ck_assert(w > 1.7e9);      /* after 2023 */
	ck_assert(m1 > 0);
	ck_assert(m2 >= m1);
}
END_TEST

START_TEST(format)
{
	char buf[64];

	cr_iso8601_celery(CAPTURE_T, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-11-22T12:24:23.886825");
	cr_iso8601_utc(CAPTURE_T, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-11-22T12:24:23.886825+00:00");
	cr_iso8601_utc(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000000+00:00");
	/* Rounding into the next second carries. */
	cr_iso8601_celery(59.9999996, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:01:00.000000");
	/* Truncated to fit, never overflowing. */
	cr_iso8601_utc(CAPTURE_T, buf, 11);
	ck_assert_str_eq(buf, "2026-11-22");
	/* Out-of-range times give an empty string, not garbage. */
	cr_iso8601_utc(1e300, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
}
END_TEST

static double parsed(const char *s)
{
	double t = -12345;

	ck_assert_msg(cr_iso8601_parse(s, &t) == 0, "refused %s", s);
	return t;
}

START_TEST(parse_good)
{
	ck_assert_double_eq_tol(parsed("2026-11-22T12:24:23.886825+00:00"), CAPTURE_T, 1e-6);
	ck_assert_double_eq_tol(parsed("2026-11-22T12:24:23.886825Z"), CAPTURE_T, 1e-6);
	ck_assert_double_eq_tol(parsed("2026-11-22T12:24:23.886825"), CAPTURE_T, 1e-6);
	ck_assert_double_eq_tol(parsed("2026-11-22T12:24:23"), CAPTURE_SEC, 1e-9);
	ck_assert_double_eq_tol(parsed("2026-11-22T12:24:23.5"), CAPTURE_SEC + 0.5, 1e-6);
	ck_assert_double_eq_tol(parsed("2026-11-22T12:24:23.123456789"), CAPTURE_SEC + 0.123456789, 1e-6);
	/* Zones move the instant the right way. */
	ck_assert_double_eq_tol(parsed("2026-11-22T14:24:23+02:00"), CAPTURE_SEC, 1e-9);
	ck_assert_double_eq_tol(parsed("2026-11-22T07:54:23-04:30"), CAPTURE_SEC, 1e-9);
	ck_assert_double_eq_tol(parsed("2024-02-29T00:00:00"), 1709164800.0, 1e-9);
	ck_assert_double_eq_tol(parsed("1970-01-01T00:00:00Z"), 0.0, 1e-9);
}
END_TEST

START_TEST(parse_round_trip)
{
	char buf[64];
	double t;

	for (double x = 1.0e9 + 0.000001; x < 2.0e9; x += 12345678.123457) {
		cr_iso8601_utc(x, buf, sizeof(buf));
		ck_assert_int_eq(cr_iso8601_parse(buf, &t), 0);
		ck_assert_double_eq_tol(t, x, 1e-6);
		cr_iso8601_celery(x, buf, sizeof(buf));
		ck_assert_int_eq(cr_iso8601_parse(buf, &t), 0);
		ck_assert_double_eq_tol(t, x, 1e-6);
	}
}
END_TEST

START_TEST(parse_bad)
{
	static const char *const bad[] = {
		"", "now", "2026-11-22", "2026-11-22 12:24:23", "2026-11-22T12:24", "2026-11-22T12:24:23.",
		"2026-11-22T12:24:23.1234567890", "2026-11-22T12:24:23x", "2026-11-22T12:24:23Zjunk",
		"2026-11-22T12:24:23+00:00 ", "2026-11-22T12:24:23+0000", "2026-11-22T12:24:23+24:00",
		"2026-11-22T12:24:23+00:60", "2026-13-01T00:00:00", "2026-00-01T00:00:00", "2026-02-29T00:00:00",
		"2026-04-31T00:00:00", "2026-11-00T00:00:00", "2026-11-22T24:00:00", "2026-11-22T12:60:00",
		"2026-11-22T12:24:61", "+026-11-22T12:24:23", "2026-1-22T12:24:23", "2026-11-22T12:24:23z",
		"2026-11-22T12:24:23.88a", "２026-11-22T12:24:23",
		"2026-11-22T12:24:23.000000000000000000000000000000000000000000000000000000000000000001",
	};
	double t = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cr_iso8601_parse(bad[i], &t) == -1, "accepted %s", bad[i]);
	ck_assert_int_eq(cr_iso8601_parse(NULL, &t), -1);
	ck_assert_double_eq(t, 42);   /* untouched on refusal */
}
END_TEST

static Suite *timeutil_suite(void)
{
	Suite *s = suite_create("timeutil");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, clocks);
	tcase_add_test(tc, format);
	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, parse_round_trip);
	tcase_add_test(tc, parse_bad);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(timeutil_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
