/* The audit log's files: appending one chained line, and rotation.
 *
 * priv and its change child both write here, so every append happens
 * under an exclusive flock of AUDIT.lock (a file that is never renamed:
 * locking the log itself would race with its rotation), from reading the
 * last line to writing the new one.
 *
 * Rotation (issue 12): once a line would take the file past max_bytes,
 * audit.log becomes audit.log.1 (audit.log.1 becomes .2, and so on; the
 * oldest of keep is dropped) and the line starts a new audit.log.  seq and
 * prev continue across the files: the first line of a file chains to the
 * last line of the file before it, so the files read oldest first verify
 * as one chain.  A crash between the rename and the first line leaves an
 * empty audit.log: its head is then read from audit.log.1. */
#include "config.h"
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auditchain.h"
#include "hostsig.h"
#include "log.h"

/* mkdir -p of the file's directory, 0750: the log names packages and jobs. */
static void make_parent(const char *file)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", file);
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0750);
		*s = '/';
	}
}

static void numbered(char *buf, size_t len, const char *path, int n)
{
	if (n == 0)
		snprintf(buf, len, "%s", path);
	else
		snprintf(buf, len, "%s.%d", path, n);
}

/* The head of the chain: the last line of path, or of path.1 when path is
 * empty or missing (rotated, and nothing written since). */
static int chain_head(int fd, const char *path, struct audit_head *h)
{
	char prev[PATH_MAX];
	struct stat sb;
	int rc, pfd;

	if (fstat(fd, &sb) == 0 && sb.st_size > 0)
		return cr_auditchain_head(fd, h);
	numbered(prev, sizeof(prev), path, 1);
	if ((pfd = open(prev, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		cr_auditchain_genesis(h);
		return 0;
	}
	rc = cr_auditchain_head(pfd, h);
	h->torn = 0;   /* that file is closed for good; the new one is whole */
	close(pfd);
	return rc;
}

/* audit.log.(keep-1) -> .keep, ..., audit.log -> .1, and the directory
 * synced so that the renames are on disk before the new file fills. */
static int rotate(const char *path, int keep)
{
	char from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];
	int dfd;

	for (int n = keep; n >= 1; n--) {
		numbered(from, sizeof(from), path, n - 1);
		numbered(to, sizeof(to), path, n);
		if (rename(from, to) < 0 && errno != ENOENT) {
			error_f("cannot rotate the audit log %s to %s: %s", from, to, strerror(errno));
			return -1;
		}
	}
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	if ((dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	info_f("the audit log %s reached its size cap; rotated (keeping %d older files)", path, keep);
	return 0;
}

static int open_log(const char *path)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);

	if (fd < 0)
		error_f("cannot open the audit log %s: %s", path, strerror(errno));
	return fd;
}

static int take_lock(const char *path)
{
	char lock[PATH_MAX];
	int fd;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600)) < 0) {
		error_f("cannot open the audit log's lock %s: %s", lock, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	return fd;
}

int priv_audit_file_append(const char *path, long max_bytes, int keep, json_t *rec, const struct host_key *k)
{
	struct audit_head head;
	struct stat sb;
	char *line;
	size_t len;
	int lock, fd, rc = -1;

	make_parent(path);
	if ((lock = take_lock(path)) < 0)
		return -1;
	if ((fd = open_log(path)) < 0) {
		close(lock);
		return -1;
	}
	if (chain_head(fd, path, &head) < 0) {
		error_f("the last line of %s is not a chained record; starting a new chain", path);
		cr_auditchain_genesis(&head);
	}
	/* A torn last line (a crash mid-write) is ended, so ours stays whole. */
	if (head.torn && write(fd, "\n", 1) != 1)
		error_f("cannot append to the audit log %s: %s", path, strerror(errno));
	json_object_set_new(rec, "seq", json_integer((json_int_t)head.seq + 1));
	json_object_set_new(rec, "prev", json_string(head.hash));
	/* Signed with seq and prev in it; the chain hashes the line as written. */
	if (cr_hostsig_sign_line(k, rec) < 0 || (line = cr_hostsig_dump(rec)) == NULL) {
		error_f("cannot write an audit line: it could not be signed or dumped");
		goto out;
	}
	len = strlen(line);
	if (fstat(fd, &sb) == 0 && sb.st_size > 0 && (long)sb.st_size + (long)len + 1 > max_bytes) {
		close(fd);
		rotate(path, keep);   /* failed: the line goes on the file as it is */
		fd = open_log(path);
	}
	line[len] = '\n';   /* one write: a line is never split */
	if (fd >= 0 && write(fd, line, len + 1) == (ssize_t)(len + 1)) {
		/* On disk before the change journal says it is written. */
		if (fdatasync(fd) < 0)
			error_f("cannot sync the audit log %s: %s", path, strerror(errno));
		rc = 0;
	} else {
		error_f("cannot append to the audit log %s: %s", path, strerror(errno));
	}
	free(line);
out:
	if (fd >= 0)
		close(fd);
	flock(lock, LOCK_UN);
	close(lock);
	return rc;
}
