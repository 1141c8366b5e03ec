/* window.c against a slow, independent model, sampled across DST nights.
 *
 * The model finds each opening by stepping through real minutes: it is the
 * first instant at which the clock shows the start time or later on the
 * start day.  That one definition covers all three cases of window.h: the
 * start time itself, the end of a gap that skips it, and the first of two
 * occurrences in a repeat. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "window.h"
#include "window_tests.h"

#define SPAN_DAYS 4
#define MAX_OPENINGS 24

struct model {
	time_t open[MAX_OPENINGS];
	int n;
	long duration;
};

static long long wall_at(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return (long long)t + tm.tm_gmtoff;
}

/* Openings of every start day from 8 days before `from` to a week past the span;
 * the window's zone must be in TZ.  Zones have whole-minute offsets. */
static void build(struct model *m, const struct window *w, time_t from)
{
	long long first = from / 86400 - 8;

	m->n = 0;
	m->duration = w->duration;
	for (long long day = first; day <= from / 86400 + SPAN_DAYS + 8; day++) {
		long long want = day * 86400 + w->start * 60;
		if (!(w->days >> (int)((day + 4) % 7) & 1))
			continue;
		for (time_t t = (time_t)((want - 20 * 3600) / 60 * 60);; t += 60) {
			if (wall_at(t) >= want) {
				ck_assert_int_lt(m->n, MAX_OPENINGS);
				m->open[m->n++] = t;
				break;
			}
		}
	}
}

static int model_open(const struct model *m, time_t t)
{
	for (int i = 0; i < m->n; i++)
		if (m->open[i] <= t && t < m->open[i] + m->duration)
			return 1;
	return 0;
}

/* Samples every 5 minutes and checks that next_open and current_close agree with open_at. */
static void check_span(const struct window *w, time_t from)
{
	struct model m;
	char tz[96] = ":" TZ_DIR "/";

	strncat(tz, w->zone, sizeof(tz) - strlen(tz) - 1);
	setenv("TZ", tz, 1);
	tzset();
	build(&m, w, from);
	unsetenv("TZ");
	tzset();
	for (time_t t = from; t < from + SPAN_DAYS * 86400; t += 300) {
		int open = cr_window_open_at(w, t);
		time_t next = cr_window_next_open(w, t), close;
		ck_assert_msg(open == model_open(&m, t), "%s: open_at(%ld) = %d", w->zone, (long)t, open);
		if (open) {
			ck_assert_int_eq(next, t);
			ck_assert_int_eq(cr_window_current_close(w, t, &close), 1);
			ck_assert(close > t && model_open(&m, close - 1) && !model_open(&m, close));
		} else {
			ck_assert(next > t && model_open(&m, next) && !model_open(&m, next - 1));
			ck_assert_int_eq(cr_window_open_at(w, next), 1);
			ck_assert_int_eq(cr_window_open_at(w, next - 1), 0);
		}
	}
}

START_TEST(dst_nights)
{
	static const struct {
		const char *days, *start, *dur, *zone, *from;
	} spans[] = {
		{ "sat,sun", "02:30", "1h", "Europe/Berlin", "2026-03-27T00:00:00Z" },
		{ "*", "01:45", "3h", "Europe/Berlin", "2026-03-27T00:00:00Z" },
		{ "sat-sun", "23:30", "4h", "Europe/Berlin", "2026-10-23T00:00:00Z" },
		{ "*", "02:15", "45m", "Europe/Berlin", "2026-10-23T00:00:00Z" },
		{ "sun", "02:00", "1d", "America/New_York", "2026-03-06T00:00:00Z" },
		{ "*", "01:30", "30m", "America/New_York", "2026-10-30T00:00:00Z" },
		{ "*", "02:10", "20m", "Australia/Lord_Howe", "2026-10-02T00:00:00Z" },
		{ "*", "01:40", "15m", "Australia/Lord_Howe", "2026-04-03T00:00:00Z" },
		{ "fri-sun", "22:00", "2d", "Pacific/Chatham", "2026-09-24T00:00:00Z" },
		{ "mon-fri", "22:30", "3h", "UTC", "2026-06-04T00:00:00Z" },
	};
	struct window w;

	wt_window(&w, spans[_i].days, spans[_i].start, spans[_i].dur, spans[_i].zone);
	check_span(&w, wt_at(spans[_i].from));
}
END_TEST

TCase *window_model_tcase(void)
{
	TCase *tc = tcase_create("model");

	tcase_add_loop_test(tc, dst_nights, 0, 10);
	return tc;
}
