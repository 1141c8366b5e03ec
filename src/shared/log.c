#include "config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char log_prog[32] = "celeryroot";
static enum log_level log_max = LOG_L_INFO;
static int log_syslog;

void cr_log_init(const char *prog, enum log_level level, int use_syslog)
{
	cr_log_set_prog(prog);
	log_max = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog("celeryrootd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void cr_log_set_prog(const char *prog)
{
	snprintf(log_prog, sizeof(log_prog), "%s", prog);
}

/* Control bytes become '?': a message may quote what a hostile broker or
 * sentinel sent (an error reply), and an escape sequence must not reach an
 * operator's terminal or split a journal line. */
static void log_defang(char *msg)
{
	for (unsigned char *p = (unsigned char *)msg; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* The format attribute tells clang's -Wformat-nonliteral that fmt is
 * checked at the callers (cr_log_msg, cr_log_fatal). */
static void log_vemit(enum log_level lvl, const char *func, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void log_vemit(enum log_level lvl, const char *func, const char *fmt, va_list ap)
{
	char msg[1024];

	if (lvl > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_defang(msg);
	if (log_syslog) {
		int pri = lvl == LOG_L_ERROR ? LOG_ERR : lvl == LOG_L_INFO ? LOG_INFO : LOG_DEBUG;
		syslog(pri, "%s: %s: %s", log_prog, func, msg);
		return;
	}
	/* One write per line, so lines from net and priv never interleave. */
	char line[1200];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s[%ld] %s: %s\n",
			 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
			 log_prog, (long)getpid(), func, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void cr_log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vemit(lvl, func, fmt, ap);
	va_end(ap);
}

void cr_log_fatal(const char *func, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vemit(LOG_L_ERROR, func, fmt, ap);
	va_end(ap);
	_exit(1);
}

/* The refusal budget of the current window. */
static struct {
	time_t window_start;
	unsigned logged, dropped;
} refusals;

static time_t log_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void cr_log_refusal_tick(void)
{
	time_t now = log_mono_s();

	if (now - refusals.window_start < LOG_REFUSAL_WINDOW)
		return;
	if (refusals.dropped > 0)
		cr_log_msg(LOG_L_INFO, "log_refusal", "%u more refusal(s) in the last %d s were not logged one by one",
			refusals.dropped, LOG_REFUSAL_WINDOW);
	refusals.window_start = now;
	refusals.logged = refusals.dropped = 0;
}

void cr_log_refusal_f(const char *func, const char *fmt, ...)
{
	va_list ap;

	cr_log_refusal_tick();
	if (refusals.logged >= LOG_REFUSAL_BURST) {
		refusals.dropped++;
		return;
	}
	if (++refusals.logged == LOG_REFUSAL_BURST) {
		cr_log_msg(LOG_L_INFO, func, "refusals are coming fast: further ones in the next %d s are counted, not logged",
			LOG_REFUSAL_WINDOW);
	}
	va_start(ap, fmt);
	log_vemit(LOG_L_INFO, func, fmt, ap);
	va_end(ap);
}
