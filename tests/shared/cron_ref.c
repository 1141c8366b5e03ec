#include "config.h"
#include "cron_tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the clock shows at t, as wall seconds. */
static long long wall_at(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return (long long)t + tm.tm_gmtoff;
}

/* Whether wall time w (as if UTC) matches, day rule written out afresh. */
static int matches(const struct cron_expr *e, long long w)
{
	time_t tt = (time_t)w;
	struct tm tm;
	int dom_ok, dow_ok, day_ok;

	gmtime_r(&tt, &tm);
	dom_ok = (e->dom & (1u << tm.tm_mday)) != 0;
	dow_ok = (e->dow & (1u << tm.tm_wday)) != 0;
	if (e->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
		day_ok = dom_ok && dow_ok;
	else
		day_ok = dom_ok || dow_ok;
	return day_ok && (e->month & (1u << (tm.tm_mon + 1))) && (e->hour & (1u << tm.tm_hour)) &&
	       (e->minute & (1ULL << tm.tm_min));
}

/* The clock showed w at some earlier instant within the last 3 hours. */
static int shown_before(time_t t, long long w)
{
	for (int d = 900; d <= 3 * 3600; d += 900)
		if (wall_at(t - d) == w)
			return 1;
	return 0;
}

/* Some wall minute the clock jumped over between t - 60 and t matches. */
static int skipped_match(const struct cron_expr *e, time_t t)
{
	for (long long w = wall_at(t - 60) + 60; w < wall_at(t); w += 60)
		if (matches(e, w))
			return 1;
	return 0;
}

int cron_ref_next(const struct cron_expr *e, const char *tz, time_t after, time_t limit, time_t *next)
{
	char val[128];
	int interval = cr_cron_is_interval(e), rc = -1;

	snprintf(val, sizeof(val), strcmp(tz, "UTC") == 0 ? "UTC0" : ":%s", tz);
	setenv("TZ", val, 1);
	tzset();
	for (time_t t = (after / 60 + 1) * 60; t < limit; t += 60) {
		long long w = wall_at(t);
		if ((matches(e, w) && (interval || !shown_before(t, w))) || (!interval && skipped_match(e, t))) {
			*next = t;
			rc = 0;
			break;
		}
	}
	unsetenv("TZ");
	tzset();
	return rc;
}
