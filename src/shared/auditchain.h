/* The audit log's hash chain.  Every line priv appends carries "seq" (1, 2,
 * …) and "prev", the SHA-256 (hex) of the previous line's exact bytes
 * without its newline (64 zeros before the first line).  Removing, editing,
 * inserting or reordering a line breaks the chain at the next line; the last
 * line is covered by its copy in the Redis stream, which carries the same
 * bytes (see 'celeryroot audit --verify'). */
#ifndef CR_AUDITCHAIN_H
#define CR_AUDITCHAIN_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_HASH_HEX 64
/* Lines longer than this are not ours (priv's frames are at most 64 KiB). */
#define AUDIT_LINE_MAX (256 * 1024)

struct audit_head {
	uint64_t seq;                       /* of the last complete line; 0 when none */
	char hash[AUDIT_HASH_HEX + 1];      /* of the last complete line; the genesis value when none */
	int torn;                           /* the file ends in an incomplete line */
};

void auditchain_hash(const char *line, size_t len, char out[AUDIT_HASH_HEX + 1]);
void auditchain_genesis(struct audit_head *h);
/* Reads the last complete line of the open file (bounded read from the end).
 * -1 if it cannot be read or is not a chained record. */
int auditchain_head(int fd, struct audit_head *h);

/* Verification, line by line: feed each line (without its newline). */
struct audit_verify {
	struct audit_head head;
	uint64_t line;                      /* lines seen */
	uint64_t first_bad;                 /* 0: intact so far */
	char why[256];
};
void auditchain_verify_init(struct audit_verify *v);
/* 0 while intact; -1 at the first break (first_bad and why set). */
int auditchain_verify_line(struct audit_verify *v, const char *line, size_t len);

#endif
