/* A bounded reader for var/lib/dpkg/status.  Only four fields matter here
 * (Package, Architecture, Version, Status); everything else, continuation
 * lines included, is skipped. */
#include "config.h"
#include "dpkg_status.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define STATUS_MAX_PKGS 200000

struct para {
	char pkg[APTSHIM_NAME_MAX], arch[33], ver[APTSHIM_VER_MAX], status[64];
};

static void field(char *dst, size_t len, const char *line, const char *key)
{
	size_t k = strlen(key);
	if (strncmp(line, key, k) != 0)
		return;
	line += k;
	while (*line == ' ' || *line == '\t')
		line++;
	snprintf(dst, len, "%.*s", (int)strcspn(line, "\r\n"), line);
}

/* "install ok installed" -> "installed": the state is the last word. */
static const char *state_of(const char *status)
{
	const char *sp = strrchr(status, ' ');
	return sp ? sp + 1 : status;
}

static int add(struct dpkg_snap *s, size_t *cap, const struct para *pa, const char *native)
{
	struct dpkg_pkg *e;

	if (pa->pkg[0] == '\0' || pa->status[0] == '\0')
		return 0;
	if (s->n >= STATUS_MAX_PKGS)
		return -1;
	if (s->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct dpkg_pkg *np = realloc(s->p, ncap * sizeof(*np));
		if (np == NULL)
			return -1;
		s->p = np;
		*cap = ncap;
	}
	e = &s->p[s->n++];
	memset(e, 0, sizeof(*e));
	if (pa->arch[0] && strcmp(pa->arch, "all") != 0 && strcmp(pa->arch, native) != 0)
		snprintf(e->name, sizeof(e->name), "%.127s:%.32s", pa->pkg, pa->arch);
	else
		copy_str(e->name, sizeof(e->name), pa->pkg);
	copy_str(e->version, sizeof(e->version), pa->ver);
	copy_str(e->state, sizeof(e->state), state_of(pa->status));
	return 0;
}

int dpkg_snap_read(const char *root, const char *native_arch, struct dpkg_snap *s, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct para pa;
	char *line = NULL;
	size_t linecap = 0, cap = 0;
	ssize_t n;
	int rc = 0;
	FILE *f;

	memset(s, 0, sizeof(*s));
	memset(&pa, 0, sizeof(pa));
	copy_str(s->native, sizeof(s->native), native_arch);
	if (snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", strcmp(root, "/") ? root : "") >= (int)sizeof(path))
		return snprintf(err, errlen, "host root path too long"), -1;
	if ((f = fopen(path, "re")) == NULL)
		return snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)), -1;
	while (rc == 0 && (n = getline(&line, &linecap, f)) >= 0) {
		if (line[0] == '\n' || line[0] == '\r') {
			rc = add(s, &cap, &pa, native_arch);
			memset(&pa, 0, sizeof(pa));
			continue;
		}
		field(pa.pkg, sizeof(pa.pkg), line, "Package:");
		field(pa.arch, sizeof(pa.arch), line, "Architecture:");
		field(pa.ver, sizeof(pa.ver), line, "Version:");
		field(pa.status, sizeof(pa.status), line, "Status:");
	}
	if (rc == 0)
		rc = add(s, &cap, &pa, native_arch);
	free(line);
	fclose(f);
	if (rc < 0) {
		dpkg_snap_free(s);
		return snprintf(err, errlen, "cannot hold the dpkg status of %s (too large)", path), -1;
	}
	return 0;
}

void dpkg_snap_free(struct dpkg_snap *s)
{
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

const struct dpkg_pkg *dpkg_snap_find(const struct dpkg_snap *s, const char *name)
{
	size_t len = strcspn(name, ":");
	/* "name:native" (and name:all) is stored as "name" */
	int native = name[len] == ':' && (strcmp(name + len + 1, s->native) == 0 || strcmp(name + len + 1, "all") == 0);

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->p[i].name, name) == 0)
			return &s->p[i];
		if (native && strncmp(s->p[i].name, name, len) == 0 && s->p[i].name[len] == '\0')
			return &s->p[i];
	}
	return NULL;
}

int dpkg_present(const struct dpkg_pkg *p)
{
	return p != NULL && strcmp(p->state, "not-installed") != 0 && strcmp(p->state, "config-files") != 0;
}

int dpkg_broken(const struct dpkg_pkg *p)
{
	return p != NULL && dpkg_present(p) && strcmp(p->state, "installed") != 0;
}

int dpkg_snap_clean(const struct dpkg_snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (dpkg_broken(&s->p[i]))
			return 0;
	return 1;
}
