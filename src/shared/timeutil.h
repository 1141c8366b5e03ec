#ifndef CR_TIMEUTIL_H
#define CR_TIMEUTIL_H

#include <stddef.h>

/* Wall clock as seconds since the epoch, with sub-second precision. */
double cr_now_wall(void);
/* Monotonic clock in seconds, for timeouts. */
double cr_now_mono(void);
/* Celery's date_done form: "2026-11-22T11:24:33.040265" (UTC, no zone). */
void cr_iso8601_celery(double t, char *buf, size_t len);
/* ISO 8601 with an explicit zone: "2026-11-22T12:24:23.886825+00:00". */
void cr_iso8601_utc(double t, char *buf, size_t len);
/* Parses YYYY-MM-DDTHH:MM:SS[.frac][Z|+HH:MM|-HH:MM]; no zone means UTC, as
 * Celery with enable_utc writes.  Returns 0 and the epoch time, -1 if bad. */
int cr_iso8601_parse(const char *s, double *out);

#endif
