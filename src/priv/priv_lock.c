/* Who holds the dpkg or apt locks of a host root, so that a change that gave
 * up waiting can say whom it waited for (DESIGN §7). */
#include "config.h"
#include "priv.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const lock_files[] = {
	"var/lib/dpkg/lock-frontend", "var/lib/dpkg/lock", "var/cache/apt/archives/lock", "var/lib/apt/lists/lock",
};

/* The holder of a POSIX (fcntl) write lock on path: its pid, or 0. */
static pid_t holder_of(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		fl.l_pid = 0;
	close(fd);
	return fl.l_pid > 0 ? fl.l_pid : 0;
}

static void comm_of(pid_t pid, char *out, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, out, len - 1);
		close(fd);
	}
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

int priv_lock_holder(const char *root, char *out, size_t len)
{
	char path[PATH_MAX], comm[32];

	for (size_t i = 0; i < sizeof(lock_files) / sizeof(lock_files[0]); i++) {
		pid_t pid;
		if (!priv_root_path(path, sizeof(path), root, lock_files[i]) || (pid = holder_of(path)) == 0)
			continue;
		comm_of(pid, comm, sizeof(comm));
		snprintf(out, len, "%s is held by process %ld (%s)", lock_files[i], (long)pid, comm[0] ? comm : "?");
		return 1;
	}
	return 0;
}
