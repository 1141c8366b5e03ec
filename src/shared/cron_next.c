/* cr_cron_next: the next fire time of a schedule in a time zone, with the DST
 * rules documented in cron.h.
 *
 * The search walks local calendar days, which needs no zone at all, and only
 * maps the matching wall times of matching days to instants (tzone.c).  The
 * answer is the smallest instant after `after`, not the first wall time:
 * in a fall-back repeat, 02:15 CET comes after 02:45 CEST. */
#include "config.h"
#include "cron.h"

struct best {
	int found;
	time_t at;
	long long day;   /* local day that produced the first candidate */
};

int cr_cron_zone_valid(const char *tz)
{
	return cr_tz_valid(tz);
}

static int day_matches(const struct cron_expr *e, long long day)
{
	int y, m, d, dom_ok, dow_ok;

	cr_tz_civil_from_days(day, &y, &m, &d);
	if (!(e->month >> m & 1))
		return 0;
	dom_ok = e->dom >> d & 1;
	dow_ok = e->dow >> cr_tz_weekday(day) & 1;
	if (e->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
		return dom_ok && dow_ok;
	return dom_ok || dow_ok;
}

static void take(struct best *b, time_t t, time_t after)
{
	if (t > after && (!b->found || t < b->at)) {
		b->found = 1;
		b->at = t;
	}
}

/* The instants one matching wall time fires at, per the DST rules. */
static void consider(struct best *b, const struct tz_hit *h, int interval, time_t after)
{
	if (h->n == 0) {
		if (!interval)
			take(b, h->gap_end, after);
		return;
	}
	take(b, h->at[0], after);
	if (interval && h->n == 2)
		take(b, h->at[1], after);
}

static int scan_day(const struct cron_expr *e, long long day, time_t after, struct best *b)
{
	int interval = cr_cron_is_interval(e);
	struct tz_day td;
	struct tz_hit h;

	if (cr_tz_day_init(&td, day) < 0)
		return -1;
	for (int hr = 0; hr < 24; hr++) {
		if (!(e->hour >> hr & 1))
			continue;
		for (int mi = 0; mi < 60; mi++) {
			int secs = hr * 3600 + mi * 60;
			if (!(e->minute >> mi & 1))
				continue;
			/* Every instant that shows this wall time is at or before after. */
			if (td.wall0 + secs <= (long long)after - TZ_OFFSET_BOUND)
				continue;
			if (cr_tz_day_resolve(&td, secs, &h) < 0)
				return -1;
			consider(b, &h, interval, after);
			/* With one offset all day, later wall times are later instants. */
			if (b->found && td.before == td.after)
				return 0;
		}
	}
	return 0;
}

static int search(const struct cron_expr *e, time_t after, time_t *next)
{
	long long first = cr_tz_floor_div((long long)after - TZ_OFFSET_BOUND, 86400);
	struct best b = { 0, 0, 0 };

	for (long long day = first; day < first + CRON_HORIZON_DAYS; day++) {
		int had = b.found;

		/* A day's wall times all show before the next-but-one day's do
		 * (no clock goes back a day), so one more day settles it. */
		if (b.found && day > b.day + 1)
			break;
		if (!day_matches(e, day))
			continue;
		if (scan_day(e, day, after, &b) < 0)
			return CRON_EINVAL;
		if (!had && b.found)
			b.day = day;
	}
	if (!b.found)
		return CRON_NONE;
	*next = b.at;
	return 0;
}

int cr_cron_next(const struct cron_expr *e, const char *tz, time_t after, time_t *next)
{
	struct tz_saved saved;
	int rc;

	if (e == NULL || next == NULL || after < 0 || after > CRON_TIME_MAX)
		return CRON_EINVAL;
	if (cr_tz_enter(tz, &saved) < 0)
		return CRON_EINVAL;
	rc = search(e, after, next);
	cr_tz_leave(&saved);
	return rc;
}
