/* cr_window_parse: the four INI values of a maintenance window (window.h). */
#include "config.h"
#include "window.h"
#include "names.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DAYS_RULE "use * or days mon..sun, ranges and lists, e.g. mon-fri or sat,sun"
#define START_RULE "use HH:MM from 00:00 to 23:59"
#define DURATION_RULE "use e.g. 90m, 2h or 1h30m (units d, h, m in that order), from 1m to 7d"
#define ZONE_RULE "use an IANA name from " TZ_DIR " such as Europe/Berlin, or UTC"
/* How much of a bad value an error message quotes. */
#define QUOTE_MAX 32
/* Digits in one duration part: 10080m is the longest sensible one. */
#define PART_DIGITS_MAX 5

/* Monday first, so that ranges run through the weekend (sat-sun, fri-sun). */
static const char *const day_names[7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Monday-first index of a day name in [s, e), or -1. */
static int day_index(const char *s, const char *e)
{
	if (e - s != 3)
		return -1;
	for (int i = 0; i < 7; i++)
		if (strncasecmp(s, day_names[i], 3) == 0)
			return i;
	return -1;
}

/* One item, "mon" or "mon-fri", in [s, e) with blanks already trimmed. */
static int parse_day_item(const char *s, const char *e, uint8_t *mask, char *err, size_t errlen)
{
	const char *dash = memchr(s, '-', (size_t)(e - s));
	int lo = day_index(s, dash != NULL ? dash : e), hi = lo;

	if (dash != NULL)
		hi = day_index(dash + 1, e);
	if (lo < 0 || hi < 0) {
		char item[QUOTE_MAX + 2], q[QUOTE_MAX + 4];
		size_t n = (size_t)(e - s) > QUOTE_MAX + 1 ? QUOTE_MAX + 1 : (size_t)(e - s);
		memcpy(item, s, n);
		item[n] = '\0';
		cr_quote_printable(q, sizeof(q), item, QUOTE_MAX);
		return cr_err_fail(err, errlen, "days: '%s' is not a day or a range of days; " DAYS_RULE, q);
	}
	if (hi < lo)
		return cr_err_fail(err, errlen, "days: reversed range %s-%s; days run mon..sun, so write %s-sun,%s%s",
			    day_names[lo], day_names[hi], day_names[lo], hi > 0 ? "mon-" : "", day_names[hi]);
	for (int i = lo; i <= hi; i++)
		*mask |= (uint8_t)(1u << ((i + 1) % 7));   /* to struct tm's 0 = Sunday */
	return 0;
}

static int parse_days(const char *s, uint8_t *mask, char *err, size_t errlen)
{
	const char *p = s, *end = s + strlen(s);

	*mask = 0;
	while (p < end && is_blank(*p))
		p++;
	if (end - p == 1 && *p == '*') {
		*mask = 0x7f;
		return 0;
	}
	for (;;) {
		const char *q = memchr(p, ',', (size_t)(end - p)), *a = p, *b;
		if (q == NULL)
			q = end;
		b = q;
		while (a < b && is_blank(*a))
			a++;
		while (b > a && is_blank(b[-1]))
			b--;
		if (a == b)
			return cr_err_fail(err, errlen, "days: empty item; " DAYS_RULE);
		if (parse_day_item(a, b, mask, err, errlen) < 0)
			return -1;
		if (q == end)
			return 0;
		p = q + 1;
	}
}

static int parse_start(const char *s, int *minutes)
{
	int h = 0, m, i = 0;

	for (; i < 2 && is_digit(s[i]); i++)
		h = h * 10 + (s[i] - '0');
	if (i == 0 || s[i] != ':' || !is_digit(s[i + 1]) || !is_digit(s[i + 2]) || s[i + 3] != '\0')
		return -1;
	m = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	if (h > 23 || m > 59)
		return -1;
	*minutes = h * 60 + m;
	return 0;
}

/* -1 when malformed; *secs may then exceed the range, which the caller checks. */
static int parse_duration(const char *s, long long *secs)
{
	static const char units[] = "dhm";
	static const long long scale[] = { 86400, 3600, 60 };
	int next_unit = 0;

	*secs = 0;
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		long long v = 0;
		int n = 0;
		const char *u;
		for (; is_digit(*s); s++, n++)
			if (n < PART_DIGITS_MAX)
				v = v * 10 + (*s - '0');
		if (n == 0 || n > PART_DIGITS_MAX || *s == '\0' || (u = strchr(units, *s)) == NULL)
			return -1;
		/* Units in order and each once: "30m1h" and "1h1h" are typos. */
		if (u - units < next_unit)
			return -1;
		next_unit = (int)(u - units) + 1;
		*secs += v * scale[u - units];
		s++;
	}
	return 0;
}

static int check_value(const char *key, const char *s, char *err, size_t errlen)
{
	if (s == NULL)
		return cr_err_fail(err, errlen, "%s: missing", key);
	if (strnlen(s, WINDOW_VALUE_MAX + 1) > WINDOW_VALUE_MAX)
		return cr_err_fail(err, errlen, "%s: longer than %d characters", key, WINDOW_VALUE_MAX);
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return cr_err_fail(err, errlen, "%s: control characters are not allowed", key);
		else if ((unsigned char)*p >= 0x7f)
			return cr_err_fail(err, errlen, "%s: only printable ASCII is allowed", key);
	return 0;
}

int cr_window_parse(const char *days, const char *start, const char *duration, const char *zone,
		 struct window *w, char *err, size_t errlen)
{
	struct window tmp;
	char q[QUOTE_MAX + 4];
	long long secs;

	memset(&tmp, 0, sizeof(tmp));
	if (check_value("days", days, err, errlen) < 0 || check_value("start", start, err, errlen) < 0 ||
	    check_value("duration", duration, err, errlen) < 0 || check_value("zone", zone, err, errlen) < 0)
		return -1;
	if (parse_days(days, &tmp.days, err, errlen) < 0)
		return -1;
	if (parse_start(start, &tmp.start) < 0) {
		cr_quote_printable(q, sizeof(q), start, QUOTE_MAX);
		return cr_err_fail(err, errlen, "start: '%s' is not a time of day; " START_RULE, q);
	}
	cr_quote_printable(q, sizeof(q), duration, QUOTE_MAX);
	if (parse_duration(duration, &secs) < 0)
		return cr_err_fail(err, errlen, "duration: '%s' is not a duration; " DURATION_RULE, q);
	if (secs < 60 || secs > WINDOW_DURATION_MAX)
		return cr_err_fail(err, errlen, "duration: '%s' is out of range; " DURATION_RULE, q);
	tmp.duration = (long)secs;
	cr_quote_printable(q, sizeof(q), zone, QUOTE_MAX);
	if (!cr_tz_valid(zone) || !cr_copy_str(tmp.zone, sizeof(tmp.zone), zone))
		return cr_err_fail(err, errlen, "zone: '%s' is not a time zone; " ZONE_RULE, q);
	*w = tmp;
	return 0;
}
