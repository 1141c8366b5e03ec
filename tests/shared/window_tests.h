/* Shared by the source files of the test_window program. */
#ifndef CR_WINDOW_TESTS_H
#define CR_WINDOW_TESTS_H

#include <check.h>
#include <time.h>

#include "window.h"

/* test_window.c: an ISO 8601 time (offset = local time) as an instant, and
 * a window parsed from its four values; both fail the test when refused. */
time_t wt_at(const char *iso);
void wt_window(struct window *w, const char *days, const char *start, const char *dur, const char *zone);

/* test_window_parse.c and test_window_model.c: their test cases. */
TCase *window_parse_tcase(void);
TCase *window_model_tcase(void);

#endif
