/* celeryroot install-unit: writes the systemd units, the sysusers.d and
 * tmpfiles.d files and the AppArmor profiles under a root directory, as
 * this program was built with them (gen/unit_files.h: systemd/ with this
 * build's paths, apparmor/), so that a host set up from a build tree gets
 * the same files 'make install' gives a package.  They go to /etc, where
 * local administrators' files belong and where AppArmor looks. */
#include "config.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen/unit_files.h"

struct unit_file {
	const char *path;   /* under the root, without a leading '/' */
	const char *text;
};

static const struct unit_file unit_files[] = {
	{ "etc/systemd/system/celeryrootd.service", unit_celeryrootd },
	{ "etc/systemd/system/celeryroot-beat.service", unit_beat },
	{ "etc/sysusers.d/celeryroot.conf", sysusers_conf },
	{ "etc/tmpfiles.d/celeryroot.conf", tmpfiles_conf },
	{ "etc/apparmor.d/celeryrootd", apparmor_priv },
	{ "etc/apparmor.d/celeryroot-net", apparmor_net },
};
#define NFILES (sizeof(unit_files) / sizeof(unit_files[0]))

static const char *const next_steps[] = {
	"systemctl daemon-reload",
	"systemd-sysusers celeryroot.conf",
	"systemd-tmpfiles --create celeryroot.conf",
	"apparmor_parser -r /etc/apparmor.d/celeryrootd /etc/apparmor.d/celeryroot-net   # where AppArmor is enabled",
	"$EDITOR /etc/celeryroot/celeryrootd.conf   # the daemon's own (mode 600): broker url, username, "
	"password_file, roles (contrib/celeryrootd.conf.example)",
	"systemctl enable --now celeryrootd",
};

enum iu_state { IU_ABSENT, IU_SAME, IU_DIFFERS };
static const char *const state_names[] = { "written", "unchanged", "replaced" };

static void install_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot install-unit [--root DIR] [--force] [--json]\n"
		"\n"
		"Writes what runs celeryrootd on a server, as built into this program:\n"
		"  DIR/etc/systemd/system/celeryrootd.service      the hardened daemon unit\n"
		"  DIR/etc/systemd/system/celeryroot-beat.service  'celeryroot beat' (optional)\n"
		"  DIR/etc/sysusers.d/celeryroot.conf              users _celeryroot, _celeryroot-beat\n"
		"  DIR/etc/tmpfiles.d/celeryroot.conf              /etc/celeryroot, /var/log/celeryroot ...\n"
		"  DIR/etc/apparmor.d/celeryrootd, celeryroot-net  the AppArmor profiles of priv and net\n"
		"DIR defaults to /.  A file that exists with other contents is left alone and\n"
		"nothing is written, unless --force; identical files are left as they are.\n"
		"Then it prints the commands that enable them.\n"
		"\n"
		"examples:\n"
		"  celeryroot install-unit\n"
		"  celeryroot install-unit --root /srv/image --json\n");
}

/* The file's state, compared with text; a symlink or other non-regular file
 * (a masked unit is a link to /dev/null) counts as different. */
static enum iu_state file_state(const char *path, const char *text)
{
	size_t len = strlen(text), got = 0;
	enum iu_state st = IU_DIFFERS;
	struct stat sb;
	char *buf;
	ssize_t n;
	int fd;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? IU_ABSENT : IU_DIFFERS;
	if (!S_ISREG(sb.st_mode) || (size_t)sb.st_size != len)
		return IU_DIFFERS;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || (buf = malloc(len + 1)) == NULL) {
		if (fd >= 0)
			close(fd);
		return IU_DIFFERS;
	}
	while (got <= len && (n = read(fd, buf + got, len + 1 - got)) > 0)
		got += (size_t)n;
	if (got == len && memcmp(buf, text, len) == 0)
		st = IU_SAME;
	free(buf);
	close(fd);
	return st;
}

/* mkdir -p of path's directory, 0755: these are system directories. */
static int make_parents(const char *path)
{
	char buf[PATH_MAX];

	if (!cr_copy_str(buf, sizeof(buf), path))
		return -1;
	for (char *s = strchr(buf + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return 0;
}

/* A temporary file beside path, renamed over it: never a half-written unit. */
static int write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text), done = 0;
	ssize_t n;
	int fd;

	if (make_parents(path) < 0 || snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -1;
	if ((fd = mkstemp(tmp)) < 0)
		return -1;
	while (done < len && (n = write(fd, text + done, len - done)) > 0)
		done += (size_t)n;
	if (done != len || fchmod(fd, 0644) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e ? e : EIO;
		return -1;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

static void full_path(char *buf, size_t len, const char *root, const char *rel)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	snprintf(buf, len, "%.*s/%s", n == 1 && root[0] == '/' ? 0 : (int)n, root, rel);
}

static void report(const char *root, char paths[][PATH_MAX], const enum iu_state *st, int json)
{
	if (json) {
		json_t *files = json_array(), *next = json_array();
		for (size_t i = 0; i < NFILES; i++)
			json_array_append_new(files, json_pack("{s:s, s:s}", "path", paths[i], "state",
							       state_names[st[i]]));
		for (size_t i = 0; i < sizeof(next_steps) / sizeof(next_steps[0]); i++)
			json_array_append_new(next, json_string(next_steps[i]));
		json_t *o = json_pack("{s:s, s:o, s:o}", "root", root, "files", files, "next", next);
		san_json_print(stdout, o, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return;
	}
	for (size_t i = 0; i < NFILES; i++)
		printf("%-9s %s\n", state_names[st[i]], paths[i]);
	printf("Next, on the host%s%s:\n", strcmp(root, "/") ? " whose root is " : "",
	       strcmp(root, "/") ? root : "");
	for (size_t i = 0; i < sizeof(next_steps) / sizeof(next_steps[0]); i++)
		printf("  %s\n", next_steps[i]);
}

static int parse(int argc, char **argv, const char **root, int *force, int *json)
{
	static const struct option opts[] = { { "root", required_argument, NULL, 'r' },
					      { "force", no_argument, NULL, 'f' },
					      { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int c;

	optind = 1;
	opterr = 0;
	/* The leading ':' makes getopt tell a missing value (':') from an
	 * unknown option ('?'). */
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': *root = optarg; break;
		case 'f': *force = 1; break;
		case 'j': *json = 1; break;
		case 'h': install_help(stdout); exit(EXIT_OK);
		case ':':
			cli_err("install-unit: %s needs a value (--root DIR)", argv[optind - 1]);
			return -1;
		default:
			cli_err("install-unit: unknown option '%s'; see 'celeryroot install-unit --help'",
				argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc) {
		cli_err("install-unit takes no argument ('%s'): give the directory with --root DIR", argv[optind]);
		return -1;
	}
	return 0;
}

int cmd_install_unit(int argc, char **argv)
{
	char paths[NFILES][PATH_MAX];
	enum iu_state st[NFILES];
	const char *root = "/";
	int force = 0, json = 0, refused = 0;
	struct stat sb;

	if (parse(argc, argv, &root, &force, &json) < 0)
		return EXIT_USAGE;
	if (root[0] == '\0' || stat(root, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		cli_err("install-unit: --root '%s' is not a directory: create it first, or leave --root out for /", root);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < NFILES; i++) {
		full_path(paths[i], sizeof(paths[i]), root, unit_files[i].path);
		st[i] = file_state(paths[i], unit_files[i].text);
		if (st[i] == IU_DIFFERS && !force) {
			cli_err("install-unit: %s exists and differs from the built-in file (a local change, a "
				"link or another version): compare them, then run again with --force to replace it", paths[i]);
			refused = 1;
		}
	}
	if (refused)
		return EXIT_USAGE;   /* nothing written: all or none */
	for (size_t i = 0; i < NFILES; i++)
		if (st[i] != IU_SAME && write_file(paths[i], unit_files[i].text) < 0) {
			cli_err("install-unit: cannot write %s: %s", paths[i], strerror(errno));
			return EXIT_USAGE;
		}
	report(root, paths, st, json);
	return EXIT_OK;
}
