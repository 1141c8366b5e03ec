/* The nonce file's lines (nonces.h).  The file is priv's own, but a disk
 * can hand back anything: every field is checked for its kind and bound,
 * and a line is accepted only in the exact form the formatter writes. */
#include "config.h"
#include "nonces.h"

#include <stdio.h>
#include <string.h>

/* 1..12 decimal digits, no leading zero: the one spelling of the number. */
static int parse_expires(const char *s, size_t len, long long *out)
{
	long long v = 0;

	if (len == 0 || len > 12 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int valid_nonce_hex(const char *s)
{
	if (strlen(s) != SIG_NONCE_HEX)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* The next field up to a space (or the end for the last): copied into
 * out (capacity cap), *pos moved past it and its space. */
static int next_field(const char *line, size_t len, size_t *pos, int last, char *out, size_t cap)
{
	size_t start = *pos, end = start;

	while (end < len && line[end] != ' ')
		end++;
	if (end == start || end - start >= cap || (last ? end != len : end == len))
		return -1;
	memcpy(out, line + start, end - start);
	out[end - start] = '\0';
	*pos = end + 1;
	return 0;
}

int priv_nonce_parse_line(const char *line, size_t len, struct nonce_rec *r, char *err, size_t errlen)
{
	char num[16];
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	if (len > NONCE_LINE_MAX || memchr(line, '\0', len) != NULL)
		return cr_err_fail(err, errlen, "line too long or binary");
	if (next_field(line, len, &pos, 0, num, sizeof(num)) < 0 || parse_expires(num, strlen(num), &r->expires) < 0)
		return cr_err_fail(err, errlen, "bad expiry");
	if (next_field(line, len, &pos, 0, r->key, sizeof(r->key)) < 0 || !cr_valid_key_id(r->key))
		return cr_err_fail(err, errlen, "bad key id");
	if (next_field(line, len, &pos, 0, r->nonce, sizeof(r->nonce)) < 0 || !valid_nonce_hex(r->nonce))
		return cr_err_fail(err, errlen, "bad nonce");
	if (next_field(line, len, &pos, 1, r->task, sizeof(r->task)) < 0 || !cr_valid_task_id(r->task))
		return cr_err_fail(err, errlen, "bad task id");
	return 0;
}

int priv_nonce_format_line(const struct nonce_rec *r, char *buf, size_t len)
{
	int n;

	if (r->expires <= 0 || r->expires > 999999999999LL || !cr_valid_key_id(r->key) || !valid_nonce_hex(r->nonce) ||
	    !cr_valid_task_id(r->task))
		return -1;
	n = snprintf(buf, len, "%lld %s %s %s\n", r->expires, r->key, r->nonce, r->task);
	return n > 0 && (size_t)n < len ? n : -1;
}
