/* The audit log's hash chain (see auditchain.h). */
#include "config.h"
#include "crerr.h"
#include "auditchain.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cr_auditchain_hash(const char *line, size_t len, char out[AUDIT_HASH_HEX + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)line, len);
	sodium_bin2hex(out, AUDIT_HASH_HEX + 1, h, sizeof(h));
}

void cr_auditchain_genesis(struct audit_head *h)
{
	memset(h, 0, sizeof(*h));
	memset(h->hash, '0', AUDIT_HASH_HEX);
}

/* seq of a chained record line, or 0. */
static uint64_t line_seq(const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, 0, NULL);
	json_int_t seq = json_integer_value(json_object_get(o, "seq"));

	json_decref(o);
	return seq > 0 ? (uint64_t)seq : 0;
}

int cr_auditchain_head(int fd, struct audit_head *h)
{
	struct stat sb;
	size_t want, end, start;
	char *buf;
	ssize_t n;

	cr_auditchain_genesis(h);
	if (fstat(fd, &sb) < 0)
		return -1;
	if (sb.st_size == 0)
		return 0;
	want = (size_t)sb.st_size < AUDIT_LINE_MAX ? (size_t)sb.st_size : AUDIT_LINE_MAX;
	if ((buf = malloc(want)) == NULL)
		return -1;
	n = pread(fd, buf, want, sb.st_size - (off_t)want);
	if (n != (ssize_t)want) {
		free(buf);
		return -1;
	}
	/* The last newline ends the last complete line; anything after it is torn. */
	for (end = want; end > 0 && buf[end - 1] != '\n'; end--)
		;
	h->torn = end != want;
	if (end == 0) {
		free(buf);
		return want == (size_t)sb.st_size ? 0 : -1;
	}
	for (start = end - 1; start > 0 && buf[start - 1] != '\n'; start--)
		;
	if (start == 0 && want != (size_t)sb.st_size) {
		free(buf);
		return -1;   /* a line longer than we read: not one of ours */
	}
	h->seq = line_seq(buf + start, end - 1 - start);
	cr_auditchain_hash(buf + start, end - 1 - start, h->hash);
	free(buf);
	return h->seq > 0 ? 0 : -1;
}

void cr_auditchain_verify_init(struct audit_verify *v)
{
	memset(v, 0, sizeof(*v));
	cr_auditchain_genesis(&v->head);
}

void cr_auditchain_verify_init_continued(struct audit_verify *v)
{
	cr_auditchain_verify_init(v);
	v->continued = 1;
}

static int broken(struct audit_verify *v, const char *why)
{
	v->first_bad = v->line;
	snprintf(v->why, sizeof(v->why), "%s", why);
	return -1;
}

int cr_auditchain_verify_line(struct audit_verify *v, const char *line, size_t len)
{
	json_t *o;
	const char *prev;
	json_int_t seq;
	char why[CR_ERR_MAX];

	if (v->first_bad)
		return -1;
	v->line++;
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	prev = json_string_value(json_object_get(o, "prev"));
	seq = json_integer_value(json_object_get(o, "seq"));
	int rc = 0;
	if (!json_is_object(o) || prev == NULL || !json_is_integer(json_object_get(o, "seq")) || seq < 1) {
		rc = broken(v, "not a chained audit record");
	} else if (v->continued && v->line == 1) {
		/* Where a rotated-away file ended: nothing left to check it against. */
	} else if (strcmp(prev, v->head.hash) != 0) {
		rc = broken(v, "its prev hash does not match the line before it: that line was edited, or lines "
			       "were removed, inserted or reordered here");
	} else if ((uint64_t)seq != v->head.seq + 1) {
		snprintf(why, sizeof(why), "seq %lld where %" PRIu64 " was due", (long long)seq, v->head.seq + 1);
		rc = broken(v, why);
	}
	json_decref(o);
	if (rc == 0) {
		v->head.seq = (uint64_t)seq;
		cr_auditchain_hash(line, len, v->head.hash);
	}
	return rc;
}
