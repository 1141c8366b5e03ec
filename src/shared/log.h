/* Logging in the OpenSSH style: every message names the function it came from. */
#ifndef CR_LOG_H
#define CR_LOG_H

#include <stdarg.h>

enum log_level { LOG_L_ERROR = 0, LOG_L_INFO = 1, LOG_L_DEBUG = 2 };

/* prog names the process in every line ("net", "priv", "celeryroot").
 * use_syslog is chosen before any sandbox is entered, because opening the
 * syslog socket later would need syscalls the sandbox forbids. */
void cr_log_init(const char *prog, enum log_level level, int use_syslog);
void cr_log_set_prog(const char *prog);
void cr_log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cr_log_fatal(const char *func, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Refusals of hostile input are logged at most LOG_REFUSAL_BURST per
 * LOG_REFUSAL_WINDOW seconds: a flood of garbage cannot fill the journal.
 * What was not logged is counted and said by cr_log_refusal_tick (call it
 * about once a second) when its window ends. */
#define LOG_REFUSAL_BURST 20
#define LOG_REFUSAL_WINDOW 60
void cr_log_refusal_f(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cr_log_refusal_tick(void);
#define log_refusal(...) cr_log_refusal_f(__func__, __VA_ARGS__)

#define fatal_f(...) cr_log_fatal(__func__, __VA_ARGS__)
#define error_f(...) cr_log_msg(LOG_L_ERROR, __func__, __VA_ARGS__)
#define info_f(...)  cr_log_msg(LOG_L_INFO, __func__, __VA_ARGS__)
#define debug_f(...) cr_log_msg(LOG_L_DEBUG, __func__, __VA_ARGS__)

#endif
