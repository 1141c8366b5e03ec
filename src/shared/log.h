/* Logging in the OpenSSH style: every message names the function it came from. */
#ifndef CR_LOG_H
#define CR_LOG_H

#include <stdarg.h>

enum log_level { LOG_L_ERROR = 0, LOG_L_INFO = 1, LOG_L_DEBUG = 2 };

/* prog names the process in every line ("net", "priv", "celeryroot").
 * use_syslog is chosen before any sandbox is entered, because opening the
 * syslog socket later would need syscalls the sandbox forbids. */
void log_init(const char *prog, enum log_level level, int use_syslog);
void log_set_prog(const char *prog);
void log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_fatal(const char *func, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#define fatal_f(...) log_fatal(__func__, __VA_ARGS__)
#define error_f(...) log_msg(LOG_L_ERROR, __func__, __VA_ARGS__)
#define info_f(...)  log_msg(LOG_L_INFO, __func__, __VA_ARGS__)
#define debug_f(...) log_msg(LOG_L_DEBUG, __func__, __VA_ARGS__)

#endif
