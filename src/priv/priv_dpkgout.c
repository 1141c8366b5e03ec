/* What dpkg leaves behind besides dpkg's status: the output of its run
 * (maintainer scripts included), whose end goes into a failed change's
 * error, and the .dpkg-dist/.dpkg-new/.dpkg-old files beside the conffiles
 * of the packages it changed (issue 15).
 *
 * The output goes to a file under priv's state directory (var/lib/celeryroot,
 * 0700) rather than priv's stdout, which is the journal's: one change's
 * output at a time, truncated at the start of each, and only its last
 * OUT_TAIL bytes (at most OUT_LINES lines) are ever read back. */
#include "config.h"
#include "priv.h"
#include "priv_change.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"

#define OUT_FILE "dpkg-output"
#define OUT_TAIL 2048
#define OUT_LINES 20
/* A record names at most this many left-behind files. */
#define LEFT_MAX 64

int priv_dpkgout_open(const char *root)
{
	char path[PATH_MAX];
	int fd;

	if (!priv_root_path(path, sizeof(path), root, JOURNAL_STATE_DIR "/" OUT_FILE))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_APPEND, 0600);
	if (fd < 0) {
		info_f("cannot open %s (dpkg's output stays on priv's stdout): %s", path, strerror(errno));
		return -1;
	}
	/* Always > 2 (stdin, stdout and stderr are open in the change child);
	 * the shim would not redirect onto a standard descriptor. */
	if (fd <= 2) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The UTF-8 characters a terminal or a viewer acts on although they are
 * no ASCII control: C1 controls (U+0080..U+009F, U+009B is a CSI to some
 * terminals) and the bidi overrides (U+202A..U+202E, U+2066..U+2069), which
 * reorder what an admin reads in the audit log.  Their length, or 0. */
static size_t unsafe_utf8(const unsigned char *s, size_t n)
{
	if (n >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae)
		return 3;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9)
		return 3;
	return 0;
}

/* In place, as a terminal would show it: a pty's "\r\n" is a newline, a
 * lone "\r" (dpkg's "Reading database ... 45%") starts its line again;
 * tabs as spaces, any other control byte (escape sequences included) as '?',
 * and so is each C1 control or bidi override (unsafe_utf8). */
static size_t clean(char *s, size_t n)
{
	size_t out = 0, line = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		size_t skip = unsafe_utf8((const unsigned char *)s + i, n - i);
		if (skip > 0) {
			s[out++] = '?';
			i += skip - 1;
			continue;
		}
		if (ch == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		if (ch == '\r') {
			out = line;
			continue;
		}
		s[out++] = ch == '\t' ? ' ' : ch == '\n' || (ch >= 0x20 && ch != 0x7f) ? (char)ch : '?';
		if (ch == '\n')
			line = out;
	}
	s[out] = '\0';
	return out;
}

/* dpkg's own lines, LC_ALL=C: its progress ("Unpacking x (1.0) ...") and
 * its report of the failure ("dpkg: error processing ...", "Errors were
 * encountered while processing:" with their indented lines).  The error
 * says which package failed already; what is left is the scripts' words. */
static int dpkg_says(const char *l, int *in_block)
{
	static const char *const progress[] = {
		"Selecting previously unselected package ", "(Reading database ...", "Preparing to unpack ",
		"Unpacking ", "Setting up ", "Removing ", "Purging configuration files for ",
		"Processing triggers for ",
	};

	if (!strncmp(l, "dpkg: error processing ", 23) || !strcmp(l, "Errors were encountered while processing:"))
		return *in_block = 1;
	if (*in_block && l[0] == ' ')
		return 1;
	*in_block = 0;
	for (size_t i = 0; i < sizeof(progress) / sizeof(progress[0]); i++)
		if (!strncmp(l, progress[i], strlen(progress[i])))
			return 1;
	return 0;
}

/* The last OUT_LINES non-blank lines of s but dpkg's own, joined with " | " into out. */
static void last_lines(char *s, char *out, size_t len)
{
	char *lines[OUT_LINES];
	size_t k = 0, used = 0;
	char *save = NULL;
	int in_block = 0;

	for (char *l = strtok_r(s, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
		/* A script's last words with no newline, then dpkg's report on
		 * the same line: the words are the script's, the rest dpkg's. */
		char *report = strstr(l, "dpkg: error processing ");
		int words_first = report != NULL && report > l;
		if (words_first)
			*report = '\0';
		int skip = dpkg_says(l, &in_block) || strspn(l, " ") == strlen(l);
		if (words_first)
			in_block = 1;
		if (skip)
			continue;
		if (k == OUT_LINES)
			memmove(lines, lines + 1, (OUT_LINES - 1) * sizeof(lines[0]));
		lines[k < OUT_LINES ? k++ : OUT_LINES - 1] = l;
	}
	out[0] = '\0';
	for (size_t i = 0; i < k && used < len; i++) {
		int w = snprintf(out + used, len - used, "%s%s", i ? " | " : "", lines[i]);
		used += w > 0 ? (size_t)w : 0;
	}
}

/* A script may print any bytes; a JSON string must be UTF-8 (jansson
 * refuses anything else, and the error would go with it).  Text that is
 * not, or that the cut split in a character, keeps its ASCII only. */
static void ascii_unless_utf8(char *s)
{
	json_t *probe = json_string(s);

	if (probe != NULL) {
		json_decref(probe);
		return;
	}
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			*s = '?';
}

void priv_dpkgout_tail(int fd, char *out, size_t len)
{
	char buf[OUT_TAIL + 1];
	struct stat st;
	off_t from;
	ssize_t n;

	if (len == 0)
		return;
	out[0] = '\0';
	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	from = st.st_size > OUT_TAIL ? st.st_size - OUT_TAIL : 0;
	n = pread(fd, buf, OUT_TAIL, from);
	if (n <= 0)
		return;
	n = (ssize_t)clean(buf, (size_t)n);
	/* Cut in the middle of a line: that line's start is gone, and "..."
	 * says so.  It stays, as it may be all there is (a script that wrote
	 * a megabyte with no newline) and dpkg's report may follow on it. */
	if (from > 0 && strcspn(buf, "\n") >= 3)
		memcpy(buf, "...", 3);
	last_lines(buf, out, len);
	ascii_unless_utf8(out);
}

void priv_dpkgout_close(int fd)
{
	if (fd < 0)
		return;
	/* The next change starts empty anyway; this one's output is not kept. */
	if (ftruncate(fd, 0) < 0)
		debug_f("cannot empty dpkg's output file: %s", strerror(errno));
	close(fd);
}

void priv_dpkgout_record(const struct change_ctx *c, json_t *d)
{
	char msg[CR_ERR_MAX + sizeof(c->dpkg_output) + 32];

	if (c->dpkg_output[0] == '\0')
		return;
	snprintf(msg, sizeof(msg), "%s; maintainer script output: %s", c->err, c->dpkg_output);
	json_object_set_new(d, "error", json_string(msg));
	json_object_set_new(d, "script_output", json_string(c->dpkg_output));
}

/* ---- conffiles left behind ------------------------------------------------ */

/* A conffile path from dpkg's database that may be looked at: under /etc,
 * absolute, no "..", room for a suffix. */
static int etc_path(const char *p)
{
	return !strncmp(p, "/etc/", 5) && strstr(p, "/../") == NULL && strlen(p) < PATH_MAX - 64 &&
	       strcmp(p + strlen(p) - 3, "/..") != 0;
}

/* Is the directory that holds path inside root, once its symlinks are
 * resolved?  A package's script may make /etc/x a symlink to a directory
 * outside a sandbox's root (an absolute target resolves against the host's
 * /); what lies there is not this host's to list.  lstat() alone leaves
 * the last component unfollowed, not the ones before it. */
static int dir_inside(const char *root, const char *path)
{
	char dir[PATH_MAX], real[PATH_MAX], realroot[PATH_MAX];
	char *slash;
	size_t n;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		return 0;
	*slash = '\0';
	if (realpath(dir, real) == NULL || realpath(root, realroot) == NULL)
		return 0;
	n = strlen(realroot);
	if (!strcmp(realroot, "/"))
		return 1;
	return !strncmp(real, realroot, n) && (real[n] == '/' || real[n] == '\0');
}

/* Each suffix beside the conffile that was made or renamed since since
 * (its ctime: a rename sets it, and dpkg's mtimes are the archive's). */
static void check_conffile(const char *root, const char *conffile, const struct timespec *since, json_t *left)
{
	static const char *const suffixes[] = { ".dpkg-dist", ".dpkg-new", ".dpkg-old" };
	char rel[PATH_MAX], path[PATH_MAX];
	struct stat st;

	if (!priv_root_path(path, sizeof(path), root, conffile + 1) || !dir_inside(root, path))
		return;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]) && json_array_size(left) < LEFT_MAX; i++) {
		snprintf(rel, sizeof(rel), "%s%s", conffile + 1, suffixes[i]);
		if (!priv_root_path(path, sizeof(path), root, rel) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_ctim.tv_sec > since->tv_sec ||
		    (st.st_ctim.tv_sec == since->tv_sec && st.st_ctim.tv_nsec >= since->tv_nsec))
			json_array_append_new(left, json_pack("s++", "/", rel, ""));
	}
}

/* dpkg writes its lists as regular files; a postinst that replaced its own
 * with a symlink (to /etc/shadow, say) gets nothing read through it. */
static FILE *open_list(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return NULL;
	}
	return f;
}

/* dpkg's list of pkg's conffiles (var/lib/dpkg/info/PKG.conffiles, or
 * PKG:ARCH.conffiles for a Multi-Arch: same one); NULL when it has none. */
static FILE *open_conffiles(const char *root, const char *pkg, const char *native)
{
	char rel[PATH_MAX], path[PATH_MAX];
	FILE *f = NULL;

	/* dpkg's names ("name" or "name:arch"), never a path. */
	if (pkg[0] == '\0' || pkg[0] == '.' || strlen(pkg) >= APTSHIM_NAME_MAX ||
	    strspn(pkg, "abcdefghijklmnopqrstuvwxyz0123456789.+-:") != strlen(pkg))
		return NULL;
	snprintf(rel, sizeof(rel), "var/lib/dpkg/info/%s.conffiles", pkg);
	if (priv_root_path(path, sizeof(path), root, rel))
		f = open_list(path);
	if (f == NULL && strchr(pkg, ':') == NULL && native[0]) {
		snprintf(rel, sizeof(rel), "var/lib/dpkg/info/%s:%s.conffiles", pkg, native);
		if (priv_root_path(path, sizeof(path), root, rel))
			f = open_list(path);
	}
	return f;
}

json_t *priv_conffiles_left(const char *root, const char *native, json_t *changes, const struct timespec *since)
{
	json_t *left = json_array(), *v;
	const char *pkg;
	char line[PATH_MAX];

	json_object_foreach(changes, pkg, v) {
		FILE *f = open_conffiles(root, pkg, native);
		while (f != NULL && fgets(line, sizeof(line), f) != NULL && json_array_size(left) < LEFT_MAX) {
			line[strcspn(line, "\n")] = '\0';
			/* "remove-on-upgrade /etc/x": the path is the last word. */
			const char *p = strrchr(line, ' ') ? strrchr(line, ' ') + 1 : line;
			if (etc_path(p))
				check_conffile(root, p, since, left);
		}
		if (f != NULL)
			fclose(f);
	}
	return left;
}
