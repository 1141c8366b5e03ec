/* priv's nonce file (issue 12): every signed request priv accepted, by
 * (key, nonce), with the task id it came as and the signature's expiry,
 * kept until that expiry in the host root's state directory:
 *
 *   var/lib/celeryroot/nonces     0600, root's
 *     celeryroot-nonces 1
 *     <expires> <key> <nonce> <task id>      one line per accepted request
 *
 * It is read at start (expired lines dropped, the file written again
 * without them) and appended to, with fdatasync, before priv acts on the
 * request, so that neither a restart of the pair (which a compromised net
 * can force: priv stops when net dies) nor a nonce key reset in Redis
 * reopens a replay.  The same nonce under the same task id is that task
 * delivered again (net died before its result was written; a deferral
 * coming back): allowed, and the change journal answers or resumes it.
 * Under another task id it is a replay: refused.
 *
 * Bounded: at most NONCES_MAX live entries.  When that many signed
 * requests are still within their signatures' lifetimes, new signed
 * requests are refused (and audited) until some expire: forgetting one
 * instead would reopen its replay. */
#ifndef CR_NONCES_H
#define CR_NONCES_H

#include <stddef.h>

#include "names.h"
#include "sign.h"

#define NONCES_MAX 100000
#define NONCES_FILE "nonces"
#define NONCES_HEADER "celeryroot-nonces 1"
/* The longest line the codec writes (and the longest it reads). */
#define NONCE_LINE_MAX (12 + 1 + KEY_ID_MAX + 1 + SIG_NONCE_HEX + 1 + TASK_ID_MAX)
/* A file longer than this is not ours (NONCES_MAX lines and slack). */
#define NONCES_FILE_MAX ((size_t)(NONCES_MAX * 2) * (NONCE_LINE_MAX + 1))

struct nonce_rec {
	long long expires;                 /* epoch seconds */
	char key[KEY_ID_MAX + 1];
	char nonce[SIG_NONCE_HEX + 1];
	char task[TASK_ID_MAX + 1];
};

/* ---- nonce_codec.c: pure, no I/O ---- */

/* One line (without its newline): "<expires> <key> <nonce> <task>", each
 * field valid and bounded.  0, or -1 with a printable reason. */
int priv_nonce_parse_line(const char *line, size_t len, struct nonce_rec *r, char *err, size_t errlen);
/* The line for r, with its newline; its length, or -1 when r is not valid. */
int priv_nonce_format_line(const struct nonce_rec *r, char *buf, size_t len);

/* ---- nonces.c: the file and the table ---- */

enum nonce_verdict {
	NONCE_NEW = 0,      /* first use: recorded on disk */
	NONCE_AGAIN,        /* the same task delivered again */
	NONCE_REPLAY,       /* used before by another task id: refuse */
	NONCE_FULL,         /* NONCES_MAX live entries: refuse */
	NONCE_IO,           /* could not be recorded on disk: refuse */
};

struct nonce_store;

/* Opens (creating) the file under root's state directory and loads it.
 * Refuses a file that is a symlink, not root's or open to others.
 * Reports lines dropped as expired or unreadable in *dropped. */
int priv_nonces_open(struct nonce_store **out, const char *root, double now, long *loaded, long *dropped, char *err,
		size_t errlen);
/* Checks (and records, when new) one signed request's nonce. */
enum nonce_verdict priv_nonces_use(struct nonce_store *s, const struct nonce_rec *r, double now, char *err,
			      size_t errlen);
long priv_nonces_live(const struct nonce_store *s, double now);
void priv_nonces_close(struct nonce_store *s);

#endif
