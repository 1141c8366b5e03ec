#include "config.h"
#include "timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double cr_now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cr_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fmt(double t, char *buf, size_t len, const char *zone)
{
	/* Round to whole microseconds first: truncating t - sec would turn
	 * .886825 into .886824 because doubles near 2e9 carry ~0.2 us of error. */
	double x = t * 1e6;
	long long us, s, usec;
	time_t sec;
	struct tm tm;

	if (len == 0)
		return;
	buf[0] = '\0';
	/* Years 0001..9999 only; also keeps the cast below defined (and NaN out). */
	if (!(t > -62135596800.0 && t < 253402300800.0))
		return;
	us = (long long)(x >= 0 ? x + 0.5 : x - 0.5);   /* round half away; no libm needed */
	s = us / 1000000;
	usec = us % 1000000;
	if (usec < 0) {         /* before 1970: floor, not truncate */
		usec += 1000000;
		s--;
	}
	sec = (time_t)s;
	if (gmtime_r(&sec, &tm) == NULL)
		return;
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld%s", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec, zone);
}

void cr_iso8601_celery(double t, char *buf, size_t len)
{
	fmt(t, buf, len, "");
}

void cr_iso8601_utc(double t, char *buf, size_t len)
{
	fmt(t, buf, len, "+00:00");
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

static int parse_zone(const char *p, int *offset)
{
	int hh, mm, sign;

	*offset = 0;
	if (*p == '\0')
		return 0;
	if (p[0] == 'Z' && p[1] == '\0')
		return 0;
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &hh) < 0 || expect(&p, ':') < 0 || digits(&p, 2, &mm) < 0 || *p != '\0' ||
	    hh > 23 || mm > 59)
		return -1;
	*offset = sign * (hh * 3600 + mm * 60);
	return 0;
}

static int days_in_month(int y, int mo)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return mo == 2 && leap ? 29 : days[mo - 1];
}

int cr_iso8601_parse(const char *s, double *out)
{
	struct tm tm;
	const char *p = s;
	int y, mo, d, h, mi, sec, offset;
	double frac = 0, scale = 0.1;

	if (s == NULL || strnlen(s, 64) >= 64)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (digits(&p, 4, &y) < 0 || expect(&p, '-') < 0 || digits(&p, 2, &mo) < 0 ||
	    expect(&p, '-') < 0 || digits(&p, 2, &d) < 0 || expect(&p, 'T') < 0 ||
	    digits(&p, 2, &h) < 0 || expect(&p, ':') < 0 || digits(&p, 2, &mi) < 0 ||
	    expect(&p, ':') < 0 || digits(&p, 2, &sec) < 0)
		return -1;
	/* Refuse what timegm would silently normalise (Feb 30, 24:00, :60). */
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return -1;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++, scale /= 10)
			frac += (*p - '0') * scale;
		if (n < 1 || n > 9)
			return -1;
	}
	if (parse_zone(p, &offset) < 0)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (double)timegm(&tm) - offset + frac;
	return 0;
}
