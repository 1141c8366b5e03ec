/* priv's nonce file and the table that answers from it (nonces.h).
 *
 * The table is open addressing on a hash of (key, nonce), growing by
 * doubling; each slot keeps a hash of the task id and the expiry.  An
 * expired slot is a tombstone: lookups walk past it, inserts reuse it.
 * When tombstones and live entries crowd the table it is rebuilt with the
 * live ones only (and the file written again without the rest). */
#include "config.h"
#include "crerr.h"
#include "nonces.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "names.h"
#include "priv_file.h"

#define TABLE_MIN 1024
/* 2^18 slots hold NONCES_MAX at a load under 0.4. */
#define TABLE_MAX (1u << 18)
#define NONCES_COMPACT_EVERY (NONCES_MAX / 4)

struct slot {
	unsigned char id[16];      /* hash of key and nonce */
	unsigned char task[16];    /* hash of the task id */
	long long expires;         /* 0: never used */
};

struct nonce_store {
	int statefd, fd;           /* the state directory; the file, for appends */
	char path[PATH_MAX];
	struct slot *t;
	size_t cap, used;          /* used: slots not empty (live or expired) */
	long appended;             /* lines in the file beyond the live ones at the last write */
};

static void hash_id(const struct nonce_rec *r, unsigned char out[16])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 16);
	crypto_generichash_update(&st, (const unsigned char *)r->key, strlen(r->key) + 1);
	crypto_generichash_update(&st, (const unsigned char *)r->nonce, strlen(r->nonce));
	crypto_generichash_final(&st, out, 16);
}

static void hash_task(const char *task, unsigned char out[16])
{
	crypto_generichash(out, 16, (const unsigned char *)task, strlen(task), NULL, 0);
}

static size_t home(const unsigned char id[16], size_t cap)
{
	size_t h;

	memcpy(&h, id, sizeof(h));
	return h & (cap - 1);
}

/* The slot holding id (live), or NULL; *free_at the first slot an insert
 * may take (empty or expired). */
static struct slot *find(struct nonce_store *s, const unsigned char id[16], double now, struct slot **free_at)
{
	*free_at = NULL;
	for (size_t i = home(id, s->cap), n = 0; n < s->cap; i = (i + 1) & (s->cap - 1), n++) {
		struct slot *e = &s->t[i];
		if (e->expires == 0) {
			if (*free_at == NULL)
				*free_at = e;
			return NULL;
		}
		if ((double)e->expires < now) {
			if (*free_at == NULL)
				*free_at = e;
			continue;
		}
		if (!memcmp(e->id, id, 16))
			return e;
	}
	return NULL;
}

long priv_nonces_live(const struct nonce_store *s, double now)
{
	long n = 0;

	for (size_t i = 0; i < s->cap; i++)
		n += s->t[i].expires != 0 && (double)s->t[i].expires >= now;
	return n;
}

/* A new table of cap slots holding the live entries of the old one. */
static int rebuild(struct nonce_store *s, size_t cap, double now)
{
	struct slot *old = s->t, *fr;
	size_t oldcap = s->cap;

	if ((s->t = calloc(cap, sizeof(*s->t))) == NULL) {
		s->t = old;
		return -1;
	}
	s->cap = cap;
	s->used = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].expires == 0 || (double)old[i].expires < now)
			continue;
		find(s, old[i].id, now, &fr);
		*fr = old[i];
		s->used++;
	}
	free(old);
	return 0;
}

/* Room for one more: rebuilt (larger when the live ones need it) once the
 * table is 3/4 full of live entries and tombstones. */
static int make_room(struct nonce_store *s, double now)
{
	long live;
	size_t cap = s->cap;

	if ((s->used + 1) * 4 < s->cap * 3)
		return 0;
	live = priv_nonces_live(s, now);
	while ((size_t)(live + 1) * 2 > cap && cap < TABLE_MAX)
		cap *= 2;
	return rebuild(s, cap, now);
}

static void insert(struct nonce_store *s, const struct nonce_rec *r, double now)
{
	unsigned char id[16];
	struct slot *e, *fr;

	hash_id(r, id);
	if ((e = find(s, id, now, &fr)) == NULL) {
		e = fr;
		if (e->expires == 0)
			s->used++;
	}
	memcpy(e->id, id, 16);
	hash_task(r->task, e->task);
	e->expires = r->expires;
}

/* ---- the file ------------------------------------------------------------------ */

struct kept {
	const struct nonce_rec *r;
	size_t n;
};

/* The header, then one line per kept entry. */
static int fill_kept(int fd, const void *arg)
{
	const struct kept *k = arg;
	char line[NONCE_LINE_MAX + 2];

	if (cr_fd_write_all(fd, NONCES_HEADER "\n", strlen(NONCES_HEADER) + 1) < 0)
		return -1;
	for (size_t i = 0; i < k->n; i++) {
		int len = priv_nonce_format_line(&k->r[i], line, sizeof(line));
		if (len <= 0 || cr_fd_write_all(fd, line, (size_t)len) < 0)
			return -1;
	}
	return 0;
}

/* Writes the live entries whole (priv_file.c) and reopens the file for
 * appends.  The table holds hashes only, so the lines come from keep[]
 * (what the file's reading kept). */
static int rewrite(struct nonce_store *s, const struct nonce_rec *keep, size_t n, char *err, size_t errlen)
{
	struct kept k = { keep, n };
	int e = priv_file_replace(s->statefd, NONCES_FILE, 0600, fill_kept, &k);

	if (e != 0)
		return cr_err_fail(err, errlen, "cannot write %s: %s", s->path, strerror(e));
	if (s->fd >= 0)
		close(s->fd);
	s->fd = openat(s->statefd, NONCES_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (s->fd < 0)
		return cr_err_fail(err, errlen, "cannot open %s: %s", s->path, strerror(errno));
	s->appended = 0;
	return 0;
}

/* The file must be priv's alone: anyone else who could write it could
 * erase a nonce and reopen its replay. */
static int check_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return cr_err_fail(err, errlen, "%s is not a regular file", path);
	if (sb.st_uid != geteuid())
		return cr_err_fail(err, errlen, "%s belongs to uid %ld: run 'chown root %s'", path, (long)sb.st_uid, path);
	if (sb.st_mode & 077)
		return cr_err_fail(err, errlen, "%s is open to others (mode %04o): run 'chmod 600 %s'", path,
				(unsigned)(sb.st_mode & 07777), path);
	if ((size_t)sb.st_size > NONCES_FILE_MAX)
		return cr_err_fail(err, errlen, "%s is larger than a nonce file can be (%zu bytes)", path, NONCES_FILE_MAX);
	return 0;
}

/* Every line of text that parses and has not expired, into keep[]
 * (NONCES_MAX at most) and, with fill, into the table. */
static size_t load_lines(struct nonce_store *s, char *text, size_t len, double now, struct nonce_rec *keep, int fill,
			 long *dropped)
{
	size_t n = 0, pos = 0;
	int first = 1;

	while (pos < len) {
		char *nl = memchr(text + pos, '\n', len - pos), why[64];
		size_t end = nl ? (size_t)(nl - text) : len;
		struct nonce_rec r;
		if (first) {
			first = 0;
			if (end - pos == strlen(NONCES_HEADER) && memcmp(text + pos, NONCES_HEADER, end - pos) == 0) {
				pos = end + 1;
				continue;
			}
			error_f("%s does not start with '%s'; reading its lines anyway", s->path, NONCES_HEADER);
		}
		/* A line without its newline was cut by a crash mid-append. */
		if (nl == NULL || priv_nonce_parse_line(text + pos, end - pos, &r, why, sizeof(why)) < 0 || (double)r.expires < now ||
		    n >= NONCES_MAX) {
			(*dropped)++;
		} else {
			keep[n++] = r;
			if (fill && make_room(s, now) == 0)
				insert(s, &r, now);
		}
		pos = end + 1;
	}
	return n;
}

/* Reads the file again and writes back its live lines: at start (filling
 * the table), and while priv runs once enough lines were appended. */
static int compact(struct nonce_store *s, double now, int fill, long *loaded, long *dropped, char *err, size_t errlen)
{
	struct nonce_rec *keep = NULL;
	char *text = NULL;
	size_t len = 0, n;
	int fd = openat(s->statefd, NONCES_FILE, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600), rc = -1;

	if (fd < 0)
		return cr_err_fail(err, errlen, "cannot open %s: %s", s->path, strerror(errno));
	if (check_file(fd, s->path, err, errlen) == 0) {
		text = priv_file_read(fd, NONCES_FILE_MAX, &len);
		if (text == NULL || (keep = calloc(NONCES_MAX, sizeof(*keep))) == NULL)
			cr_err_fail(err, errlen, "cannot read %s: %s", s->path, text ? "out of memory" : strerror(errno));
		else
			rc = 0;
	}
	close(fd);
	if (rc == 0) {
		n = load_lines(s, text, len, now, keep, fill, dropped);
		*loaded = (long)n;
		rc = rewrite(s, keep, n, err, errlen);
	}
	free(text);
	free(keep);
	return rc;
}

int priv_nonces_open(struct nonce_store **out, const char *root, double now, long *loaded, long *dropped, char *err,
		size_t errlen)
{
	struct nonce_store *s = calloc(1, sizeof(*s));
	struct journal j;

	*loaded = *dropped = 0;
	if (s == NULL || (s->t = calloc(TABLE_MIN, sizeof(*s->t))) == NULL) {
		free(s);
		return cr_err_fail(err, errlen, "out of memory");
	}
	s->cap = TABLE_MIN;
	s->fd = s->statefd = -1;
	if (priv_journal_open(&j, root, err, errlen) < 0) {
		priv_nonces_close(s);
		return -1;
	}
	s->statefd = dup(j.statefd);
	snprintf(s->path, sizeof(s->path), "%.*s/" NONCES_FILE, (int)(strlen(j.dir) - strlen("/changes")), j.dir);
	priv_journal_close(&j);
	/* Written again at every start: expired and torn lines go. */
	if (s->statefd < 0 || compact(s, now, 1, loaded, dropped, err, errlen) < 0) {
		if (err[0] == '\0')
			cr_err_fail(err, errlen, "cannot open the state directory: %s", strerror(errno));
		priv_nonces_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

enum nonce_verdict priv_nonces_use(struct nonce_store *s, const struct nonce_rec *r, double now, char *err, size_t errlen)
{
	unsigned char id[16], task[16];
	char line[NONCE_LINE_MAX + 2];
	struct slot *e, *fr;
	int len;

	hash_id(r, id);
	if ((e = find(s, id, now, &fr)) != NULL) {
		hash_task(r->task, task);
		if (!memcmp(e->task, task, 16))
			return NONCE_AGAIN;
		cr_err_fail(err, errlen, "replayed request refused: nonce %s of key '%s' was already used by another task",
			 r->nonce, r->key);
		return NONCE_REPLAY;
	}
	if (make_room(s, now) < 0 || (s->used >= NONCES_MAX && priv_nonces_live(s, now) >= NONCES_MAX)) {
		cr_err_fail(err, errlen, "refused: %d signed requests are still within their signatures' lifetimes on this host "
			 "(priv keeps every nonce until it expires)", NONCES_MAX);
		return NONCE_FULL;
	}
	/* On disk before priv acts on it.  A write that failed halfway (a full
	 * disk) is cut off again, so that the next line starts a line. */
	off_t end = s->fd >= 0 ? lseek(s->fd, 0, SEEK_END) : -1;
	if ((len = priv_nonce_format_line(r, line, sizeof(line))) < 0 || end < 0 || cr_fd_write_all(s->fd, line, (size_t)len) < 0 ||
	    fdatasync(s->fd) < 0) {
		cr_err_fail(err, errlen, "refused: the nonce could not be recorded in %s (%s)", s->path,
			 len < 0 ? "invalid" : strerror(errno));
		if (end >= 0 && ftruncate(s->fd, end) < 0)
			error_f("cannot cut a torn line off %s: %s", s->path, strerror(errno));
		return NONCE_IO;
	}
	insert(s, r, now);
	/* The file keeps at most NONCES_COMPACT_EVERY lines beyond the live ones. */
	if (++s->appended >= NONCES_COMPACT_EVERY) {
		long kept, dropped = 0;
		char why[CR_ERR_MAX] = "";
		if (compact(s, now, 0, &kept, &dropped, why, sizeof(why)) < 0)
			error_f("cannot compact the nonce file: %s", why);
	}
	return NONCE_NEW;
}

void priv_nonces_close(struct nonce_store *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->statefd >= 0)
		close(s->statefd);
	free(s->t);
	free(s);
}
