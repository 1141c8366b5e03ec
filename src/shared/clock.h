/* The wall clock that schedules and maintenance windows are judged by.
 * Tests can run it at another time and speed: CELERYROOT_TEST_CLOCK =
 * "FAKE_EPOCH:REAL_EPOCH:SPEED" makes now = FAKE_EPOCH + (real now -
 * REAL_EPOCH) * SPEED.  Signature expiry and every other time check use the
 * real clock, never this one. */
#ifndef CR_CLOCK_H
#define CR_CLOCK_H

#define CLOCK_ENV "CELERYROOT_TEST_CLOCK"

/* Reads the environment once (call before a sandbox is entered). */
void cr_clock_init(void);
double cr_clock_now(void);

#endif
