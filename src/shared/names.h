/* Validation of every name that crosses a trust boundary.  Each function
 * returns 1 when the whole string is valid, 0 otherwise; none allocates. */
#ifndef CR_NAMES_H
#define CR_NAMES_H

#include <stddef.h>

#define HOSTNAME_MAX 253
#define ROLE_MAX 63
#define TASK_ID_MAX 64
#define TASK_NAME_MAX 128

/* RFC 1123 host name, lower case only, at most 253 bytes. */
int cr_valid_hostname(const char *s);
/* Role: [a-z0-9][a-z0-9_-]{0,62}. */
int cr_valid_role(const char *s);
/* Celery task/job/delivery id: 1..64 of [A-Za-z0-9._:-]; uuids in practice. */
int cr_valid_task_id(const char *s);
/* Task name: celeryroot.<word>[.<word>]…, lower case, at most 128 bytes. */
int cr_valid_task_name(const char *s);
/* Redis queue name we consume or push to: "host.<hostname>" or "role.<role>". */
int cr_valid_queue_name(const char *s);
/* Bounded copy: 0 and an empty dst when src does not fit. */
/* [a-z0-9][a-z0-9._-]*, at most max characters: key ids, schedule names. */
int cr_valid_short_name(const char *s, size_t max);
/* write(2) until all of buf is written (EINTR retried); -1 on error (errno set). */
int cr_fd_write_all(int fd, const char *buf, size_t len);
int cr_copy_str(char *dst, size_t dstlen, const char *src);
/* Hostile text quoted in a log line, result or audit record: truncated to
 * fit, anything but printable ASCII replaced by '?' (no forged lines). */
void cr_copy_printable(char *dst, size_t dstlen, const char *src);
/* The same for quoting a bad value in a reason: at most max bytes of s, and
 * "..." when it was cut (q needs max + 4 bytes). */
void cr_quote_printable(char *q, size_t qlen, const char *s, size_t max);
/* Writes a one-line reason into err (when there is one) and returns -1. */
int cr_err_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
