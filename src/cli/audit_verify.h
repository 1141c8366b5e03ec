/* celeryroot audit --verify: a host's audit log (and the files rotation
 * left beside it) and the copies of its records in the Redis stream,
 * checked against the host's key.
 *
 * What each record proves: priv signs every line it writes with the host
 * key, over the line's object without "sig" (json_dumps COMPACT |
 * SORT_KEYS | ENSURE_ASCII), with "seq" and "prev" (the hash of the line
 * before) already in it.  So nobody without the host key can add a record,
 * alter one, or change its place in the chain; in the stream, where net
 * copies each record, a copied record shows as a duplicate seq and a
 * re-added one as a seq out of order.  What remains possible, and is said
 * plainly rather than hidden: deleting records (a gap in the stream's
 * seqs; the oldest files or lines of the log), and cutting the log's end,
 * which only the stream can show (its signed copies go on past the file's
 * last seq).
 *
 * Exit codes: 0 everything asked for was checked and is intact; 2 BROKEN
 * (tampering shown); 3 something asked for could not be checked (no key,
 * no broker, no signed record to compare); 1 usage. */
#ifndef CR_CLI_AUDIT_VERIFY_H
#define CR_CLI_AUDIT_VERIFY_H

#include <jansson.h>
#include <stdint.h>

#include "cli.h"
#include "known_hosts.h"

/* The verdict, as it is built. */
struct av {
	json_t *out;          /* the JSON report */
	json_t *problems;     /* tampering shown (exit 2) */
	json_t *unchecked;    /* what could not be checked (exit 3) */
	json_t *notes;        /* said plainly; not failures */
};

void av_problem(struct av *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void av_unchecked(struct av *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void av_note(struct av *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line of the summary people read first. */
void av_say(struct av *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One authenticated record: its seq and the hash of its canonical form. */
struct av_rec {
	uint64_t seq;
	unsigned char h[32];
};

/* What the file side found, for the stream side to compare with. */
struct av_file {
	char host[HOSTNAME_MAX + 1];   /* the host its lines name */
	int have_key;
	unsigned char pk[HOST_KEY_LEN];
	int checked;                   /* chain and signatures were checked */
	struct av_rec *recs;           /* every line, in order */
	size_t n;
};

/* audit_marks.c: marks each stream entry {"id","host","record"} with
 * "signature": "host", "forged", "unsigned" or "net" (and "forged": true). */
void audit_mark(redisContext *c, json_t *entries);

/* audit_file.c: FILE and its rotated predecessors FILE.1..N. */
void av_check_file(struct av *r, const char *file, const char *keyfile, const char *host, struct av_file *f);
/* audit_stream.c: host's records in the stream, and the overlap with f
 * (NULL: no file was asked for). */
void av_check_stream(struct av *r, struct cli_opts *o, const char *host, const char *keyfile,
		     const struct av_file *f);

#endif
