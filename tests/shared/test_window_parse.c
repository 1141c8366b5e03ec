/* Unit tests for cr_window_parse.c: the four INI values, what is refused and why. */
#include "config.h"

#include <check.h>
#include <string.h>

#include "window.h"
#include "window_tests.h"

static const struct good_case {
	const char *days, *start, *dur, *zone;
	unsigned mask;   /* bit n: weekday n, 0 = Sunday */
	int start_min;
	long secs;
} good_cases[] = {
	{ "mon-fri", "22:30", "3h", "Europe/Berlin", 0x3e, 22 * 60 + 30, 3 * 3600 },
	{ "sat,sun", "7:05", "90m", "UTC", 0x41, 7 * 60 + 5, 5400 },
	{ "*", "00:00", "1h30m", "America/New_York", 0x7f, 0, 5400 },
	{ "Fri-Sun, mon", "23:59", "1d12h", "Asia/Kolkata", 0x63, 23 * 60 + 59, 129600 },
	{ " tue , THU ", "12:00", "1m", "UTC", 0x14, 720, 60 },
	{ "sat-sun", "06:00", "7d", "UTC", 0x41, 360, 7 * 86400 },
	{ "mon-sun", "06:00", "10080m", "UTC", 0x7f, 360, 7 * 86400 },
	{ "wed,wed", "06:00", "1d1h1m", "Australia/Lord_Howe", 0x08, 360, 90060 },
};

START_TEST(good_table)
{
	const struct good_case *c = &good_cases[_i];
	struct window w;

	wt_window(&w, c->days, c->start, c->dur, c->zone);
	ck_assert_uint_eq(w.days, c->mask);
	ck_assert_int_eq(w.start, c->start_min);
	ck_assert_int_eq(w.duration, c->secs);
	ck_assert_str_eq(w.zone, c->zone);
}
END_TEST

/* One bad value among good ones, and a substring of the reason. */
static const struct bad_case {
	const char *days, *start, *dur, *zone, *why;
} bad_cases[] = {
	{ NULL, "22:30", "3h", "UTC", "days: missing" },
	{ "", "22:30", "3h", "UTC", "days: empty item; use * or days mon..sun" },
	{ "mon,,tue", "22:30", "3h", "UTC", "days: empty item" },
	{ "mon,", "22:30", "3h", "UTC", "days: empty item" },
	{ "monday", "22:30", "3h", "UTC", "days: 'monday' is not a day or a range of days" },
	{ "fri-mon", "22:30", "3h", "UTC", "days: reversed range fri-mon; days run mon..sun, so write fri-sun,mon" },
	{ "sat-tue", "22:30", "3h", "UTC", "so write sat-sun,mon-tue" },
	{ "mon-", "22:30", "3h", "UTC", "'mon-' is not a day" },
	{ "-fri", "22:30", "3h", "UTC", "'-fri' is not a day" },
	{ "mon-tue-wed", "22:30", "3h", "UTC", "is not a day" },
	{ "*,mon", "22:30", "3h", "UTC", "'*' is not a day" },
	{ "1-5", "22:30", "3h", "UTC", "'1-5' is not a day" },
	{ "mon\n", "22:30", "3h", "UTC", "days: control characters are not allowed" },
	{ "mon\xc2\xa0", "22:30", "3h", "UTC", "days: only printable ASCII is allowed" },
	{ "mon,tue,wed,thu,fri,sat,sun,mon,tue,wed,thu,fri,sat,sun,mon,tue,w", "22:30", "3h", "UTC",
	  "days: longer than 64 characters" },
	{ "mon", NULL, "3h", "UTC", "start: missing" },
	{ "mon", "24:00", "3h", "UTC", "start: '24:00' is not a time of day; use HH:MM from 00:00 to 23:59" },
	{ "mon", "12:60", "3h", "UTC", "start: '12:60' is not a time of day" },
	{ "mon", "12", "3h", "UTC", "not a time of day" },
	{ "mon", "12:5", "3h", "UTC", "not a time of day" },
	{ "mon", "123:00", "3h", "UTC", "not a time of day" },
	{ "mon", "-1:00", "3h", "UTC", "not a time of day" },
	{ "mon", "12:00:00", "3h", "UTC", "not a time of day" },
	{ "mon", "12.30", "3h", "UTC", "not a time of day" },
	{ "mon", " 12:00", "3h", "UTC", "not a time of day" },
	{ "mon", "", "3h", "UTC", "start: '' is not a time of day" },
	{ "mon", "22:30", NULL, "UTC", "duration: missing" },
	{ "mon", "22:30", "", "UTC", "duration: '' is not a duration; use e.g. 90m, 2h or 1h30m" },
	{ "mon", "22:30", "0m", "UTC", "duration: '0m' is out of range; use e.g. 90m" },
	{ "mon", "22:30", "59s", "UTC", "duration: '59s' is not a duration" },
	{ "mon", "22:30", "7d1m", "UTC", "'7d1m' is out of range" },
	{ "mon", "22:30", "8d", "UTC", "'8d' is out of range" },
	{ "mon", "22:30", "99999m", "UTC", "is out of range" },
	{ "mon", "22:30", "999999h", "UTC", "is not a duration" },
	{ "mon", "22:30", "99999999999999999999999d", "UTC", "is not a duration" },
	{ "mon", "22:30", "3", "UTC", "'3' is not a duration" },
	{ "mon", "22:30", "h", "UTC", "is not a duration" },
	{ "mon", "22:30", "1.5h", "UTC", "is not a duration" },
	{ "mon", "22:30", "30m1h", "UTC", "is not a duration" },
	{ "mon", "22:30", "1h1h", "UTC", "is not a duration" },
	{ "mon", "22:30", "1H", "UTC", "is not a duration" },
	{ "mon", "22:30", "-1h", "UTC", "is not a duration" },
	{ "mon", "22:30", "1h 30m", "UTC", "is not a duration" },
	{ "mon", "22:30", "2w", "UTC", "is not a duration" },
	{ "mon", "22:30", "3h", NULL, "zone: missing" },
	{ "mon", "22:30", "3h", "", "zone: '' is not a time zone; use an IANA name" },
	{ "mon", "22:30", "3h", "Europe/Berln", "zone: 'Europe/Berln' is not a time zone" },
	{ "mon", "22:30", "3h", "../etc/passwd", "zone: '../etc/passwd' is not a time zone" },
	{ "mon", "22:30", "3h", "/etc/localtime", "is not a time zone" },
	{ "mon", "22:30", "3h", "right/UTC", "is not a time zone" },
	{ "mon", "22:30", "3h", "Europe", "is not a time zone" },
	{ "mon", "22:30", "3h", "Europe/Berlin\t", "is not a time zone" },
};

START_TEST(bad_table)
{
	const struct bad_case *c = &bad_cases[_i];
	struct window w, before;
	char err[256] = "";

	memset(&w, 0xa5, sizeof(w));
	before = w;
	ck_assert_msg(cr_window_parse(c->days, c->start, c->dur, c->zone, &w, err, sizeof(err)) == -1,
		      "row %d accepted", _i);
	ck_assert_msg(strstr(err, c->why) != NULL, "row %d: got \"%s\", want \"%s\"", _i, err, c->why);
	ck_assert(strchr(err, '\n') == NULL);
	ck_assert_int_eq(memcmp(&w, &before, sizeof(w)), 0);   /* untouched on refusal */
}
END_TEST

START_TEST(err_buffers)
{
	struct window w;
	char err[8];

	ck_assert_int_eq(cr_window_parse("mon", "25:00", "1h", "UTC", &w, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "start: ");
	ck_assert_int_eq(cr_window_parse("mon", "25:00", "1h", "UTC", &w, NULL, 0), -1);
}
END_TEST

TCase *window_parse_tcase(void)
{
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, good_table, 0, sizeof(good_cases) / sizeof(good_cases[0]));
	tcase_add_loop_test(tc, bad_table, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, err_buffers);
	return tc;
}
