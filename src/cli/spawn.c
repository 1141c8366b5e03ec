/* Starting programs with argv arrays; no shell is ever involved. */
#include "config.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void child_setup(const char *const env_extra[], int out_fd, int err_fd, int new_session,
			const char *cwd)
{
	for (size_t i = 0; env_extra && env_extra[i]; i++) {
		char kv[4096];
		char *eq;
		if (snprintf(kv, sizeof(kv), "%s", env_extra[i]) >= (int)sizeof(kv) ||
		    (eq = strchr(kv, '=')) == NULL)
			continue;
		*eq = '\0';
		setenv(kv, eq + 1, 1);
	}
	if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
		_exit(127);
	if (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0)
		_exit(127);
	if (new_session)
		setsid();
	if (cwd && chdir(cwd) < 0)
		_exit(127);
}

pid_t spawn_argv_in(const char *cwd, const char *const argv[], const char *const env_extra[],
		    int out_fd, int err_fd, int new_session)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	child_setup(env_extra, out_fd, err_fd, new_session, cwd);
	execvp(argv[0], (char *const *)argv);
	fprintf(stderr, "celeryroot: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

pid_t spawn_argv(const char *const argv[], const char *const env_extra[], int out_fd, int err_fd,
		 int new_session)
{
	return spawn_argv_in(NULL, argv, env_extra, out_fd, err_fd, new_session);
}

int wait_exit(pid_t pid)
{
	int status;

	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_argv_in(const char *cwd, const char *const argv[], const char *const env_extra[], int out_fd,
		int err_fd)
{
	return wait_exit(spawn_argv_in(cwd, argv, env_extra, out_fd, err_fd, 0));
}

int run_argv(const char *const argv[], const char *const env_extra[], int out_fd, int err_fd)
{
	return run_argv_in(NULL, argv, env_extra, out_fd, err_fd);
}

int self_exe_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n <= 0 || (size_t)n >= len - 1)
		return -1;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	return 0;
}

static int try_dir(const char *dir, const char *name, char *out, size_t len)
{
	if (snprintf(out, len, "%.*s/%s", (int)strnlen(dir, PATH_MAX), dir, name) >= (int)len)
		return -1;
	return access(out, X_OK) == 0 ? 0 : -1;
}

int find_program(const char *name, char *out, size_t len)
{
	static const char *const fallback[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
	char dir[PATH_MAX], path[4096];
	const char *env = getenv("PATH");

	if (self_exe_dir(dir, sizeof(dir)) == 0 && try_dir(dir, name, out, len) == 0)
		return 0;
	if (env && snprintf(path, sizeof(path), "%s", env) < (int)sizeof(path)) {
		char *save = NULL;
		for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save))
			if (d[0] == '/' && try_dir(d, name, out, len) == 0)
				return 0;
	}
	for (size_t i = 0; i < sizeof(fallback) / sizeof(fallback[0]); i++)
		if (try_dir(fallback[i], name, out, len) == 0)
			return 0;
	return -1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path)
{
	if (path == NULL || path[0] != '/' || strcmp(path, "/") == 0)
		return -1;
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int mkdir_p(const char *path, unsigned mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

int write_file(const char *path, const char *content, unsigned mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	size_t len = strlen(content), off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, content + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}
