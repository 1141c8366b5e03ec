/* celeryroot sandbox create: a host root that real libapt-pkg and dpkg can
 * work on (DESIGN §6), so many "hosts" can share one machine. */
#include "config.h"
#include "cli.h"
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SANDBOX_MARKER "etc/celeryroot-sandbox"
#define SOURCE_MAX 512
#define SOURCES_MAX 32
#define OS_RELEASE_MAX 16384

static const char *const sandbox_dirs[] = {
	"etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d",
	"etc/apt/trusted.gpg.d", "var/lib/dpkg/info", "var/lib/dpkg/updates",
	"var/lib/dpkg/triggers", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial",
	"var/log/celeryroot", "var/log/apt",
};

static void sandbox_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot sandbox create DIR [--source LINE]... [--os-release FILE]\n"
		"\n"
		"Makes DIR a host root with its own dpkg database and APT configuration, for\n"
		"'celeryrootd --sandbox DIR': real libapt-pkg and dpkg then work inside it and\n"
		"never touch this machine's packages.  Needs root, as dpkg does.\n"
		"\n"
		"  --source LINE      an APT source line for etc/apt/sources.list (repeatable)\n"
		"  --os-release FILE  os-release to copy in (default /etc/os-release)\n"
		"\n"
		"DIR must be absolute, and empty or missing unless it is already a sandbox.\n"
		"Running it again is safe: the dpkg database is kept, and sources.list and\n"
		"os-release are replaced only when --source or --os-release are given.\n"
		"\n"
		"examples:\n"
		"  celeryroot sandbox create /srv/sandboxes/web01\n"
		"  celeryroot sandbox create /srv/sandboxes/web01 --source \"deb [trusted=yes] file:/srv/repo ./\"\n");
}

/* One line that apt parses as a source: nothing that could end the line and
 * smuggle in a second entry. */
static int valid_source(const char *s)
{
	size_t len = strnlen(s, SOURCE_MAX + 1);

	if (len > SOURCE_MAX || (strncmp(s, "deb ", 4) != 0 && strncmp(s, "deb-src ", 8) != 0))
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

/* An existing directory is reused only if it is empty or already a sandbox:
 * we never turn someone's populated directory into a dpkg root.
 * 0: missing or empty, 1: a sandbox, -1: refused. */
static int check_target(const char *dir)
{
	char marker[PATH_MAX + 64];
	struct stat sb;
	DIR *d;
	struct dirent *e;
	int entries = 0;

	if (stat(dir, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode))
		return -1;
	snprintf(marker, sizeof(marker), "%s/" SANDBOX_MARKER, dir);
	if (access(marker, F_OK) == 0)
		return 1;
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return entries == 0 ? 0 : -1;
}

/* Reads a small regular file into buf (NUL-terminated); -1 if it is not
 * one, or does not fit.  follow: 0 inside the sandbox (never read through a
 * symlink there); 1 for the machine's /etc/os-release, itself a symlink. */
static int read_small(const char *path, char *buf, size_t len, int follow)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	struct stat sb;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size >= len) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

struct changes {
	int n;   /* things created or rewritten */
};

/* Writes content unless the file already holds exactly that. */
static int sync_file(const char *path, const char *content, struct changes *ch)
{
	static char old[OS_RELEASE_MAX + SOURCES_MAX * (SOURCE_MAX + 1) + 2];

	if (read_small(path, old, sizeof(old), 0) == 0 && strcmp(old, content) == 0)
		return 0;
	ch->n++;
	return write_file(path, content, 0644);
}

static int sub(char *out, size_t len, const char *dir, const char *rel)
{
	return snprintf(out, len, "%s/%s", dir, rel) < (int)len ? 0 : -1;
}

static int make_dirs(const char *dir, struct changes *ch)
{
	char path[PATH_MAX + 128];

	for (size_t i = 0; i < sizeof(sandbox_dirs) / sizeof(sandbox_dirs[0]); i++) {
		if (sub(path, sizeof(path), dir, sandbox_dirs[i]) < 0)
			return -1;
		if (access(path, F_OK) == 0)
			continue;
		ch->n++;
		if (mkdir_p(path, 0755) < 0)
			return -1;
	}
	return 0;
}

/* The marker goes in first, so that a create that fails halfway leaves a
 * directory that a second run may complete rather than refuse. */
static int populate(const char *dir, char **sources, int nsources, const char *osr,
		    int explicit_os, struct changes *ch)
{
	static const char *const empty_files[] = { "var/lib/dpkg/status", "var/lib/dpkg/available" };
	static char list[SOURCES_MAX * (SOURCE_MAX + 1) + 1];
	char path[PATH_MAX + 128];
	size_t used = 0;

	if (sub(path, sizeof(path), dir, "etc") < 0 || mkdir_p(path, 0755) < 0 ||
	    sub(path, sizeof(path), dir, SANDBOX_MARKER) < 0 ||
	    sync_file(path, "This directory is a celeryroot sandbox host root.\n", ch) < 0)
		return -1;
	if (make_dirs(dir, ch) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(empty_files) / sizeof(empty_files[0]); i++) {
		/* Never truncate an existing dpkg database. */
		if (sub(path, sizeof(path), dir, empty_files[i]) < 0)
			return -1;
		if (access(path, F_OK) == 0)
			continue;
		ch->n++;
		if (write_file(path, "", 0644) < 0)
			return -1;
	}
	list[0] = '\0';
	for (int i = 0; i < nsources; i++)   /* each ≤ SOURCE_MAX, at most SOURCES_MAX */
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s\n", sources[i]);
	if (sub(path, sizeof(path), dir, "etc/apt/sources.list") < 0)
		return -1;
	if ((nsources > 0 || access(path, F_OK) != 0) && sync_file(path, list, ch) < 0)
		return -1;
	if (sub(path, sizeof(path), dir, "etc/os-release") < 0)
		return -1;
	if ((explicit_os || access(path, F_OK) != 0) && sync_file(path, osr, ch) < 0)
		return -1;
	return 0;
}

/* Source lines now in the sandbox's sources.list, for the summary line. */
static int count_sources(const char *dir)
{
	char path[PATH_MAX + 128], line[SOURCE_MAX + 2];
	FILE *f;
	int n = 0;

	if (sub(path, sizeof(path), dir, "etc/apt/sources.list") < 0 || (f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strncmp(line, "deb ", 4) == 0 || strncmp(line, "deb-src ", 8) == 0;
	fclose(f);
	return n;
}

/* "//", "/.", "/tmp/.." are / too. */
static int is_root_dir(const char *dir)
{
	char resolved[PATH_MAX];

	return strcmp(dir, "/") == 0 || (realpath(dir, resolved) != NULL && strcmp(resolved, "/") == 0);
}

static int sandbox_create(int argc, char **argv)
{
	static const struct option lo[] = { { "source", required_argument, 0, 's' },
					    { "os-release", required_argument, 0, 'o' },
					    { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	static char osr[OS_RELEASE_MAX];
	char *sources[SOURCES_MAX];
	const char *os_release = "/etc/os-release";
	struct changes ch = { 0 };
	int nsources = 0, explicit_os = 0, c, state;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			sandbox_help(stdout);
			return EXIT_OK;
		}
		if (c == 's' && (nsources >= SOURCES_MAX || !valid_source(optarg))) {
			cli_err("invalid --source: at most %d lines, each one line starting with 'deb ' or 'deb-src ', at most %d characters",
				SOURCES_MAX, SOURCE_MAX);
			return EXIT_USAGE;
		}
		if (c == 's') {
			sources[nsources++] = optarg;
		} else if (c == 'o') {
			os_release = optarg;
			explicit_os = 1;
		} else {
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_err("sandbox create needs one DIR; see 'celeryroot sandbox --help'");
		return EXIT_USAGE;
	}
	const char *dir = argv[optind];
	if (dir[0] != '/' || is_root_dir(dir) || strlen(dir) > PATH_MAX - 128) {
		cli_err("sandbox DIR must be an absolute path other than /, got '%s'", dir);
		return EXIT_USAGE;
	}
	if (geteuid() != 0) {
		cli_err("sandbox create must run as root (dpkg works on a root-owned sandbox); try: sudo celeryroot sandbox create %s", dir);
		return EXIT_USAGE;
	}
	if (read_small(os_release, osr, sizeof(osr), 1) < 0) {
		cli_err("cannot read --os-release %s: %s", os_release,
			errno == EFBIG ? "not a regular file under 16 KiB" : strerror(errno));
		return EXIT_USAGE;
	}
	if ((state = check_target(dir)) < 0) {
		cli_err("%s exists and is neither empty nor a sandbox; choose another directory", dir);
		return EXIT_USAGE;
	}
	if (mkdir_p(dir, 0755) < 0 || populate(dir, sources, nsources, osr, explicit_os, &ch) < 0) {
		cli_err("cannot create sandbox %s: %s", dir, strerror(errno));
		return EXIT_USAGE;
	}
	printf("sandbox %s %s (sources: %d)\n", dir,
	       state == 0 ? "created" : ch.n > 0 ? "updated" : "unchanged", count_sources(dir));
	return EXIT_OK;
}

int cmd_sandbox(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return sandbox_create(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		sandbox_help(stdout);
		return EXIT_OK;
	}
	cli_err("usage: celeryroot sandbox create DIR [--source LINE]...; see 'celeryroot sandbox --help'");
	return EXIT_USAGE;
}
