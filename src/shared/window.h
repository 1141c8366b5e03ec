/* Maintenance windows: "days = mon-fri, start = 22:30, duration = 3h,
 * zone = Europe/Berlin" means a window opening at 22:30 Berlin time on each
 * Monday to Friday and staying open 3 hours.  A host may have several; they
 * combine as a union (windows_*).
 *
 * Semantics:
 *  - days name the day the window OPENS: mon 22:30 + 3h is open from Monday
 *    22:30 to Tuesday 01:30, and sun 23:00 + 2h runs into Monday.
 *  - The duration is real elapsed time from the opening, not wall-clock
 *    arithmetic: 01:00 + 3h on the night clocks spring forward closes at
 *    05:00 local, and on the night they fall back at 03:00.
 *  - A start time that a spring-forward gap skips opens at the end of the gap
 *    (02:30 on Europe/Berlin's 2026-03-29 opens at 03:00 CEST), and the window
 *    still lasts its whole duration from there.
 *  - A start time that a fall-back repeats opens once, at its first
 *    occurrence (02:30 CEST on 2026-10-25; it is not reopened at 02:30 CET).
 *  - A window is open on [opening, opening + duration): open at its first
 *    second, closed at its last.
 *  - Durations run from 1 minute to 7 days; windows may overlap (their union
 *    is what counts).
 *
 * The evaluators switch the process's TZ while they run (see tzone.h): not
 * thread-safe.  Times before the epoch or after TZ_TIME_MAX are errors. */
#ifndef CR_WINDOW_H
#define CR_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tzone.h"

#define WINDOW_DURATION_MAX (7 * 86400L)
/* cr_windows_current_close stops following back-to-back windows this far out. */
#define WINDOW_LOOKAHEAD (14 * 86400L)
/* Longest days/start/duration value accepted, as an INI value. */
#define WINDOW_VALUE_MAX 64

struct window {
	uint8_t days;      /* bit n: the window opens on weekday n, 0 = Sunday .. 6 */
	int start;         /* opening wall time, minutes after local midnight, 0..1439 */
	long duration;     /* seconds of real time, 60..WINDOW_DURATION_MAX */
	char zone[TZ_NAME_MAX + 1];
};

/* Parses the four INI values: days ("*", or a comma list of mon..sun and
 * ranges within mon..sun, e.g. "mon-fri" or "sat,sun"; case-insensitive,
 * blanks around items allowed), start ("HH:MM", 00:00-23:59, "7:05" too),
 * duration (e.g. "90m", "2h", "1h30m", "1d12h": units d, h, m in that order,
 * each at most once, 1m-7d), zone (IANA name or "UTC", see cr_tz_valid).
 * 0, or -1 with a one-line reason in err naming the key ("start: ...");
 * *w is untouched on failure. */
int cr_window_parse(const char *days, const char *start, const char *duration, const char *zone,
		 struct window *w, char *err, size_t errlen);

/* 1 if the window is open at t, 0 if not, -1 on error (zone gone, t out of range). */
int cr_window_open_at(const struct window *w, time_t t);

/* The first instant >= t at which the window is open: t itself when it is
 * open at t ("run now"), otherwise its next opening ("defer until then").
 * (time_t)-1 on error. */
time_t cr_window_next_open(const struct window *w, time_t t);

/* When open at t: 1 and *close, the first instant after t at which the
 * window is closed (overlapping or back-to-back occurrences count as one).
 * 0 when closed at t, -1 on error.  If it stays open beyond
 * WINDOW_LOOKAHEAD, *close is where the search stopped, at least that far. */
int cr_window_current_close(const struct window *w, time_t t, time_t *close);

/* The same over the union of n windows, each in its own zone.  With n == 0
 * nothing is ever open: cr_windows_open_at gives 0, cr_windows_next_open -1, and
 * cr_windows_current_close 0; whether "no windows" means "unrestricted" is the
 * caller's policy. */
int cr_windows_open_at(const struct window *ws, size_t n, time_t t);
time_t cr_windows_next_open(const struct window *ws, size_t n, time_t t);
int cr_windows_current_close(const struct window *ws, size_t n, time_t t, time_t *close);

#endif
