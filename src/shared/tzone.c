#include "config.h"
#include "tzone.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Past the offset bound, so that a probe this far before (after) a day sees
 * the offset before (after) every instant that can show one of its times. */
#define PROBE ((long long)TZ_OFFSET_BOUND + 3600)

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '+' || c == '-';
}

static int name_ok(const char *name)
{
	size_t len;

	if (name == NULL || (len = strnlen(name, TZ_NAME_MAX + 1)) == 0 || len > TZ_NAME_MAX)
		return 0;
	/* right/ zones count leap seconds, so time_t arithmetic would drift. */
	if (strncmp(name, "right/", 6) == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (name[i] != '/') {
			/* '.' is not allowed, so neither is "..". */
			if (!name_char(name[i]))
				return 0;
		} else if (i == 0 || i + 1 == len || name[i - 1] == '/') {
			return 0;   /* absolute, empty component or trailing slash */
		}
	}
	return 1;
}

static int is_tzif(const char *name)
{
	char path[sizeof(TZ_DIR) + 1 + TZ_NAME_MAX];
	char magic[4];
	struct stat st;
	int fd, ok;

	if (snprintf(path, sizeof(path), "%s/%s", TZ_DIR, name) >= (int)sizeof(path))
		return 0;
	/* O_NONBLOCK: a FIFO in the tree must not hang the scheduler. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read(fd, magic, sizeof(magic)) == 4 &&
	     memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

int cr_tz_valid(const char *name)
{
	if (name != NULL && (strcmp(name, "UTC") == 0 || cr_tz_pinned(name) != NULL))
		return 1;
	return name_ok(name) && is_tzif(name);
}

int cr_tz_enter(const char *name, struct tz_saved *s)
{
	char val[sizeof(TZ_DIR) + 2 + TZ_NAME_MAX];
	const char *prev;

	s->prev = NULL;
	s->entered = 0;
	if (!cr_tz_valid(name))
		return -1;
	/* A POSIX rule rather than a file: UTC works even without tzdata. */
	if (strcmp(name, "UTC") == 0)
		snprintf(val, sizeof(val), "UTC0");
	else if (cr_tz_pinned(name) != NULL)
		snprintf(val, sizeof(val), "%s", cr_tz_pinned(name));
	else
		snprintf(val, sizeof(val), ":%s/%s", TZ_DIR, name);
	prev = getenv("TZ");
	if (prev != NULL && (s->prev = strdup(prev)) == NULL)
		return -1;
	if (setenv("TZ", val, 1) != 0) {
		free(s->prev);
		s->prev = NULL;
		return -1;
	}
	tzset();
	s->entered = 1;
	return 0;
}

void cr_tz_leave(struct tz_saved *s)
{
	if (!s->entered)
		return;
	if (s->prev != NULL)
		setenv("TZ", s->prev, 1);
	else
		unsetenv("TZ");
	tzset();
	free(s->prev);
	s->prev = NULL;
	s->entered = 0;
}

void cr_tz_format(time_t t, const char *name, const char *fmt, char *buf, size_t len)
{
	struct tz_saved saved;
	struct tm tm;

	if (len == 0)
		return;
	if (cr_tz_enter(name, &saved) < 0) {
		snprintf(buf, len, "?");
		return;
	}
	/* The declaration's format attribute checks each caller's literal. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (localtime_r(&t, &tm) == NULL || strftime(buf, len, fmt, &tm) == 0)
		snprintf(buf, len, "?");
#pragma GCC diagnostic pop
	cr_tz_leave(&saved);
}

long long cr_tz_floor_div(long long a, long long b)
{
	long long q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Howard Hinnant's days_from_civil / civil_from_days: exact for any year,
 * with no struct tm normalisation and no dependence on the zone. */
long long cr_tz_days_from_civil(int y, int m, int d)
{
	long long yy = (long long)y - (m <= 2);
	long long era = cr_tz_floor_div(yy, 400);
	long long yoe = yy - era * 400;
	long long doy = (153LL * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void cr_tz_civil_from_days(long long days, int *y, int *m, int *d)
{
	long long z = days + 719468;
	long long era = cr_tz_floor_div(z, 146097);
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long long mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int cr_tz_weekday(long long days)
{
	return (int)((days % 7 + 11) % 7);   /* 1970-01-01 was a Thursday */
}

int cr_tz_days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (m < 1 || m > 12)
		return 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

static int offset_at(long long t, long *off)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return -1;
	*off = tm.tm_gmtoff;
	return 0;
}

int cr_tz_day_init(struct tz_day *d, long long days)
{
	d->wall0 = days * 86400;
	if (offset_at(d->wall0 - PROBE, &d->before) < 0 || offset_at(d->wall0 + 86400 + PROBE, &d->after) < 0)
		return -1;
	return 0;
}

/* The clock jumped forward from offset before to after at an instant T with
 * T + before <= wall < T + after, so T is in (wall - after, wall - before]:
 * bisect for the first instant that no longer has the old offset. */
static int find_jump(long long wall, long before, long after, time_t *jump)
{
	long long lo = wall - after, hi = wall - before;
	long off;

	while (hi - lo > 1) {
		long long mid = lo + (hi - lo) / 2;
		if (offset_at(mid, &off) < 0)
			return -1;
		if (off == before)
			lo = mid;
		else
			hi = mid;
	}
	*jump = (time_t)hi;
	return 0;
}

int cr_tz_day_resolve(const struct tz_day *d, int secs, struct tz_hit *h)
{
	long long wall = d->wall0 + secs;
	/* Ascending when the clock falls back (before > after), the case with two. */
	long long cand[2] = { wall - d->before, wall - d->after };
	long off;

	h->n = 0;
	h->gap_end = 0;
	if (d->before == d->after) {
		h->n = 1;
		h->at[0] = (time_t)cand[0];
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (offset_at(cand[i], &off) < 0)
			return -1;
		if (cand[i] + off == wall)
			h->at[h->n++] = (time_t)cand[i];
	}
	if (h->n == 2 && h->at[0] > h->at[1]) {
		time_t x = h->at[0];
		h->at[0] = h->at[1];
		h->at[1] = x;
	}
	if (h->n > 0)
		return 0;
	return d->after > d->before ? find_jump(wall, d->before, d->after, &h->gap_end) : -1;
}
