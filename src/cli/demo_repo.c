/* The demo's small APT repository, built with dpkg-deb and indexed with
 * dpkg-scanpackages, as the tests' repositories are. */
#include "config.h"
#include "demo.h"
#include "spawn.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct demo_pkg {
	const char *name, *version, *depends, *description;
	const char *preinst;   /* maintainer script, or NULL */
};

/* hello takes a moment to install, so that the progress bars show; broken's
 * preinst fails, so that the tour can show a rollback (of its helper). */
static const struct demo_pkg demo_pkgs[] = {
	{ "celeryroot-demo-lib", "1.0", NULL, "library the hello demo depends on", NULL },
	{ "celeryroot-demo-hello", "1.0", "celeryroot-demo-lib", "says hello from a sandbox host",
	  "#!/bin/sh\nsleep 1\n" },
	{ "celeryroot-demo-tools", "1.0", NULL, "demo tools, old version", NULL },
	{ "celeryroot-demo-tools", "1.1", NULL, "demo tools, new version", NULL },
	{ "celeryroot-demo-helper", "1.0", NULL, "pulled in by the broken demo package", NULL },
	{ "celeryroot-demo-broken", "1.0", "celeryroot-demo-helper", "fails to install, on purpose",
	  "#!/bin/sh\necho 'celeryroot-demo-broken: this preinst fails on purpose' >&2\nexit 1\n" },
};

static int build_one(const char *repo, const struct demo_pkg *p)
{
	char root[PATH_MAX], path[PATH_MAX + 64], control[1024], deb[PATH_MAX + 64];
	const char *argv[] = { "dpkg-deb", "--root-owner-group", "-b", root, deb, NULL };

	snprintf(root, sizeof(root), "%s/build/%s-%s", repo, p->name, p->version);
	snprintf(path, sizeof(path), "%s/DEBIAN", root);
	if (mkdir_p(path, 0755) < 0)
		return -1;
	snprintf(control, sizeof(control),
		 "Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: Celeryroot demo <demo@celeryroot.invalid>\n"
		 "%s%s%sDescription: %s\n",
		 p->name, p->version, p->depends ? "Depends: " : "", p->depends ? p->depends : "",
		 p->depends ? "\n" : "", p->description);
	snprintf(path, sizeof(path), "%s/DEBIAN/control", root);
	if (write_file(path, control, 0644) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/DEBIAN/preinst", root);
	if (p->preinst && write_file(path, p->preinst, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/usr/share/doc/%s", root, p->name);
	if (mkdir_p(path, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/usr/share/doc/%s/README", root, p->name);
	if (write_file(path, p->description, 0644) < 0)
		return -1;
	snprintf(deb, sizeof(deb), "%s/%s_%s_all.deb", repo, p->name, p->version);
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int rc = run_argv(argv, NULL, devnull, -1);
	close(devnull);
	return rc == 0 ? 0 : -1;
}

int demo_build_repo(const char *repo)
{
	char packages[PATH_MAX + 16], build[PATH_MAX + 16];
	const char *scan[] = { "dpkg-scanpackages", "-m", ".", NULL };
	int fd, rc;

	if (mkdir_p(repo, 0755) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(demo_pkgs) / sizeof(demo_pkgs[0]); i++)
		if (build_one(repo, &demo_pkgs[i]) < 0)
			return -1;
	snprintf(build, sizeof(build), "%s/build", repo);
	rm_rf(build);
	snprintf(packages, sizeof(packages), "%s/Packages", repo);
	fd = open(packages, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	rc = run_argv_in(repo, scan, NULL, fd, devnull);
	close(devnull);
	close(fd);
	return rc == 0 ? 0 : -1;
}
