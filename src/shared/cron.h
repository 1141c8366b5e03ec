/* Cron schedules for celeryroot beat: five-field expressions evaluated in an
 * IANA time zone.  Expressions come from operators and from Redis, so the
 * parser is strict and bounded, and nothing here allocates (except the copy
 * of TZ that tzone.c keeps while a zone is entered).
 *
 * Syntax, as crontab(5): "MIN HOUR DOM MON DOW", fields separated by spaces
 * or tabs (leading and trailing ones ignored), at most CRON_EXPR_MAX bytes of
 * printable ASCII.  A field is a comma list of items; an item is '*', a
 * number, a range a-b (a <= b), or '*' or a range followed by a step /n.
 * Ranges: minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec,
 * day of week 0-7 or sun-sat (0 and 7 are Sunday; "sun" ending a range is 7,
 * so sat-sun works).  Names are case-insensitive.  A step is 1 to the field's
 * largest value.  Not supported: a/n without a range, '?', L, W, #, seconds
 * and years.  Macros (alone, case-insensitive): @yearly = @annually =
 * "0 0 1 1 *", @monthly = "0 0 1 * *", @weekly = "0 0 * * 0", @daily =
 * @midnight = "0 0 * * *", @hourly = "0 * * * *"; not @reboot.
 *
 * Days, as Vixie cron: when both day fields are restricted, a day matches if
 * EITHER does ("0 0 1 * mon": the 1st and every Monday); otherwise both must.
 * As in Vixie cron and cronie, a field counts as unrestricted when it starts
 * with '*', so "0 0 *\/2 * mon" means odd-numbered days that are Mondays.
 * Expressions whose day of month never exists in their months under that
 * rule ("0 0 30 2 *") are refused when parsed.
 *
 * Time zones and daylight saving time (cr_cron_next):
 *  - A schedule is an INTERVAL schedule when its hour field matches all 24
 *    hours ("*", "*\/1", "0-23"), otherwise a FIXED-TIME schedule.  This is
 *    the line cronie draws (and, for the repeat, systemd's common practice).
 *  - Fixed-time: a wall time that a spring-forward gap skips runs once, at
 *    the first instant after the gap, i.e. the moment the clock jumps (02:30
 *    on Europe/Berlin's 2026-03-29 runs at 03:00 CEST); several skipped times
 *    collapse into that one run.  A wall time that a fall-back repeats runs
 *    once, at its first occurrence (02:30 CEST on 2026-10-25, not 02:30 CET).
 *  - Interval: the schedule follows the clock as it is shown, so it keeps
 *    its real-time cadence: skipped wall times do not run ("*\/15 * * * *"
 *    goes from 01:45 CET to 03:00 CEST, 15 minutes later), and repeated wall
 *    times run at both occurrences (02:00, 02:15 ... CEST, then again CET).
 *
 * Thread safety: cr_cron_next switches the process's TZ while it runs and puts
 * it back before returning (see tzone.h); do not call it from two threads or
 * use localtime() in another thread meanwhile.  Parsing is thread-safe. */
#ifndef CR_CRON_H
#define CR_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tzone.h"

#define CRON_EXPR_MAX 255
#define CRON_ZONE_MAX TZ_NAME_MAX
/* How far cr_cron_next looks: just over 8 years, because February 29 can be
 * 8 years apart (2096, then 2104). */
#define CRON_HORIZON_DAYS (8 * 366 + 1)
/* cr_cron_next refuses times before the epoch and from the year 3000 on. */
#define CRON_TIME_MAX TZ_TIME_MAX

#define CRON_DOM_STAR 1   /* day-of-month field started with '*' */
#define CRON_DOW_STAR 2   /* day-of-week field started with '*' */

struct cron_expr {
	uint64_t minute;  /* bit n: minute n, 0-59 */
	uint32_t hour;    /* bit n: hour n, 0-23 */
	uint32_t dom;     /* bit n: day of month n, 1-31 */
	uint16_t month;   /* bit n: month n, 1-12 */
	uint8_t dow;      /* bit n: weekday n, 0 = Sunday .. 6 (7 folded into 0) */
	uint8_t flags;    /* CRON_DOM_STAR | CRON_DOW_STAR */
};

/* Parses s into *e.  0, or -1 with a one-line reason in err (e.g. "field 2
 * (hour): 24 is out of range 0-23"); *e is untouched on failure. */
int cr_cron_parse(const char *s, struct cron_expr *e, char *err, size_t errlen);

/* 1 when tz is "UTC" or an IANA zone installed as a TZif file under
 * /usr/share/zoneinfo (see cr_tz_valid), 0 otherwise. */
int cr_cron_zone_valid(const char *tz);

/* 1 for an interval schedule (hour field matches every hour), else 0. */
int cr_cron_is_interval(const struct cron_expr *e);

#define CRON_NONE (-1)    /* no fire time within CRON_HORIZON_DAYS */
#define CRON_EINVAL (-2)  /* invalid zone, after out of range, or the C library failed */

/* The first fire time strictly after `after`, in zone tz, following the DST
 * rules above.  0 and *next, or CRON_NONE / CRON_EINVAL (*next untouched). */
int cr_cron_next(const struct cron_expr *e, const char *tz, time_t after, time_t *next);

#endif
