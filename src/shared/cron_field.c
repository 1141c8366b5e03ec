/* One field of a cron expression: lists, ranges, steps and names (cron.h). */
#include "config.h"
#include "cron.h"
#include "cron_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Longest number worth reading: every valid value has at most 2 digits, so
 * 3 keeps "007" and still cannot overflow. */
#define DIGITS_MAX 3
/* How much of a bad token an error message quotes. */
#define TOKEN_QUOTE 12

struct field {
	const char *name;
	int lo, hi;                 /* values accepted */
	int star_hi;                /* '*' covers lo..star_hi (day of week: not 7 again) */
	const char *const *names;   /* 3-letter names for lo, lo+1, ... or NULL */
	const char *hint;           /* what the field accepts, for errors */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

static const struct field fields[CRON_FIELDS] = {
	{ "minute", 0, 59, 59, NULL, "0-59" },
	{ "hour", 0, 23, 23, NULL, "0-23" },
	{ "day of month", 1, 31, 31, NULL, "1-31" },
	{ "month", 1, 12, 12, month_names, "1-12 or jan-dec" },
	{ "day of week", 0, 7, 6, day_names, "0-7 or sun-sat" },
};

struct pctx {
	int idx;                    /* 0-based field number */
	const struct field *f;
	char *err;
	size_t errlen;
};

static int fail(const struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const struct pctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->err == NULL || c->errlen == 0)
		return -1;
	n = snprintf(c->err, c->errlen, "field %d (%s): ", c->idx + 1, c->f->name);
	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Says what was found where something else was expected. */
static int unexpected(const struct pctx *c, const char *p, const char *end, const char *wanted)
{
	/* Items are never empty, so at the end there is a character before p. */
	if (p >= end)
		return fail(c, "expected %s after '%c'", wanted, p[-1]);
	return fail(c, "unexpected '%c'; expected %s", *p, wanted);
}

/* How much of the token [s, p) an error message quotes. */
static int quoted_len(const char *s, const char *p)
{
	return p - s > TOKEN_QUOTE ? TOKEN_QUOTE : (int)(p - s);
}

static int lookup_name(const struct field *f, const char *s, size_t len)
{
	if (f->names == NULL || len != 3)
		return -1;
	for (int i = 0; f->names[i] != NULL; i++)
		if (strncasecmp(s, f->names[i], 3) == 0)
			return f->lo + i;
	return -1;
}

/* Reads a number or a name at *pp.  *named tells the caller which it was. */
static int parse_value(const struct pctx *c, const char **pp, const char *end, int *v, int *named)
{
	const char *p = *pp, *s = p;
	int val = 0;

	*named = 0;
	if (p < end && is_digit(*p)) {
		for (; p < end && is_digit(*p); p++)
			if (p - s < DIGITS_MAX)
				val = val * 10 + (*p - '0');
		if (p - s > DIGITS_MAX || val < c->f->lo || val > c->f->hi)
			return fail(c, "%.*s%s is out of range %d-%d", quoted_len(s, p), s,
				    p - s > TOKEN_QUOTE ? "..." : "", c->f->lo, c->f->hi);
	} else if (p < end && is_alpha(*p)) {
		for (; p < end && is_alpha(*p); p++)
			;
		if ((val = lookup_name(c->f, s, (size_t)(p - s))) < 0)
			return c->f->names == NULL
				       ? fail(c, "names are not allowed here; expected %s", c->f->hint)
				       : fail(c, "unknown name '%.*s'; expected %s", quoted_len(s, p), s, c->f->hint);
		*named = 1;
	} else {
		return unexpected(c, p, end, c->f->hint);
	}
	*pp = p;
	*v = val;
	return 0;
}

static int parse_step(const struct pctx *c, const char **pp, const char *end, int *step)
{
	const char *p = *pp, *s = p;
	int val = 0;

	if (p >= end || !is_digit(*p))
		return unexpected(c, p, end, "a step number after '/'");
	for (; p < end && is_digit(*p); p++)
		if (p - s < DIGITS_MAX)
			val = val * 10 + (*p - '0');
	if (p - s > DIGITS_MAX || val < 1 || val > c->f->hi)
		return fail(c, "step %.*s%s is out of range 1-%d", quoted_len(s, p), s,
			    p - s > TOKEN_QUOTE ? "..." : "", c->f->hi);
	*pp = p;
	*step = val;
	return 0;
}

/* One list item in [p, end): '*', a, a-b, each optionally with /n for '*' and a-b. */
static int parse_item(const struct pctx *c, const char *p, const char *end, uint64_t *mask)
{
	int lo, hi, step = 1, named, ranged = 0;

	if (*p == '*') {
		p++;
		lo = c->f->lo;
		hi = c->f->star_hi;
		ranged = 1;
	} else {
		if (parse_value(c, &p, end, &lo, &named) < 0)
			return -1;
		hi = lo;
		if (p < end && *p == '-') {
			p++;
			if (parse_value(c, &p, end, &hi, &named) < 0)
				return -1;
			/* "sat-sun": Sunday closing a range is 7, the end of the week. */
			if (named && c->f->names == day_names && hi == 0)
				hi = 7;
			if (hi < lo)
				return fail(c, "reversed range %d-%d; write ranges low-high", lo, hi);
			ranged = 1;
		}
	}
	if (p < end && *p == '/') {
		if (!ranged)
			return fail(c, "a step needs '*' or a range before it, e.g. */15 or %d-%d/2",
				    c->f->lo, c->f->hi == 7 ? 6 : c->f->hi);
		p++;
		if (parse_step(c, &p, end, &step) < 0)
			return -1;
	}
	if (p < end)
		return unexpected(c, p, end, "',', '-', '/' or the end of the field");
	for (int v = lo; v <= hi; v += step)
		*mask |= 1ULL << v;
	return 0;
}

int cr_cron_parse_field(int idx, const char *p, const char *end, uint64_t *mask, char *err, size_t errlen)
{
	struct pctx ctx = { idx, NULL, err, errlen };

	if (idx < 0 || idx >= CRON_FIELDS || p >= end)
		return -1;
	ctx.f = &fields[idx];
	*mask = 0;
	for (;;) {
		const char *q = memchr(p, ',', (size_t)(end - p));
		if (q == NULL)
			q = end;
		if (q == p)
			return fail(&ctx, "empty list item; expected %s between commas", ctx.f->hint);
		if (parse_item(&ctx, p, q, mask) < 0)
			return -1;
		if (q == end)
			return 0;
		p = q + 1;
	}
}
