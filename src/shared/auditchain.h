/* The audit log's hash chain.  Every line priv appends carries "seq" (1, 2,
 * …) and "prev", the SHA-256 (hex) of the previous line's exact bytes
 * without its newline (64 zeros before the first line).  Removing, editing,
 * inserting or reordering a line breaks the chain at the next line; the last
 * line is covered by its copy in the Redis stream, which carries the same
 * bytes (see 'celeryroot audit --verify').  Each line also carries "sig", the
 * host key's signature (hostsig.h); the hash covers the line with it.
 *
 * Rotation keeps the chain: audit.log is the newest file, audit.log.1 the
 * one before, up to audit.log.N, and the first line of a file has as prev
 * the hash of the last line of the file before it (seq goes on too).  Read
 * oldest first, the files verify as one chain; the oldest one kept starts
 * where a file that was rotated away ended, which nothing left can check
 * (cr_auditchain_verify_init_continued). */
#ifndef CR_AUDITCHAIN_H
#define CR_AUDITCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "crerr.h"

#define AUDIT_HASH_HEX 64
/* Lines longer than this are not ours (priv's frames are at most 64 KiB). */
#define AUDIT_LINE_MAX (256 * 1024)

struct audit_head {
	uint64_t seq;                       /* of the last complete line; 0 when none */
	char hash[AUDIT_HASH_HEX + 1];      /* of the last complete line; the genesis value when none */
	int torn;                           /* the file ends in an incomplete line */
};

void cr_auditchain_hash(const char *line, size_t len, char out[AUDIT_HASH_HEX + 1]);
void cr_auditchain_genesis(struct audit_head *h);
/* Reads the last complete line of the open file (bounded read from the end).
 * -1 if it cannot be read or is not a chained record. */
int cr_auditchain_head(int fd, struct audit_head *h);

/* Verification, line by line: feed each line (without its newline). */
struct audit_verify {
	struct audit_head head;
	uint64_t line;                      /* lines seen */
	uint64_t first_bad;                 /* 0: intact so far */
	int continued;                      /* the first line starts the chain as it says */
	char why[CR_ERR_MAX];
};
void cr_auditchain_verify_init(struct audit_verify *v);
/* For a file whose predecessors were rotated away: its first line's seq
 * and prev are taken as they are; every later line is checked. */
void cr_auditchain_verify_init_continued(struct audit_verify *v);
/* 0 while intact; -1 at the first break (first_bad and why set). */
int cr_auditchain_verify_line(struct audit_verify *v, const char *line, size_t len);

#endif
