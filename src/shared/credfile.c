/* Where the broker credentials come from: [broker] password_file, and which
 * configuration file the CLI reads (never the daemon's, README
 * "Configuration"). */
#include "config.h"
#include "crconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One more than a password may hold, so that a longer file is noticed. */
#define PASSWORD_FILE_MAX 512

/* The owner and mode rules: a file someone else can change decides whom
 * we log in as; a file someone else can read gives the password away. */
static int password_file_safe(const char *path, const struct stat *sb, int strict, char *err, size_t errlen)
{
	unsigned mode = (unsigned)(sb->st_mode & 07777);

	if (!S_ISREG(sb->st_mode))
		return snprintf(err, errlen, "password_file %s is not a regular file: name a file holding the password",
				path), -1;
	if (sb->st_uid != 0 && sb->st_uid != geteuid())
		return snprintf(err, errlen, "password_file %s belongs to uid %ld, not to root or uid %ld: run 'chown %s %s'",
				path, (long)sb->st_uid, (long)geteuid(), geteuid() == 0 ? "root" : "$USER", path), -1;
	if (strict && (mode & 077))
		return snprintf(err, errlen, "password_file %s can be read or written by group or others (mode %04o): "
				"run 'chmod 600 %s'", path, mode, path), -1;
	if (!strict && (mode & 026))
		return snprintf(err, errlen, "password_file %s is readable by everyone or writable by others (mode %04o): "
				"run 'chmod 600 %s'", path, mode, path), -1;
	return 0;
}

/* One line: a trailing "\n" (or "\r\n") is dropped; anything else that is
 * not printable, an empty password or one too long is refused. */
static int password_take(const char *path, char *buf, size_t n, char *out, size_t outlen, char *err, size_t errlen)
{
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (n == 0)
		return snprintf(err, errlen, "password_file %s is empty: put the broker password in it, on one line", path), -1;
	if (n >= outlen)
		return snprintf(err, errlen, "password_file %s: the password is longer than %zu bytes", path, outlen - 1), -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] == 0x7f)
			return snprintf(err, errlen, "password_file %s holds more than one line or a control character: "
					"put only the password in it", path), -1;
	memcpy(out, buf, n + 1);
	return 0;
}

int cr_password_file_read(const char *path, int strict, char *out, size_t outlen, char *err, size_t errlen)
{
	char buf[PASSWORD_FILE_MAX + 1];
	struct stat sb;
	ssize_t got;
	size_t n = 0;
	int fd, rc;

	/* O_NONBLOCK: a FIFO put there would otherwise hang the start. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return snprintf(err, errlen, "cannot read password_file %s: %s", path, strerror(errno)), -1;
	if (fstat(fd, &sb) < 0) {
		snprintf(err, errlen, "cannot read password_file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (password_file_safe(path, &sb, strict, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	while (n < PASSWORD_FILE_MAX && (got = read(fd, buf + n, PASSWORD_FILE_MAX - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "cannot read password_file %s: %s", path, strerror(errno));
			close(fd);
			explicit_bzero(buf, n);   /* what was read is part of the password */
			return -1;
		}
		n += (size_t)got;
	}
	close(fd);
	rc = password_take(path, buf, n, out, outlen, err, errlen);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int is_file(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

const char *cr_config_daemon_path(int *legacy)
{
	struct stat sb;

	*legacy = 0;
	if (stat(CONFIG_DAEMON_PATH, &sb) != 0 && errno == ENOENT && is_file(CONFIG_CLI_SYSTEM_PATH)) {
		*legacy = 1;
		return CONFIG_CLI_SYSTEM_PATH;
	}
	return CONFIG_DAEMON_PATH;
}

const char *cr_config_cli_path(char *buf, size_t len, int *explicit_)
{
	const char *env = getenv("CELERYROOT_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n = -1;

	*explicit_ = 0;
	if (env && env[0]) {
		*explicit_ = 1;
		return env;
	}
	/* The XDG rule: a relative $XDG_CONFIG_HOME is to be ignored. */
	if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/celeryroot/celeryroot.conf", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.config/celeryroot/celeryroot.conf", home);
	if (n > 0 && (size_t)n < len && is_file(buf))
		return buf;
	return CONFIG_CLI_SYSTEM_PATH;
}
