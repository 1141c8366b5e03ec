/* Local time in IANA time zones, shared by cron.c and window.c.
 *
 * Zones are evaluated with the C library: cr_tz_enter points TZ at the zone's
 * file under TZ_DIR (by absolute path, so a TZDIR in the environment cannot
 * make evaluation disagree with cr_tz_valid) and calls tzset(); localtime_r then
 * answers in that zone until cr_tz_leave puts the previous TZ back.
 *
 * Not thread-safe: TZ and the C library's zone state are process globals, and
 * every thread's localtime() sees the zone while it is entered.  The callers
 * (celeryroot beat, the daemon's scheduler) are single-threaded.
 *
 * Wall-clock times are handled as "wall seconds": the local date and time
 * written as if it were UTC (days since 1970-01-01 * 86400 + seconds into the
 * day).  Nothing here allocates except cr_tz_enter's copy of the previous TZ. */
#ifndef CR_TZONE_H
#define CR_TZONE_H

#include <time.h>

#define TZ_DIR "/usr/share/zoneinfo"
#define TZ_NAME_MAX 64
/* No zone has ever been further than this from UTC (LMT in Asia/Manila was
 * -15:56); bounds every search for the instants that show a wall time. */
#define TZ_OFFSET_BOUND (16 * 3600)
/* Latest instant the evaluators accept (3000-01-01T00:00Z); earliest is 0. */
#define TZ_TIME_MAX ((time_t)32503680000LL)

/* 1 when name is "UTC" or a TZif file under TZ_DIR: [A-Za-z0-9_+-] components
 * separated by single '/', at most TZ_NAME_MAX bytes, not absolute, no "..",
 * not under right/ (leap-second zones do not count POSIX seconds). */
int cr_tz_valid(const char *name);

/* tzpin.c: pins a zone to the POSIX rule of its TZif footer, so that
 * cr_tz_valid and cr_tz_enter need no file afterwards (net opens none).  0, or -1
 * when the zone is invalid, has no POSIX rule, or too many are pinned. */
#define TZ_RULE_MAX 63
#define TZ_PIN_MAX 32
int cr_tz_pin(const char *name);
const char *cr_tz_pinned(const char *name);
/* The pins, for handing them to the exec'd net (src/shared/netboot.c):
 * cr_tz_pin_get gives pin i (0 .. cr_tz_pin_count() - 1) or -1; cr_tz_pin_rule
 * pins name to a rule read elsewhere (no file), -1 when the rule is not a
 * plain POSIX TZ string, the name is too long, or the table is full. */
int cr_tz_pin_count(void);
int cr_tz_pin_get(int i, const char **name, const char **rule);
int cr_tz_pin_rule(const char *name, const char *rule);

struct tz_saved {
	char *prev;     /* previous TZ, NULL when it was unset */
	int entered;
};

/* Switches local time to zone name.  0, or -1 when the zone is not valid or
 * memory runs out (nothing changed then).  Pair every 0 with cr_tz_leave. */
int cr_tz_enter(const char *name, struct tz_saved *s);
void cr_tz_leave(struct tz_saved *s);
/* strftime of t as the clock in zone name shows it; "?" when the zone is
 * not valid.  Not thread-safe (cr_tz_enter). */
void cr_tz_format(time_t t, const char *name, const char *fmt, char *buf, size_t len)
	__attribute__((format(strftime, 3, 0)));

/* Proleptic Gregorian calendar, days counted from 1970-01-01. */
long long cr_tz_days_from_civil(int y, int m, int d);
void cr_tz_civil_from_days(long long days, int *y, int *m, int *d);
int cr_tz_weekday(long long days);   /* 0 = Sunday .. 6 = Saturday */
int cr_tz_days_in_month(int y, int m);
long long cr_tz_floor_div(long long a, long long b);

/* The instants at which the entered zone's clock shows one wall time. */
struct tz_hit {
	int n;            /* 1 normally, 2 in a fall-back repeat, 0 in a spring-forward gap */
	time_t at[2];     /* the n instants, ascending */
	time_t gap_end;   /* n == 0: the instant the clock jumps over this time */
};

/* One local day.  Finding both offsets once per day lets the common day
 * (one offset throughout) map wall times to instants with no further calls. */
struct tz_day {
	long long wall0;  /* wall seconds of the day's 00:00 */
	long before;      /* UTC offset in force just before the day */
	long after;       /* UTC offset in force just after it */
};

/* 0, or -1 when the C library cannot convert times that far out.
 * Assumes a zone never changes its offset twice within ~2.5 days, which
 * holds for every zone in tzdata since 1900. */
int cr_tz_day_init(struct tz_day *d, long long days);
/* Where the wall time secs (0..86399) of day d falls.  0 or -1 (as above). */
int cr_tz_day_resolve(const struct tz_day *d, int secs, struct tz_hit *h);

#endif
