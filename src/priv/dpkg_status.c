/* A bounded reader for dpkg's database.  Only four fields matter here
 * (Package, Architecture, Version, Status); everything else, continuation
 * lines included, is skipped.
 *
 * dpkg does not rewrite the status file for each step: it appends each
 * package's new status to a numbered file in var/lib/dpkg/updates and folds
 * them in when it finishes.  A run cut short (a power cut, a kill) leaves
 * its last word there: a package whose preinst was running is
 * "half-installed" only in updates/0000, while the status file still says
 * it is not installed.  So dpkg's view is the status file with the journal
 * applied in order, later entries replacing earlier ones, as dpkg-query and
 * dpkg --audit read it. */
#include "config.h"
#include "dpkg_status.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "names.h"

#define STATUS_MAX_PKGS 200000
/* dpkg folds the journal in long before this many entries. */
#define UPDATES_MAX 100000

struct para {
	char pkg[APTSHIM_NAME_MAX], arch[33], ver[APTSHIM_VER_MAX], status[64];
};

struct reader {
	struct dpkg_snap *s;
	size_t cap;
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

/* "install reinstreq half-installed": want, flag, state.  An odd line (not
 * three words) keeps its last word as the state, like older readers did. */
static void split_status(const char *status, struct dpkg_pkg *e)
{
	char want[16] = "", flag[24] = "", state[32] = "";
	const char *last = strrchr(status, ' ');

	if (sscanf(status, "%15s %23s %31s", want, flag, state) == 3) {
		cr_copy_str(e->want, sizeof(e->want), want);
		cr_copy_str(e->state, sizeof(e->state), state);
	} else {
		cr_copy_str(e->state, sizeof(e->state), last ? last + 1 : status);
	}
	/* "reinstreq", or "hold-reinstreq" from old dpkg versions. */
	e->reinstreq = strstr(flag, "reinstreq") != NULL;
}

static int add(struct reader *rd, const struct para *pa)
{
	struct dpkg_snap *s = rd->s;
	struct dpkg_pkg *e;

	if (pa->pkg[0] == '\0' || pa->status[0] == '\0')
		return 0;
	if (s->n >= STATUS_MAX_PKGS)
		return -1;
	if (s->n == rd->cap) {
		size_t ncap = rd->cap ? rd->cap * 2 : 256;
		struct dpkg_pkg *np = realloc(s->p, ncap * sizeof(*np));
		if (np == NULL)
			return -1;
		s->p = np;
		rd->cap = ncap;
	}
	e = &s->p[s->n];
	memset(e, 0, sizeof(*e));
	if (pa->arch[0] && strcmp(pa->arch, "all") != 0 && strcmp(pa->arch, s->native) != 0)
		snprintf(e->name, sizeof(e->name), "%.127s:%.32s", pa->pkg, pa->arch);
	else
		cr_copy_str(e->name, sizeof(e->name), pa->pkg);
	cr_copy_str(e->version, sizeof(e->version), pa->ver);
	split_status(pa->status, e);
	e->order = s->n++;
	return 0;
}

/* Every paragraph of f, in order.  -1 when there are too many. */
static int read_stream(struct reader *rd, FILE *f)
{
	struct para pa;
	char *line = NULL;
	size_t linecap = 0;
	int rc = 0;

	memset(&pa, 0, sizeof(pa));
	while (rc == 0 && getline(&line, &linecap, f) >= 0) {
		if (line[0] == '\n' || line[0] == '\r') {
			rc = add(rd, &pa);
			memset(&pa, 0, sizeof(pa));
			continue;
		}
		field(pa.pkg, sizeof(pa.pkg), line, "Package:");
		field(pa.arch, sizeof(pa.arch), line, "Architecture:");
		field(pa.ver, sizeof(pa.ver), line, "Version:");
		field(pa.status, sizeof(pa.status), line, "Status:");
	}
	if (rc == 0)
		rc = add(rd, &pa);
	free(line);
	return rc;
}

static int read_path(struct reader *rd, const char *path, int must_exist, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int rc;

	if (f == NULL) {
		if (!must_exist && errno == ENOENT)
			return 0;   /* folded in between listing and reading */
		return cr_err_fail(err, errlen, "cannot read %s: %s", path, strerror(errno));
	}
	rc = read_stream(rd, f);
	fclose(f);
	if (rc < 0)
		return cr_err_fail(err, errlen, "cannot hold the dpkg status of %s (too large)", path);
	return 0;
}

/* ---- the updates journal ------------------------------------------------ */

static int all_digits(const char *s)
{
	size_t n = strspn(s, "0123456789");
	return n > 0 && n <= 10 && s[n] == '\0';
}

static int by_number(const void *a, const void *b)
{
	unsigned long x = strtoul(*(char *const *)a, NULL, 10), y = strtoul(*(char *const *)b, NULL, 10);
	return x < y ? -1 : x > y;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The journal's entries in dpkg's order (dpkg names them 0000, 0001, ...;
 * "tmp.i" is its scratch file).  -1 when it cannot be listed. */
static int list_updates(const char *dir, char ***out, size_t *n)
{
	char **names = NULL;
	size_t cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	*out = NULL;
	*n = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL && *n < UPDATES_MAX) {
		if (!all_digits(de->d_name))
			continue;
		if (*n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof(*nn));
			if (nn == NULL)
				break;
			names = nn;
			cap = cap ? cap * 2 : 16;
		}
		if ((names[*n] = strdup(de->d_name)) == NULL)
			break;
		(*n)++;
	}
	closedir(d);
	if (*n > 0)
		qsort(names, *n, sizeof(*names), by_number);
	*out = names;
	return 0;
}

static int dpkg_path(char *buf, size_t len, const char *root, const char *rel)
{
	return snprintf(buf, len, "%s/var/lib/dpkg/%s", strcmp(root, "/") ? root : "", rel) < (int)len;
}

int priv_dpkg_updates_pending(const char *root)
{
	char dir[PATH_MAX], **names;
	size_t n;

	if (!dpkg_path(dir, sizeof(dir), root, "updates") || list_updates(dir, &names, &n) < 0)
		return 0;
	free_names(names, n);
	return n > 0;
}

/* ---- the snapshot ------------------------------------------------------- */

static int by_name_then_order(const void *a, const void *b)
{
	const struct dpkg_pkg *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

/* Sorted by name, and only the last word dpkg wrote about each package. */
static void settle(struct dpkg_snap *s)
{
	size_t out = 0;

	if (s->n == 0)
		return;
	qsort(s->p, s->n, sizeof(s->p[0]), by_name_then_order);
	for (size_t i = 0; i < s->n; i++) {
		if (i + 1 < s->n && strcmp(s->p[i].name, s->p[i + 1].name) == 0)
			continue;
		s->p[out++] = s->p[i];
	}
	s->n = out;
}

static void snap_init(struct dpkg_snap *s, struct reader *rd, const char *native_arch)
{
	memset(s, 0, sizeof(*s));
	memset(rd, 0, sizeof(*rd));
	rd->s = s;
	cr_copy_str(s->native, sizeof(s->native), native_arch);
}

int priv_dpkg_snap_read_file(const char *path, const char *native_arch, struct dpkg_snap *s, char *err, size_t errlen)
{
	struct reader rd;

	snap_init(s, &rd, native_arch);
	if (read_path(&rd, path, 1, err, errlen) < 0) {
		priv_dpkg_snap_free(s);
		return -1;
	}
	settle(s);
	return 0;
}

int priv_dpkg_snap_read(const char *root, const char *native_arch, struct dpkg_snap *s, char *err, size_t errlen)
{
	char path[PATH_MAX], dir[PATH_MAX], **names = NULL;
	struct reader rd;
	size_t n = 0;
	int rc;

	snap_init(s, &rd, native_arch);
	if (!dpkg_path(path, sizeof(path), root, "status") || !dpkg_path(dir, sizeof(dir), root, "updates"))
		return cr_err_fail(err, errlen, "host root path too long");
	if (list_updates(dir, &names, &n) < 0)
		return cr_err_fail(err, errlen, "cannot list %s: %s", dir, strerror(errno));
	rc = read_path(&rd, path, 1, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char entry[PATH_MAX + 16];
		snprintf(entry, sizeof(entry), "%s/%s", dir, names[i]);
		rc = read_path(&rd, entry, 0, err, errlen);
	}
	free_names(names, n);
	if (rc < 0) {
		priv_dpkg_snap_free(s);
		return -1;
	}
	settle(s);
	return 0;
}

/* ---- the copy ------------------------------------------------------------ */

static int copy_file(const char *path, int fd, int must_exist)
{
	char buf[65536];
	ssize_t r;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return !must_exist && errno == ENOENT ? 0 : -1;
	while ((r = (ssize_t)fread(buf, 1, sizeof(buf), f)) > 0)
		if (cr_fd_write_all(fd, buf, (size_t)r) < 0) {
			int e = errno;
			fclose(f);
			errno = e;
			return -1;
		}
	r = ferror(f) ? -1 : 0;
	fclose(f);
	if (r < 0)
		errno = EIO;
	return (int)r;
}

int priv_dpkg_status_dump(const char *root, int fd)
{
	char path[PATH_MAX], dir[PATH_MAX], **names = NULL;
	size_t n = 0;
	int rc;

	if (!dpkg_path(path, sizeof(path), root, "status") || !dpkg_path(dir, sizeof(dir), root, "updates"))
		return errno = ENAMETOOLONG, -1;
	if (list_updates(dir, &names, &n) < 0)
		return -1;
	rc = copy_file(path, fd, 1);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char entry[PATH_MAX + 16];
		snprintf(entry, sizeof(entry), "%s/%s", dir, names[i]);
		/* A blank line first (whether or not the last one ended its
		 * line): each entry is a paragraph of its own. */
		rc = cr_fd_write_all(fd, "\n\n", 2) < 0 ? -1 : copy_file(entry, fd, 0);
	}
	free_names(names, n);
	return rc;
}

/* ---- questions ------------------------------------------------------------ */

void priv_dpkg_snap_free(struct dpkg_snap *s)
{
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

static const struct dpkg_pkg *find_exact(const struct dpkg_snap *s, const char *name)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->p[mid].name, name);
		if (c == 0)
			return &s->p[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct dpkg_pkg *priv_dpkg_snap_find(const struct dpkg_snap *s, const char *name)
{
	size_t len = strcspn(name, ":");
	const struct dpkg_pkg *p = find_exact(s, name);
	char bare[APTSHIM_NAME_MAX];

	/* "name:native" (and name:all) is stored as "name" */
	if (p != NULL || name[len] != ':' || len >= sizeof(bare))
		return p;
	if (strcmp(name + len + 1, s->native) != 0 && strcmp(name + len + 1, "all") != 0)
		return NULL;
	memcpy(bare, name, len);
	bare[len] = '\0';
	return find_exact(s, bare);
}

int priv_dpkg_present(const struct dpkg_pkg *p)
{
	return p != NULL && strcmp(p->state, "not-installed") != 0 && strcmp(p->state, "config-files") != 0;
}

int priv_dpkg_broken(const struct dpkg_pkg *p)
{
	return p != NULL && (p->reinstreq || (priv_dpkg_present(p) && strcmp(p->state, "installed") != 0));
}

int priv_dpkg_snap_clean(const struct dpkg_snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (priv_dpkg_broken(&s->p[i]))
			return 0;
	return 1;
}

void priv_dpkg_describe(const struct dpkg_pkg *p, char *out, size_t len)
{
	if (!priv_dpkg_broken(p))
		snprintf(out, len, "%s", "");
	else if (!strcmp(p->state, "installed") || !priv_dpkg_present(p))
		snprintf(out, len, "%s is %s but flagged reinstreq (dpkg must reinstall it)", p->name, p->state);
	else
		snprintf(out, len, "%s is %s%s", p->name, p->state, p->reinstreq ? " (reinstreq)" : "");
}
