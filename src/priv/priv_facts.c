/* Facts about the host root (DESIGN §5, step 1): what the OS is, how many
 * packages are installed and how old the apt lists are.  Every path is built
 * from the root priv was started with; nothing here takes a path from net. */
#include "config.h"
#include "priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "apt_shim.h"
#include "log.h"

#define OS_RELEASE_MAX (16 * 1024)   /* real files are well under 1 KB */
#define OS_VALUE_MAX 256
#define LISTS_SCAN_MAX 100000        /* bounds a pathological lists directory */

static const char *const os_keys[] = { "ID", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME" };

/* root + "/" + rel, or just "/" + rel for the real root; 0 if it does not fit. */
int priv_root_path(char *buf, size_t len, const char *root, const char *rel)
{
	int n = snprintf(buf, len, "%s/%s", strcmp(root, "/") == 0 ? "" : root, rel);
	return n > 0 && (size_t)n < len;
}

/* Reads at most max-1 bytes of a file into buf, NUL-terminated. */
static ssize_t read_small(const char *path, char *buf, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t got = 0;

	if (fd < 0)
		return -1;
	while (got < max - 1) {
		ssize_t r = read(fd, buf + got, max - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Unquotes an os-release value in place: shell-style "..." or '...', with
 * backslash escapes inside double quotes.  Bounded by the line itself. */
static void unquote(char *v)
{
	size_t n = strlen(v), o = 0;
	char q;

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
		v[--n] = '\0';
	if (n < 2 || (v[0] != '"' && v[0] != '\'') || v[n - 1] != v[0])
		return;
	q = v[0];
	for (size_t i = 1; i < n - 1; i++) {
		if (q == '"' && v[i] == '\\' && i + 1 < n - 1)
			i++;
		v[o++] = v[i];
	}
	v[o] = '\0';
}

/* A string, or null when it is not valid UTF-8 (jansson refuses those). */
static json_t *str_or_null(const char *s)
{
	json_t *j = s ? json_string(s) : NULL;
	return j ? j : json_null();
}

static void os_parse_line(char *line, json_t *os)
{
	char *eq = strchr(line, '=');

	if (eq == NULL || line[0] == '#')
		return;
	*eq = '\0';
	for (size_t k = 0; k < sizeof(os_keys) / sizeof(os_keys[0]); k++) {
		if (strcmp(line, os_keys[k]) != 0)
			continue;
		char val[OS_VALUE_MAX];
		snprintf(val, sizeof(val), "%s", eq + 1);
		unquote(val);
		json_object_set_new(os, os_keys[k], str_or_null(val));
	}
}

/* {ID, VERSION_ID, VERSION_CODENAME, PRETTY_NAME} from the root's
 * os-release (etc/, then usr/lib/ as the spec says); empty if neither. */
static json_t *os_release(const char *root)
{
	static const char *const where[] = { "etc/os-release", "usr/lib/os-release" };
	char path[PATH_MAX], *buf = malloc(OS_RELEASE_MAX), *save = NULL;
	json_t *os = json_object();
	ssize_t n = -1;

	if (buf == NULL || os == NULL) {
		free(buf);
		json_decref(os);
		return NULL;
	}
	for (size_t i = 0; i < 2 && n < 0; i++)
		if (priv_root_path(path, sizeof(path), root, where[i]))
			n = read_small(path, buf, OS_RELEASE_MAX);
	if (n < 0)
		debug_f("no os-release under %s", root);
	for (char *line = n > 0 ? strtok_r(buf, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		os_parse_line(line, os);
	free(buf);
	return os;
}

struct json_t *priv_os_info(const char *root)
{
	struct utsname u;
	json_t *os = os_release(root), *info;
	const char *pretty;

	if (os == NULL)
		return NULL;
	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	/* os-release(5): PRETTY_NAME defaults to "Linux". */
	pretty = json_string_value(json_object_get(os, "PRETTY_NAME"));
	info = json_pack("{s:o, s:s, s:o, s:o, s:s}", "os", os, "os_pretty", pretty ? pretty : "Linux",
			 "kernel", str_or_null(u.release), "arch", str_or_null(u.machine), "root",
			 root);
	return info;
}

/* Seconds since boot of the real machine (a sandbox shares its kernel). */
static json_t *uptime_s(void)
{
	char buf[128];
	double up;

	if (read_small("/proc/uptime", buf, sizeof(buf)) <= 0 || sscanf(buf, "%lf", &up) != 1)
		return json_null();
	return json_real(up);
}

/* When apt last fetched anything: the newest list file, or the stamp priv
 * (and apt's own daily job) touch after a successful update, whichever is
 * newer.  -1 when there is neither (never updated).  Symlinks are not
 * followed. */
static int newest_in(const char *dir, struct timespec *newest, int *found)
{
	struct dirent *de;
	struct stat st;
	long scanned = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && scanned++ < LISTS_SCAN_MAX) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "partial") == 0 || strcmp(de->d_name, "lock") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (!*found || st.st_mtim.tv_sec > newest->tv_sec ||
		    (st.st_mtim.tv_sec == newest->tv_sec && st.st_mtim.tv_nsec > newest->tv_nsec))
			*newest = st.st_mtim;
		*found = 1;
	}
	closedir(d);
	return 0;
}

int priv_lists_age(const char *root, double *age)
{
	char dir[PATH_MAX];
	struct timespec newest = { 0, 0 }, now;
	int found = 0;

	if (priv_root_path(dir, sizeof(dir), root, "var/lib/apt/lists"))
		newest_in(dir, &newest, &found);
	if (priv_root_path(dir, sizeof(dir), root, "var/lib/apt/periodic"))
		newest_in(dir, &newest, &found);
	if (!found)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	*age = (double)(now.tv_sec - newest.tv_sec) + (now.tv_nsec - newest.tv_nsec) / 1e9;
	if (*age < 0)
		*age = 0;   /* a clock step must not give a negative age */
	return 0;
}

json_t *priv_lists_age_json(const char *root)
{
	double age;
	return priv_lists_age(root, &age) == 0 ? json_real(round(age * 1000) / 1000) : json_null();
}

void priv_lists_touch(const char *root)
{
	char dir[PATH_MAX], file[PATH_MAX];
	int fd;

	if (!priv_root_path(dir, sizeof(dir), root, "var/lib/apt/periodic") ||
	    !priv_root_path(file, sizeof(file), root, "var/lib/apt/periodic/update-success-stamp"))
		return;
	mkdir(dir, 0755);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0) {
		futimens(fd, NULL);
		close(fd);
	}
}

struct json_t *priv_facts(const char *root, char *err, size_t errlen)
{
	long installed = 0;
	json_t *facts;

	if (priv_aptshim_init(root, err, errlen) < 0 || priv_aptshim_installed_count(&installed, err, errlen) < 0)
		return NULL;
	facts = priv_os_info(root);
	if (facts == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_object_set_new(facts, "uptime_s", uptime_s());
	json_object_set_new(facts, "installed_packages", json_integer(installed));
	json_object_set_new(facts, "apt_lists_age_s", priv_lists_age_json(root));
	return facts;
}
