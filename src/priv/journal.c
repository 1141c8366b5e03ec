/* The change journal's files (journal.h).  Everything is reached through
 * directory descriptors opened without following symlinks, and every name
 * is a validated task id plus a fixed suffix: nothing from net becomes a
 * path. */
#include "config.h"
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dpkg_status.h"
#include "log.h"
#include "names.h"
#include "priv_file.h"

/* ---- the directories ------------------------------------------------------ */

/* A directory of root's alone: a symlink, another owner or write access for
 * others would let someone else plant the answers of changes. */
static int open_private_dir(int at, const char *name, const char *shown, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return cr_err_fail(err, errlen, "cannot create %s: %s", shown, strerror(errno));
	if ((fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return cr_err_fail(err, errlen, "cannot open %s: %s", shown, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022) != 0) {
		close(fd);
		return cr_err_fail(err, errlen, "%s must be a directory of root's that no one else can write to", shown);
	}
	return fd;
}

int priv_journal_open(struct journal *j, const char *root, char *err, size_t errlen)
{
	char state[PATH_MAX];
	int rootfd;

	memset(j, 0, sizeof(*j));
	j->statefd = j->dirfd = -1;
	if (snprintf(state, sizeof(state), "%s/%s", strcmp(root, "/") ? root : "", JOURNAL_STATE_DIR) >=
		    (int)sizeof(state) ||
	    snprintf(j->dir, sizeof(j->dir), "%s/changes", state) >= (int)sizeof(j->dir))
		return cr_err_fail(err, errlen, "host root path too long");
	/* var/lib belongs to the host root (sandboxes have it too). */
	*strrchr(state, '/') = '\0';
	if ((rootfd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return cr_err_fail(err, errlen, "cannot open %s: %s", state, strerror(errno));
	strcat(state, "/celeryroot");
	j->statefd = open_private_dir(rootfd, "celeryroot", state, err, errlen);
	close(rootfd);
	if (j->statefd < 0)
		return -1;
	if ((j->dirfd = open_private_dir(j->statefd, "changes", j->dir, err, errlen)) < 0) {
		priv_journal_close(j);
		return -1;
	}
	return 0;
}

void priv_journal_close(struct journal *j)
{
	if (j->dirfd >= 0)
		close(j->dirfd);
	if (j->statefd >= 0)
		close(j->statefd);
	j->dirfd = j->statefd = -1;
}

/* ---- writing whole files ----------------------------------------------------- */

static int io_fail(const struct journal *j, int e, const char *what, char *err, size_t errlen)
{
	if (e == ENOSPC || e == EDQUOT)
		return cr_err_fail(err, errlen, "no space left for the change journal under %s (%s)", j->dir, what);
	return cr_err_fail(err, errlen, "cannot write the change journal under %s (%s): %s", j->dir, what, strerror(e));
}

/* Written whole (priv_file.c): after a power cut name is the old file or
 * the new one, never a torn one. */
static int write_whole(struct journal *j, const char *name, priv_fill_fn fill, const void *arg, char *err,
		       size_t errlen)
{
	int e = priv_file_replace(j->dirfd, name, 0600, fill, arg);

	return e == 0 ? 0 : io_fail(j, e, name, err, errlen);
}

struct text {
	const char *s;
	size_t len;
};

static int fill_text(int fd, const void *arg)
{
	const struct text *t = arg;
	return cr_fd_write_all(fd, t->s, t->len);
}

static int fill_status(int fd, const void *arg)
{
	return priv_dpkg_status_dump(arg, fd);
}

static int entry_name(char *buf, size_t len, const char *task, const char *suffix)
{
	return cr_valid_task_id(task) && snprintf(buf, len, "%s%s", task, suffix) < (int)len;
}

int priv_journal_store(struct journal *j, const struct journal_entry *e, char *err, size_t errlen)
{
	char name[NAME_MAX + 1];
	struct text t;
	char *text;
	int rc;

	if (!entry_name(name, sizeof(name), e->task, ".json"))
		return cr_err_fail(err, errlen, "invalid task id for the change journal");
	if ((text = priv_journal_encode(e, &t.len)) == NULL)
		return cr_err_fail(err, errlen, "cannot encode the change journal entry of task %s", e->task);
	if (t.len > JOURNAL_MAX_BYTES) {
		free(text);
		return cr_err_fail(err, errlen, "the change journal entry of task %s is too large", e->task);
	}
	t.s = text;
	rc = write_whole(j, name, fill_text, &t, err, errlen);
	free(text);
	return rc;
}

int priv_journal_save_status(struct journal *j, const char *task, const char *root, char *err, size_t errlen)
{
	char name[NAME_MAX + 1];

	if (!entry_name(name, sizeof(name), task, ".status"))
		return cr_err_fail(err, errlen, "invalid task id for the change journal");
	return write_whole(j, name, fill_status, root, err, errlen);
}

int priv_journal_status_path(const struct journal *j, const char *task, char *buf, size_t len)
{
	return cr_valid_task_id(task) && snprintf(buf, len, "%s/%s.status", j->dir, task) < (int)len;
}

void priv_journal_drop_status(struct journal *j, const char *task)
{
	char name[NAME_MAX + 1];

	if (entry_name(name, sizeof(name), task, ".status") && unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT)
		error_f("cannot remove %s/%s: %s", j->dir, name, strerror(errno));
}

/* ---- reading -------------------------------------------------------------------- */

int priv_journal_load(struct journal *j, const char *task, struct journal_entry *e, char *err, size_t errlen)
{
	char name[NAME_MAX + 1], why[256];
	size_t len = 0;
	char *buf;
	int fd, rc;

	memset(e, 0, sizeof(*e));
	if (!entry_name(name, sizeof(name), task, ".json"))
		return cr_err_fail(err, errlen, "invalid task id for the change journal");
	if ((fd = openat(j->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return cr_err_fail(err, errlen, "cannot read %s/%s: %s", j->dir, name, strerror(errno));
	}
	buf = priv_file_read(fd, JOURNAL_MAX_BYTES, &len);
	close(fd);
	rc = buf ? priv_journal_decode(buf, len, task, e, why, sizeof(why)) : -1;
	free(buf);
	if (rc < 0) {
		/* Only priv writes here: this is a damaged disk, not an attack.
		 * The task runs as if for the first time, and says so in the log. */
		error_f("%s/%s is unreadable (%s); task %s runs as new", j->dir, name, buf ? why : "too large or not a file",
			task);
		return 0;
	}
	return 1;
}

/* ---- pruning ------------------------------------------------------------------- */

struct pentry {
	char stem[TASK_ID_MAX + 1];
	time_t mtime;
	int started;
};

static int by_mtime(const void *a, const void *b)
{
	const struct pentry *x = a, *y = b;
	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

static int has_suffix(const char *name, const char *suffix, char *stem, size_t len)
{
	size_t n = strlen(name), k = strlen(suffix);

	if (n <= k || strcmp(name + n - k, suffix) != 0 || n - k >= len)
		return 0;
	memcpy(stem, name, n - k);
	stem[n - k] = '\0';
	return cr_valid_task_id(stem);
}

static int drop(struct journal *j, const char *stem, const char *suffix)
{
	char name[NAME_MAX + 1];
	return entry_name(name, sizeof(name), stem, suffix) && unlinkat(j->dirfd, name, 0) == 0;
}

static int exists(struct journal *j, const char *stem, const char *suffix)
{
	char name[NAME_MAX + 1];
	struct stat st;
	return entry_name(name, sizeof(name), stem, suffix) && fstatat(j->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* One directory entry: crash leftovers go at once; an entry is kept in
 * list when it is young enough. */
static int prune_one(struct journal *j, const char *name, time_t now, long keep_s, struct pentry *list, size_t *n,
		     size_t cap)
{
	char stem[TASK_ID_MAX + 1];
	struct stat st;

	if (fstatat(j->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	size_t len = strlen(name);
	if ((len > 4 && strcmp(name + len - 4, ".tmp") == 0) ||
	    (has_suffix(name, ".status", stem, sizeof(stem)) && !exists(j, stem, ".json")))
		return unlinkat(j->dirfd, name, 0) == 0;
	if (!has_suffix(name, ".json", stem, sizeof(stem)))
		return 0;
	int started = exists(j, stem, ".status");
	if (now - st.st_mtime > keep_s)
		return drop(j, stem, ".json") + (started ? drop(j, stem, ".status") : 0);
	if (*n < cap) {
		snprintf(list[*n].stem, sizeof(list[*n].stem), "%s", stem);
		list[*n].mtime = st.st_mtime;
		list[(*n)++].started = started;
	}
	return 0;
}

int priv_journal_prune(struct journal *j, time_t now, long keep_s, int max_files)
{
	size_t n = 0, cap = (size_t)max_files * 4 + 64, kept;
	struct pentry *list = calloc(cap, sizeof(*list));
	struct dirent *de;
	int dupfd, removed = 0;
	DIR *d;

	if (list == NULL || (dupfd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(dupfd)) == NULL) {
		free(list);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			removed += prune_one(j, de->d_name, now, keep_s, list, &n, cap);
	closedir(d);
	/* Over the cap: the oldest finished entries go first; a started one
	 * waits for its task (or its 30 days). */
	qsort(list, n, sizeof(*list), by_mtime);
	kept = n;
	for (size_t i = 0; i < n && kept > (size_t)max_files; i++)
		if (!list[i].started && drop(j, list[i].stem, ".json")) {
			removed++;
			kept--;
		}
	free(list);
	return removed;
}
