/* celeryrootd starts net by fork and exec, so that net runs a small image
 * of its own (src/net/net_main.c) rather than a copy of priv's. */
#include "config.h"
#include "netexec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netboot.h"

#define NET_BASENAME "celeryroot-net"
/* Duplicates land above this while the fixed numbers are being set up. */
#define NETEXEC_FD_TMP 10

/* The owner of the running celeryrootd, and whether it is the installed one. */
static int self_info(char *dir, size_t len, uid_t *owner, int *installed)
{
	struct stat self, inst;
	char exe[PATH_MAX];
	ssize_t n;

	if (stat("/proc/self/exe", &self) != 0)
		return -1;
	*owner = self.st_uid;
	*installed = stat(SBINDIR "/celeryrootd", &inst) == 0 && inst.st_dev == self.st_dev &&
		     inst.st_ino == self.st_ino;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL || exe[0] != '/')
		return -1;
	*slash = '\0';
	return snprintf(dir, len, "%s", exe[0] ? exe : "/") < (int)len ? 0 : -1;
}

/* Owned by root or by celeryrootd's owner, and writable by no one else. */
static int trusted(const struct stat *sb, uid_t owner, mode_t others)
{
	return (sb->st_uid == 0 || sb->st_uid == owner) && (sb->st_mode & others) == 0;
}

static int check_path(const char *path, uid_t owner, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat sb;

	if (stat(path, &sb) != 0) {
		snprintf(err, errlen, "%s: %s (celeryroot-net is installed there by 'make install')", path,
			 strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || (sb.st_mode & S_IXUSR) == 0 || !trusted(&sb, owner, S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: not a regular executable owned by root (or celeryrootd's owner) "
			 "and writable only by its owner: refusing to run it as net", path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	if (stat(dir[0] ? dir : "/", &sb) != 0 || !trusted(&sb, owner, S_IWOTH)) {
		snprintf(err, errlen, "%s: its directory is writable by others or has another owner: "
			 "refusing to run it as net", path);
		return -1;
	}
	return 0;
}

int netexec_find(char *path, size_t len, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	uid_t owner;
	int installed;

	if (self_info(dir, sizeof(dir), &owner, &installed) < 0) {
		snprintf(err, errlen, "cannot find this program's own file in /proc/self/exe: %s",
			 strerror(errno ? errno : ENOENT));
		return -1;
	}
	if (installed) {
		if (snprintf(path, len, "%s", NET_PROGRAM) >= (int)len)
			return -1;
	} else if (snprintf(path, len, "%s/" NET_BASENAME, strcmp(dir, "/") ? dir : "") >= (int)len) {
		snprintf(err, errlen, "path of %s too long", NET_BASENAME);
		return -1;
	}
	return check_path(path, owner, err, errlen);
}

/* In the child: fd 3 and 4 as net expects them, nothing else above 2. */
static int child_fds(int privfd, int bootfd)
{
	int p = fcntl(privfd, F_DUPFD_CLOEXEC, NETEXEC_FD_TMP);
	int b = fcntl(bootfd, F_DUPFD_CLOEXEC, NETEXEC_FD_TMP);

	if (p < 0 || b < 0 || dup2(p, NETBOOT_PRIV_FD) < 0 || dup2(b, NETBOOT_FD) < 0)
		return -1;
	/* Whatever the parent holds (config files are closed, but a library
	 * could keep one) stays out of net. */
	if (close_range(NETBOOT_FD + 1, ~0U, 0) != 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long fd = NETBOOT_FD + 1; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			close((int)fd);
	}
	return 0;
}

pid_t netexec_start(const char *path, int privfd, int bootfd)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	if (child_fds(privfd, bootfd) == 0) {
		char *const argv[] = { (char *)NET_BASENAME, NULL };
		/* net gets its broker (and password) through netboot: the URL in
		 * our environment, password and all, stays out of its environ. */
		unsetenv("CELERYROOT_BROKER_URL");
		execv(path, argv);
	}
	/* celeryrootd is single-threaded, so stdio is safe in this child. */
	dprintf(STDERR_FILENO, "celeryrootd: cannot start net (%s): %s\n", path, strerror(errno));
	_exit(127);
}
