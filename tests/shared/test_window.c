/* Unit tests for window.c: open/closed, next opening and closing time for
 * single windows (across midnight, the week wrap, weekends and DST nights)
 * and for unions; parsing is in test_window_parse.c. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "window.h"
#include "window_tests.h"

time_t wt_at(const char *iso)
{
	double t;

	ck_assert_msg(cr_iso8601_parse(iso, &t) == 0, "bad test time %s", iso);
	return (time_t)t;
}

void wt_window(struct window *w, const char *days, const char *start, const char *dur, const char *zone)
{
	char err[256];

	ck_assert_msg(cr_window_parse(days, start, dur, zone, w, err, sizeof(err)) == 0, "%s", err);
}

/* At t the window is open until `when`, or closed until it opens at `when`.
 * Times with an offset are local, so the DST rows read as the rule. */
static const struct open_case {
	const char *days, *start, *dur, *zone, *t;
	int open;
	const char *when;
} open_cases[] = {
	/* Weeknights across midnight; 2026-06-01 is a Monday. */
	{ "mon-fri", "22:30", "3h", "Europe/Berlin", "2026-06-01T22:29:59+02:00", 0, "2026-06-01T22:30:00+02:00" },
	{ "mon-fri", "22:30", "3h", "Europe/Berlin", "2026-06-01T22:30:00+02:00", 1, "2026-06-02T01:30:00+02:00" },
	{ "mon-fri", "22:30", "3h", "Europe/Berlin", "2026-06-02T01:29:59+02:00", 1, "2026-06-02T01:30:00+02:00" },
	{ "mon-fri", "22:30", "3h", "Europe/Berlin", "2026-06-02T01:30:00+02:00", 0, "2026-06-02T22:30:00+02:00" },
	{ "mon-fri", "22:30", "3h", "Europe/Berlin", "2026-06-02T12:00:00Z", 0, "2026-06-02T22:30:00+02:00" },
	/* Friday's window runs into Saturday; then nothing until Monday. */
	{ "mon-fri", "22:30", "3h", "Europe/Berlin", "2026-06-06T00:30:00+02:00", 1, "2026-06-06T01:30:00+02:00" },
	{ "mon-fri", "22:30", "3h", "Europe/Berlin", "2026-06-06T22:45:00+02:00", 0, "2026-06-08T22:30:00+02:00" },
	{ "mon-fri", "22:30", "3h", "Europe/Berlin", "2026-06-07T23:59:00+02:00", 0, "2026-06-08T22:30:00+02:00" },
	/* The week wraps: Sunday's window runs into Monday. */
	{ "sun", "23:00", "2h", "UTC", "2026-06-07T22:59:00Z", 0, "2026-06-07T23:00:00Z" },
	{ "sun", "23:00", "2h", "UTC", "2026-06-08T00:30:00Z", 1, "2026-06-08T01:00:00Z" },
	{ "sun", "23:00", "2h", "UTC", "2026-06-08T01:00:00Z", 0, "2026-06-14T23:00:00Z" },
	{ "SAT-sun", "20:00", "1d12h", "UTC", "2026-06-08T07:59:00Z", 1, "2026-06-09T08:00:00Z" },
	/* Back-to-back occurrences close once, at the end of the last. */
	{ "sat,sun", "00:00", "24h", "UTC", "2026-06-06T12:00:00Z", 1, "2026-06-08T00:00:00Z" },
	{ "sat,sun", "00:00", "24h", "UTC", "2026-06-08T00:00:00Z", 0, "2026-06-13T00:00:00Z" },
	{ "*", "12:00", "1m", "UTC", "2026-06-08T12:01:00Z", 0, "2026-06-09T12:00:00Z" },
	{ "mon", "09:00", "90m", "Asia/Kolkata", "2026-06-01T03:30:00Z", 1, "2026-06-01T10:30:00+05:30" },
	{ "mon", "09:00", "1h30m", "Asia/Kolkata", "2026-06-01T05:00:00Z", 0, "2026-06-08T09:00:00+05:30" },
	/* Berlin 2026-03-29, 02:00 CET -> 03:00 CEST: a start in the gap opens
	 * when the clock jumps and still lasts its whole duration. */
	{ "sun", "02:30", "1h", "Europe/Berlin", "2026-03-28T12:00:00Z", 0, "2026-03-29T03:00:00+02:00" },
	{ "sun", "02:30", "1h", "Europe/Berlin", "2026-03-29T01:59:59+01:00", 0, "2026-03-29T03:00:00+02:00" },
	{ "sun", "02:30", "1h", "Europe/Berlin", "2026-03-29T03:00:00+02:00", 1, "2026-03-29T04:00:00+02:00" },
	{ "sun", "01:00", "3h", "Europe/Berlin", "2026-03-29T01:00:00+01:00", 1, "2026-03-29T05:00:00+02:00" },
	{ "sat", "23:00", "4h", "Europe/Berlin", "2026-03-29T03:30:00+02:00", 1, "2026-03-29T04:00:00+02:00" },
	/* Berlin 2026-10-25, 03:00 CEST -> 02:00 CET: a start in the repeated
	 * hour opens once, at its first occurrence. */
	{ "sun", "02:30", "1h", "Europe/Berlin", "2026-10-24T12:00:00Z", 0, "2026-10-25T02:30:00+02:00" },
	{ "sun", "02:30", "1h", "Europe/Berlin", "2026-10-25T02:30:00+02:00", 1, "2026-10-25T02:30:00+01:00" },
	{ "sun", "02:30", "1h", "Europe/Berlin", "2026-10-25T02:30:00+01:00", 0, "2026-11-01T02:30:00+01:00" },
	{ "sun", "02:30", "1h", "Europe/Berlin", "2026-10-25T02:45:00+01:00", 0, "2026-11-01T02:30:00+01:00" },
	{ "sun", "01:00", "3h", "Europe/Berlin", "2026-10-25T02:59:00+01:00", 1, "2026-10-25T03:00:00+01:00" },
	/* New York 2026-03-08 (02:00 -> 03:00) and 2026-11-01 (02:00 -> 01:00). */
	{ "sun", "02:15", "1h", "America/New_York", "2026-03-08T01:59:00-05:00", 0, "2026-03-08T03:00:00-04:00" },
	{ "sun", "02:15", "1h", "America/New_York", "2026-03-08T03:59:00-04:00", 1, "2026-03-08T04:00:00-04:00" },
	{ "sun", "01:30", "30m", "America/New_York", "2026-11-01T01:45:00-04:00", 1, "2026-11-01T01:00:00-05:00" },
	{ "sun", "01:30", "30m", "America/New_York", "2026-11-01T01:30:00-05:00", 0, "2026-11-08T01:30:00-05:00" },
	/* Lord Howe's half-hour changes: 2026-10-04 02:00 -> 02:30, 2026-04-05 02:00 -> 01:30. */
	{ "sun", "02:00", "1h", "Australia/Lord_Howe", "2026-10-03T12:00:00Z", 0, "2026-10-04T02:30:00+11:00" },
	{ "sun", "02:00", "1h", "Australia/Lord_Howe", "2026-10-04T03:29:00+11:00", 1, "2026-10-04T03:30:00+11:00" },
	{ "sun", "01:45", "30m", "Australia/Lord_Howe", "2026-04-05T01:40:00+10:30", 1, "2026-04-05T01:45:00+10:30" },
	{ "sun", "01:45", "30m", "Australia/Lord_Howe", "2026-04-05T01:45:00+10:30", 0, "2026-04-12T01:45:00+10:30" },
};

START_TEST(open_table)
{
	const struct open_case *c = &open_cases[_i];
	struct window w;
	time_t t = wt_at(c->t), when = wt_at(c->when), close = 42;
	char got[64];

	wt_window(&w, c->days, c->start, c->dur, c->zone);
	ck_assert_msg(cr_window_open_at(&w, t) == c->open, "row %d: %s open_at", _i, c->t);
	if (c->open) {
		ck_assert_int_eq(cr_window_next_open(&w, t), t);
		ck_assert_int_eq(cr_window_current_close(&w, t, &close), 1);
		cr_iso8601_utc((double)close, got, sizeof(got));
		ck_assert_msg(close == when, "row %d: closes %s, want %s", _i, got, c->when);
	} else {
		time_t next = cr_window_next_open(&w, t);
		cr_iso8601_utc((double)next, got, sizeof(got));
		ck_assert_msg(next == when, "row %d: opens %s, want %s", _i, got, c->when);
		ck_assert_int_eq(cr_window_current_close(&w, t, &close), 0);
		ck_assert_int_eq(close, 42);
	}
}
END_TEST

START_TEST(unions)
{
	struct window ws[3], broken;
	time_t close;

	wt_window(&ws[0], "mon-fri", "22:00", "2h", "Europe/Berlin");   /* 20:00Z-22:00Z in June */
	wt_window(&ws[1], "sat,sun", "10:00", "4h", "Europe/Berlin");
	wt_window(&ws[2], "*", "21:30", "1h", "UTC");
	ck_assert_int_eq(cr_windows_open_at(ws, 3, wt_at("2026-06-06T11:00:00+02:00")), 1);
	ck_assert_int_eq(cr_windows_open_at(ws, 3, wt_at("2026-06-03T12:00:00Z")), 0);
	ck_assert_int_eq(cr_windows_next_open(ws, 3, wt_at("2026-06-03T12:00:00Z")), wt_at("2026-06-03T20:00:00Z"));
	ck_assert_int_eq(cr_windows_next_open(ws, 2, wt_at("2026-06-05T23:00:00Z")), wt_at("2026-06-06T08:00:00Z"));
	ck_assert_int_eq(cr_windows_next_open(ws, 3, wt_at("2026-06-03T21:00:00Z")), wt_at("2026-06-03T21:00:00Z"));
	/* Overlapping windows of different zones close at the end of the last. */
	ck_assert_int_eq(cr_windows_current_close(ws, 3, wt_at("2026-06-03T20:30:00Z"), &close), 1);
	ck_assert_int_eq(close, wt_at("2026-06-03T22:30:00Z"));
	ck_assert_int_eq(cr_windows_current_close(ws, 1, wt_at("2026-06-03T20:30:00Z"), &close), 1);
	ck_assert_int_eq(close, wt_at("2026-06-03T22:00:00Z"));
	/* No windows: never open; what that means is the caller's policy. */
	ck_assert_int_eq(cr_windows_open_at(ws, 0, 0), 0);
	ck_assert_int_eq(cr_windows_next_open(ws, 0, 0), -1);
	ck_assert_int_eq(cr_windows_current_close(ws, 0, 0, &close), 0);
	/* A zone that vanished, or a time out of range, is an error, not "closed". */
	broken = ws[0];
	strcpy(broken.zone, "Europe/Atlantis");
	ck_assert_int_eq(cr_window_open_at(&broken, wt_at("2026-06-03T12:00:00Z")), -1);
	ck_assert_int_eq(cr_window_next_open(&broken, wt_at("2026-06-03T12:00:00Z")), -1);
	ck_assert_int_eq(cr_window_current_close(&broken, wt_at("2026-06-03T12:00:00Z"), &close), -1);
	ck_assert_int_eq(cr_windows_open_at((struct window[]){ ws[2], broken }, 2, 0), -1);
	ck_assert_int_eq(cr_window_open_at(&ws[0], -1), -1);
	ck_assert_int_eq(cr_window_next_open(&ws[0], TZ_TIME_MAX + 1), -1);
	ck_assert_int_eq(cr_window_open_at(NULL, 0), -1);
}
END_TEST

/* A window that never closes reports where the search stopped. */
START_TEST(always_open)
{
	struct window w;
	time_t t = wt_at("2026-06-03T12:00:00Z"), close;

	wt_window(&w, "*", "00:00", "1d12h", "Europe/Berlin");
	ck_assert_int_eq(cr_window_current_close(&w, t, &close), 1);
	ck_assert(close >= t + WINDOW_LOOKAHEAD);
	ck_assert(close <= t + WINDOW_LOOKAHEAD + 2 * 86400);
}
END_TEST

static Suite *window_suite(void)
{
	Suite *s = suite_create("window");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, open_table, 0, sizeof(open_cases) / sizeof(open_cases[0]));
	tcase_add_test(tc, unions);
	tcase_add_test(tc, always_open);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, window_parse_tcase());
	suite_add_tcase(s, window_model_tcase());
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(window_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
