/* Shared by the source files of the test_cron program. */
#ifndef CR_CRON_TESTS_H
#define CR_CRON_TESTS_H

#include <check.h>
#include <time.h>

#include "cron.h"

/* cron_ref.c: a slow, independent model of cr_cron_next.  It steps through
 * real minutes and asks localtime what the clock shows, instead of mapping
 * wall times to instants.  Zones must have whole-minute offsets.
 * First fire time after `after` and before `limit` by the rules in cron.h:
 * 0 and *next, or -1 if none.  Uses setenv("TZ") and leaves it unset. */
int cron_ref_next(const struct cron_expr *e, const char *tz, time_t after, time_t limit, time_t *next);

/* test_cron_parse.c: the parser's test case. */
TCase *cron_parse_tcase(void);

#endif
