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

extern char **environ;

#define ENV_EXTRA_MAX 32

/* environ with env_extra applied: a "K=V" replaces any inherited K (so
 * CELERYROOT_BROKER_URL=… really points the child at our broker), others are
 * appended.  Built before fork so the child only assigns a pointer.  Returns
 * NULL (use environ as is) when there is nothing to add or on error. */
static char **env_merge(const char *const env_extra[])
{
	size_t n = 0, extra = 0, k = 0;
	char **out;

	if (env_extra == NULL || env_extra[0] == NULL)
		return NULL;
	while (environ && environ[n])
		n++;
	while (env_extra[extra] && extra < ENV_EXTRA_MAX)
		extra++;
	if ((out = calloc(n + extra + 1, sizeof(*out))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int replaced = 0;
		for (size_t j = 0; j < extra && !replaced; j++) {
			const char *eq = strchr(env_extra[j], '=');
			size_t klen = eq ? (size_t)(eq - env_extra[j]) : 0;
			replaced = klen > 0 && strncmp(environ[i], env_extra[j], klen + 1) == 0;
		}
		if (!replaced)
			out[k++] = environ[i];
	}
	for (size_t j = 0; j < extra; j++)
		if (strchr(env_extra[j], '=') != NULL && env_extra[j][0] != '=')
			out[k++] = (char *)env_extra[j];
	out[k] = NULL;
	return out;
}

/* Only async-signal-safe calls between fork and exec. */
static void child_exec(const char *cwd, const char *const argv[], char **envp, int out_fd,
		       int err_fd, int new_session)
{
	static const char msg[] = "celeryroot: cannot run ";

	if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0)
		_exit(127);
	if (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0)
		_exit(127);
	if (new_session)
		setsid();
	if (cwd && chdir(cwd) < 0)
		_exit(127);
	if (envp)
		environ = envp;
	execvp(argv[0], (char *const *)argv);
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) >= 0 &&
	    write(STDERR_FILENO, argv[0], strlen(argv[0])) >= 0)
		(void)!write(STDERR_FILENO, "\n", 1);
	_exit(127);
}

pid_t spawn_argv_in(const char *cwd, const char *const argv[], const char *const env_extra[],
		    int out_fd, int err_fd, int new_session)
{
	char **envp;
	pid_t pid;

	if (argv == NULL || argv[0] == NULL)
		return -1;
	envp = env_merge(env_extra);
	fflush(NULL);   /* or the child's exit path could repeat our buffered output */
	pid = fork();
	if (pid == 0)
		child_exec(cwd, argv, envp, out_fd, err_fd, new_session);
	free(envp);
	return pid;
}

pid_t spawn_argv(const char *const argv[], const char *const env_extra[], int out_fd, int err_fd,
		 int new_session)
{
	return spawn_argv_in(NULL, argv, env_extra, out_fd, err_fd, new_session);
}

int wait_exit(pid_t pid)
{
	int status;

	if (pid <= 0)
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
	ssize_t n;
	char *slash;

	if (len < 2)
		return -1;
	n = readlink("/proc/self/exe", buf, len - 1);
	if (n <= 0 || (size_t)n >= len - 1)
		return -1;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	return 0;
}

/* An executable regular file: a directory is "executable" to access() too. */
static int try_dir(const char *dir, const char *name, char *out, size_t len)
{
	struct stat sb;

	if (snprintf(out, len, "%.*s/%s", (int)strnlen(dir, PATH_MAX), dir, name) >= (int)len)
		return -1;
	return stat(out, &sb) == 0 && S_ISREG(sb.st_mode) && access(out, X_OK) == 0 ? 0 : -1;
}

int find_program(const char *name, char *out, size_t len)
{
	static const char *const fallback[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
	char dir[PATH_MAX], path[4096];
	const char *env = getenv("PATH");

	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL)
		return -1;
	if (self_exe_dir(dir, sizeof(dir)) == 0 && try_dir(dir, name, out, len) == 0)
		return 0;
	if (env && snprintf(path, sizeof(path), "%s", env) < (int)sizeof(path)) {
		char *save = NULL;
		/* Relative PATH entries would depend on our cwd: skipped. */
		for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save))
			if (d[0] == '/' && try_dir(d, name, out, len) == 0)
				return 0;
	}
	for (size_t i = 0; i < sizeof(fallback) / sizeof(fallback[0]); i++)
		if (try_dir(fallback[i], name, out, len) == 0)
			return 0;
	return -1;
}

static int rm_failed;

/* Keeps going after a failure, so as much as possible is removed. */
static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		rm_failed = 1;
	return 0;
}

/* FTW_PHYS: a symlink is removed, never followed.  FTW_MOUNT: nothing on
 * another file system (a bind mount into a sandbox) is ever entered; the
 * mount point then stays and rm_rf reports the failure. */
int rm_rf(const char *path)
{
	if (path == NULL || path[0] != '/' || strcmp(path, "/") == 0)
		return -1;
	rm_failed = 0;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return -1;
	return rm_failed ? -1 : 0;
}

int mkdir_p(const char *path, unsigned mode)
{
	char buf[PATH_MAX];

	if (path == NULL || path[0] == '\0' || snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
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
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}
