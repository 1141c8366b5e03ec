#include "config.h"
#include "names.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int valid_label(const char *s, size_t len)
{
	if (len < 1 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int cr_valid_hostname(const char *s)
{
	size_t len, start = 0;

	if (s == NULL || (len = strnlen(s, HOSTNAME_MAX + 1)) == 0 || len > HOSTNAME_MAX)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (!valid_label(s + start, i - start))
			return 0;
		start = i + 1;
	}
	return 1;
}

int cr_valid_role(const char *s)
{
	size_t len;

	if (s == NULL || (len = strnlen(s, ROLE_MAX + 1)) == 0 || len > ROLE_MAX || !is_lower_alnum(s[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

int cr_valid_task_id(const char *s)
{
	size_t len;

	if (s == NULL || (len = strnlen(s, TASK_ID_MAX + 1)) == 0 || len > TASK_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') && c != '.' && c != '_' && c != ':' && c != '-')
			return 0;
	}
	return 1;
}

int cr_valid_task_name(const char *s)
{
	static const char prefix[] = "celeryroot.";
	size_t len, seg = 0;

	if (s == NULL || (len = strnlen(s, TASK_NAME_MAX + 1)) > TASK_NAME_MAX ||
	    strncmp(s, prefix, sizeof(prefix) - 1) != 0 || len == sizeof(prefix) - 1)
		return 0;
	for (size_t i = sizeof(prefix) - 1; i <= len; i++, seg++) {
		char c = s[i];
		if (i == len || c == '.') {
			if (seg == 0)
				return 0;
			seg = (size_t)-1;
		} else if (seg == 0 ? !(c >= 'a' && c <= 'z') : !(is_lower_alnum(c) || c == '_')) {
			return 0;
		}
	}
	return 1;
}

int cr_valid_queue_name(const char *s)
{
	if (s == NULL || strnlen(s, (5 + HOSTNAME_MAX) + 1) > (5 + HOSTNAME_MAX))
		return 0;
	if (strncmp(s, "host.", 5) == 0)
		return cr_valid_hostname(s + 5);
	if (strncmp(s, "role.", 5) == 0)
		return cr_valid_role(s + 5);
	return 0;
}

int cr_valid_short_name(const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;

	if (n == 0 || n > max || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
		      s[i] == '-'))
			return 0;
	return 1;
}

int cr_fd_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int cr_copy_str(char *dst, size_t dstlen, const char *src)
{
	size_t len;

	if (dstlen == 0)
		return 0;
	dst[0] = '\0';
	if (src == NULL || (len = strnlen(src, dstlen)) >= dstlen)
		return 0;
	memcpy(dst, src, len + 1);
	return 1;
}

void cr_copy_printable(char *dst, size_t len, const char *src)
{
	size_t i;

	if (len == 0)
		return;
	for (i = 0; i + 1 < len && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

void cr_quote_printable(char *q, size_t qlen, const char *s, size_t max)
{
	size_t i = 0, o = 0;

	if (qlen == 0)
		return;
	for (; s[i] != '\0' && i < max && o + 1 < qlen; i++) {
		unsigned char c = (unsigned char)s[i];
		q[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (s[i] != '\0' && o + 3 < qlen) {
		memcpy(q + o, "...", 3);
		o += 3;
	}
	q[o] = '\0';
}

int cr_err_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
