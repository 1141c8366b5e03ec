/* The schedule clock (see clock.h). */
#include "config.h"
#include "clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "timeutil.h"

static int inited, shifted;
static double fake_epoch, real_epoch, speed = 1;

void cr_clock_init(void)
{
	const char *v = getenv(CLOCK_ENV);
	double f, r, s;
	char extra;

	inited = 1;
	if (v == NULL || v[0] == '\0')
		return;
	if (sscanf(v, "%lf:%lf:%lf%c", &f, &r, &s, &extra) != 3 || !isfinite(f) || !isfinite(r) || !(s > 0 && s <= 3600)) {
		error_f("ignoring %s='%.60s': want FAKE_EPOCH:REAL_EPOCH:SPEED", CLOCK_ENV, v);
		return;
	}
	fake_epoch = f, real_epoch = r, speed = s, shifted = 1;
	info_f("test clock: %s", v);
}

double cr_clock_now(void)
{
	if (!inited)
		cr_clock_init();
	return shifted ? fake_epoch + (cr_now_wall() - real_epoch) * speed : cr_now_wall();
}
