/* Maintenance window evaluation; the semantics are in window.h.
 *
 * Each occurrence is found from its local start day: the opening wall time
 * is mapped to an instant (tzone.c), and the occurrence lasts duration real
 * seconds from there.  Searches only look at the start days that can matter,
 * bounded with TZ_OFFSET_BOUND, so they need no zone to pick them. */
#include "config.h"
#include "window.h"

/* The instant the occurrence starting on local day `day` opens: the first
 * instant showing the start time, or the end of the gap that skips it. */
static int occ_open(const struct window *w, long long day, time_t *open)
{
	struct tz_day td;
	struct tz_hit h;

	if (cr_tz_day_init(&td, day) < 0 || cr_tz_day_resolve(&td, w->start * 60, &h) < 0)
		return -1;
	*open = h.n > 0 ? h.at[0] : h.gap_end;
	return 0;
}

static int opens_on(const struct window *w, long long day)
{
	return w->days >> cr_tz_weekday(day) & 1;
}

/* In the entered zone: 1 and the latest end among the occurrences that
 * contain t, 0 when none does, -1 on error. */
static int containing(const struct window *w, time_t t, time_t *end)
{
	/* An occurrence containing t opened at most duration before it, and
	 * opens within TZ_OFFSET_BOUND (+ a day of start time) of its day. */
	long long from = cr_tz_floor_div((long long)t - w->duration - TZ_OFFSET_BOUND, 86400) - 1;
	long long to = cr_tz_floor_div((long long)t + TZ_OFFSET_BOUND, 86400) + 1;
	int found = 0;
	time_t open;

	for (long long day = from; day <= to; day++) {
		if (!opens_on(w, day))
			continue;
		if (occ_open(w, day, &open) < 0)
			return -1;
		if (open <= t && t < open + w->duration && (!found || open + w->duration > *end)) {
			*end = open + w->duration;
			found = 1;
		}
	}
	return found;
}

/* In the entered zone: the earliest opening after t.  Every weekday occurs
 * among the 7 days after t's, so days (never empty) guarantee one. */
static int next_opening(const struct window *w, time_t t, time_t *next)
{
	long long from = cr_tz_floor_div((long long)t - TZ_OFFSET_BOUND, 86400) - 1;
	int found = 0;
	time_t open;

	for (long long day = from; day <= from + 10; day++) {
		if (!opens_on(w, day))
			continue;
		if (occ_open(w, day, &open) < 0)
			return -1;
		if (open > t && (!found || open < *next)) {
			*next = open;
			found = 1;
		}
	}
	return found ? 0 : -1;
}

static int enter(const struct window *w, time_t t, struct tz_saved *s)
{
	if (w == NULL || t < 0 || t > TZ_TIME_MAX || w->duration < 60 || w->duration > WINDOW_DURATION_MAX ||
	    w->start < 0 || w->start >= 24 * 60)
		return -1;
	return cr_tz_enter(w->zone, s);
}

static int end_containing(const struct window *w, time_t t, time_t *end)
{
	struct tz_saved s;
	int r;

	if (enter(w, t, &s) < 0)
		return -1;
	r = containing(w, t, end);
	cr_tz_leave(&s);
	return r;
}

int cr_window_open_at(const struct window *w, time_t t)
{
	time_t end;

	return end_containing(w, t, &end);
}

time_t cr_window_next_open(const struct window *w, time_t t)
{
	struct tz_saved s;
	time_t end, next = -1;
	int r;

	if (enter(w, t, &s) < 0)
		return -1;
	r = containing(w, t, &end);
	if (r == 1)
		next = t;
	else if (r == 0 && next_opening(w, t, &next) < 0)
		next = -1;
	cr_tz_leave(&s);
	return next;
}

int cr_window_current_close(const struct window *w, time_t t, time_t *close)
{
	return cr_windows_current_close(w, 1, t, close);
}

int cr_windows_open_at(const struct window *ws, size_t n, time_t t)
{
	for (size_t i = 0; i < n; i++) {
		int r = cr_window_open_at(&ws[i], t);
		if (r != 0)
			return r;
	}
	return 0;
}

time_t cr_windows_next_open(const struct window *ws, size_t n, time_t t)
{
	time_t best = -1;

	for (size_t i = 0; i < n; i++) {
		time_t x = cr_window_next_open(&ws[i], t);
		if (x < 0)
			return -1;
		if (best < 0 || x < best)
			best = x;
	}
	return best;
}

/* The latest end among all windows' occurrences containing t: 1, 0 or -1. */
static int union_end(const struct window *ws, size_t n, time_t t, time_t *end)
{
	int found = 0;

	for (size_t i = 0; i < n; i++) {
		time_t e;
		int r = end_containing(&ws[i], t, &e);
		if (r < 0)
			return -1;
		if (r == 1 && (!found || e > *end)) {
			*end = e;
			found = 1;
		}
	}
	return found;
}

int cr_windows_current_close(const struct window *ws, size_t n, time_t t, time_t *close)
{
	time_t c = t, end;
	int r = union_end(ws, n, t, &end);

	if (r <= 0)
		return r;
	/* Follow occurrences that begin before the previous one ends.  Each step
	 * moves past the end of another occurrence, and the lookahead bounds it. */
	while (r == 1 && c < t + WINDOW_LOOKAHEAD) {
		c = end;
		if ((r = union_end(ws, n, c, &end)) < 0)
			return -1;
	}
	*close = c;
	return 1;
}
