/* Writing and reading priv's small state files (priv_file.h).  One copy of
 * the tmp, fsync, rename, fsync-the-directory sequence, so that the change
 * journal, the nonce file and the host key are made durable alike. */
#include "config.h"
#include "priv_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* errno after a failed step, never 0: a short write need not set it. */
static int failed_errno(void)
{
	return errno != 0 ? errno : EIO;
}

int priv_file_replace(int dirfd, const char *name, mode_t mode, priv_fill_fn fill, const void *arg)
{
	char tmp[NAME_MAX + 1];
	int fd, e = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		return ENAMETOOLONG;
	/* O_EXCL after the unlink: the tmp file is ours and new, with mode
	 * (fchmod: the umask must not change it). */
	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return failed_errno();
	errno = 0;
	if (fchmod(fd, mode) < 0 || fill(fd, arg) < 0 || fsync(fd) < 0)
		e = failed_errno();
	if (close(fd) < 0 && e == 0)
		e = failed_errno();
	if (e == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		e = failed_errno();
	if (e != 0) {
		unlinkat(dirfd, tmp, 0);
		return e;
	}
	return fsync(dirfd) < 0 ? failed_errno() : 0;
}

char *priv_file_read(int fd, size_t max, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0 || (unsigned long long)st.st_size > max)
		return NULL;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return NULL;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}
