/* celeryroot sandbox create: a host root that real libapt-pkg and dpkg can
 * work on (DESIGN §6), so many "hosts" can share one machine. */
#include "config.h"
#include "cli.h"
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
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
		"  --source LINE      an APT source line (repeatable)\n"
		"  --os-release FILE  os-release to copy in (default /etc/os-release)\n"
		"\n"
		"examples:\n"
		"  celeryroot sandbox create /srv/sandboxes/web01\n"
		"  celeryroot sandbox create /srv/sandboxes/web01 --source \"deb [trusted=yes] file:/srv/repo ./\"\n");
}

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
 * we never turn someone's populated directory into a dpkg root. */
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

static int copy_file(const char *from, const char *to)
{
	char buf[16384];
	FILE *f = fopen(from, "re");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return write_file(to, buf, 0644);
}

static int sub(char *out, size_t len, const char *dir, const char *rel)
{
	return snprintf(out, len, "%s/%s", dir, rel) < (int)len ? 0 : -1;
}

static int populate(const char *dir, char **sources, int nsources, const char *os_release)
{
	char path[PATH_MAX + 128], list[SOURCES_MAX * (SOURCE_MAX + 1) + 1] = "";
	static const char *const empty_files[] = { "var/lib/dpkg/status", "var/lib/dpkg/available" };

	for (size_t i = 0; i < sizeof(sandbox_dirs) / sizeof(sandbox_dirs[0]); i++)
		if (sub(path, sizeof(path), dir, sandbox_dirs[i]) < 0 || mkdir_p(path, 0755) < 0)
			return -1;
	for (size_t i = 0; i < 2; i++) {
		/* Never truncate an existing dpkg database. */
		if (sub(path, sizeof(path), dir, empty_files[i]) < 0 ||
		    (access(path, F_OK) != 0 && write_file(path, "", 0644) < 0))
			return -1;
	}
	for (int i = 0; i < nsources; i++) {
		strcat(list, sources[i]);
		strcat(list, "\n");
	}
	if (sub(path, sizeof(path), dir, "etc/apt/sources.list") < 0 || write_file(path, list, 0644) < 0)
		return -1;
	if (sub(path, sizeof(path), dir, "etc/os-release") < 0 || copy_file(os_release, path) < 0)
		return -1;
	if (sub(path, sizeof(path), dir, SANDBOX_MARKER) < 0 ||
	    write_file(path, "This directory is a celeryroot sandbox host root.\n", 0644) < 0)
		return -1;
	return 0;
}

static int sandbox_create(int argc, char **argv)
{
	static const struct option lo[] = { { "source", required_argument, 0, 's' },
					    { "os-release", required_argument, 0, 'o' },
					    { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	char *sources[SOURCES_MAX];
	const char *os_release = "/etc/os-release";
	int nsources = 0, c, state;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			sandbox_help(stdout);
			return EXIT_OK;
		}
		if (c == 's' && (nsources >= SOURCES_MAX || !valid_source(optarg))) {
			cli_err("invalid --source: one line starting with 'deb ' or 'deb-src ', at most %d characters", SOURCE_MAX);
			return EXIT_USAGE;
		}
		if (c == 's')
			sources[nsources++] = optarg;
		else if (c == 'o')
			os_release = optarg;
		else
			return EXIT_USAGE;
	}
	if (optind != argc - 1) {
		cli_err("sandbox create needs one DIR; see 'celeryroot sandbox --help'");
		return EXIT_USAGE;
	}
	const char *dir = argv[optind];
	char resolved[PATH_MAX];
	/* "//", "/.", "/tmp/.." are / too. */
	int is_root = strcmp(dir, "/") == 0 ||
		      (realpath(dir, resolved) != NULL && strcmp(resolved, "/") == 0);
	if (dir[0] != '/' || is_root || strlen(dir) > PATH_MAX - 128) {
		cli_err("sandbox DIR must be an absolute path other than /, got '%s'", dir);
		return EXIT_USAGE;
	}
	if (geteuid() != 0) {
		cli_err("sandbox create must run as root (dpkg works on a root-owned sandbox); try: sudo celeryroot sandbox create %s", dir);
		return EXIT_USAGE;
	}
	if (access(os_release, R_OK) != 0) {
		cli_err("cannot read --os-release %s: %s", os_release, strerror(errno));
		return EXIT_USAGE;
	}
	if ((state = check_target(dir)) < 0) {
		cli_err("%s exists and is neither empty nor a sandbox; choose another directory", dir);
		return EXIT_USAGE;
	}
	if (populate(dir, sources, nsources, os_release) < 0) {
		cli_err("cannot create sandbox %s: %s", dir, strerror(errno));
		return EXIT_USAGE;
	}
	printf("sandbox %s %s (%d source%s)\n", dir, state == 1 ? "updated" : "created", nsources,
	       nsources == 1 ? "" : "s");
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
