/* Cron expression parser: the whole expression, macros and the check that
 * it can fire; cron_field.c parses each field.  Grammar and rules: cron.h. */
#include "config.h"
#include "cron.h"
#include "cron_int.h"
#include "names.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SHAPE "minute hour day-of-month month day-of-week"
/* How much of an unknown macro an error message quotes. */
#define MACRO_QUOTE 24

static const struct {
	const char *name, *expansion;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" }, { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Whole-string checks: printable ASCII only, so error messages can quote. */
static int check_bytes(const char *s, size_t len, char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch >= 0x7f)
			return cr_err_fail(err, errlen,
					  "cron expression: byte 0x%02x at position %zu is not allowed; "
					  "use printable ASCII",
					  ch, i + 1);
	}
	return 0;
}

static int expand_macro(const char *s, size_t len, const char **out, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
		if (strlen(macros[i].name) == len && strncasecmp(s, macros[i].name, len) == 0) {
			*out = macros[i].expansion;
			return 0;
		}
	}
	return cr_err_fail(err, errlen,
			  "unknown macro '%.*s%s'; use @hourly, @daily, @weekly, @monthly or @yearly alone",
			  len > MACRO_QUOTE ? MACRO_QUOTE : (int)len, s, len > MACRO_QUOTE ? "..." : "");
}

/* Finds the field boundaries in [s, end); returns how many fields there are,
 * storing at most CRON_FIELDS of them. */
static int split_fields(const char *s, const char *end, const char *start[], const char *stop[])
{
	int n = 0;

	for (const char *p = s; p < end;) {
		if (is_blank(*p)) {
			p++;
			continue;
		}
		if (n < CRON_FIELDS)
			start[n] = p;
		while (p < end && !is_blank(*p))
			p++;
		if (n < CRON_FIELDS)
			stop[n] = p;
		n++;
	}
	return n;
}

/* Under the AND rule the day of month must exist in one of the months, or the
 * schedule never fires; refuse it now rather than searching 8 years later. */
static int check_possible(const struct cron_expr *e, char *err, size_t errlen)
{
	if (!(e->flags & (CRON_DOM_STAR | CRON_DOW_STAR)))
		return 0;   /* OR rule: every month has each weekday */
	for (int m = 1; m <= 12; m++) {
		int longest = m == 2 ? 29 : cr_tz_days_in_month(2001, m);
		if ((e->month >> m & 1) && (e->dom & ((2ULL << longest) - 1)))
			return 0;
	}
	return cr_err_fail(err, errlen,
			  "field 3 (day of month): never fires: none of these days exists in the chosen months");
}

static int parse_fields(const char *s, const char *end, struct cron_expr *e, char *err, size_t errlen)
{
	const char *start[CRON_FIELDS], *stop[CRON_FIELDS];
	uint64_t mask[CRON_FIELDS];
	int n = split_fields(s, end, start, stop);

	if (n != CRON_FIELDS)
		return cr_err_fail(err, errlen, "cron expression has %d field%s; expected 5: " SHAPE, n,
				  n == 1 ? "" : "s");
	for (int i = 0; i < CRON_FIELDS; i++)
		if (cr_cron_parse_field(i, start[i], stop[i], &mask[i], err, errlen) < 0)
			return -1;
	memset(e, 0, sizeof(*e));
	e->minute = mask[0];
	e->hour = (uint32_t)mask[1];
	e->dom = (uint32_t)mask[2];
	e->month = (uint16_t)mask[3];
	/* 7 is Sunday again. */
	e->dow = (uint8_t)((mask[4] | mask[4] >> 7) & 0x7f);
	e->flags = (*start[2] == '*' ? CRON_DOM_STAR : 0) | (*start[4] == '*' ? CRON_DOW_STAR : 0);
	return check_possible(e, err, errlen);
}

int cr_cron_parse(const char *s, struct cron_expr *e, char *err, size_t errlen)
{
	struct cron_expr tmp;
	const char *end;
	size_t len;

	if (s == NULL)
		return cr_err_fail(err, errlen, "no cron expression");
	if ((len = strnlen(s, CRON_EXPR_MAX + 1)) > CRON_EXPR_MAX)
		return cr_err_fail(err, errlen, "cron expression is longer than %d characters",
				  CRON_EXPR_MAX);
	if (check_bytes(s, len, err, errlen) < 0)
		return -1;
	end = s + len;
	while (s < end && is_blank(*s))
		s++;
	while (end > s && is_blank(end[-1]))
		end--;
	if (s == end)
		return cr_err_fail(err, errlen, "cron expression is empty; expected 5 fields: " SHAPE
				  ", e.g. '30 2 * * mon-fri', or a macro such as @daily");
	if (*s == '@') {
		if (expand_macro(s, (size_t)(end - s), &s, err, errlen) < 0)
			return -1;
		end = s + strlen(s);
	}
	if (parse_fields(s, end, &tmp, err, errlen) < 0)
		return -1;
	*e = tmp;
	return 0;
}

int cr_cron_is_interval(const struct cron_expr *e)
{
	return (e->hour & 0xffffffu) == 0xffffffu;
}
