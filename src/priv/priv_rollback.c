/* Putting a host back: repairing a dpkg run that was interrupted before new
 * work starts, and undoing a transaction that failed (DESIGN §7). */
#include "config.h"
#include "priv.h"
#include "priv_change.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"

#define DPKG_PATH "/usr/bin/dpkg"

/* dpkg journals each step in var/lib/dpkg/updates until it is done: files
 * there mean a run was cut short. */
static int journal_pending(const char *root)
{
	char dir[PATH_MAX];
	struct dirent *de;
	int pending = 0;
	DIR *d;

	if (!priv_root_path(dir, sizeof(dir), root, "var/lib/dpkg/updates") || (d = opendir(dir)) == NULL)
		return 0;
	while (!pending && (de = readdir(d)) != NULL)
		pending = de->d_name[0] != '.';
	closedir(d);
	return pending;
}

/* A fixed argv: nothing in it comes from net (the root is priv's own). */
static int run_dpkg_configure(const char *root)
{
	char rootopt[PATH_MAX + 8];
	const char *argv[10];
	int n = 0, status = 0;
	pid_t pid;

	argv[n++] = DPKG_PATH;
	if (strcmp(root, "/") != 0) {
		snprintf(rootopt, sizeof(rootopt), "--root=%s", root);
		argv[n++] = rootopt;
		argv[n++] = "--force-script-chrootless";
	}
	argv[n++] = "--force-confdef";
	argv[n++] = "--force-confold";
	argv[n++] = "--configure";
	argv[n++] = "-a";
	argv[n] = NULL;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null >= 0)
			dup2(null, 0);
		setenv("DEBIAN_FRONTEND", "noninteractive", 1);
		setenv("LC_ALL", "C", 1);
		execv(DPKG_PATH, (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int change_repair(struct change_ctx *c, json_t *d)
{
	struct dpkg_snap s;
	int half = 0;

	if (change_snap(c, &s) < 0)
		return -1;
	for (size_t i = 0; i < s.n; i++)
		half |= !strcmp(s.p[i].state, "half-configured") || !strcmp(s.p[i].state, "unpacked") ||
			!strncmp(s.p[i].state, "triggers-", 9);
	dpkg_snap_free(&s);
	if (!half && !journal_pending(c->p->root))
		return 0;
	info_f("an earlier dpkg run was interrupted: running dpkg --configure -a");
	int rc = run_dpkg_configure(c->p->root);
	json_object_set_new(d, "repaired", json_pack("{s:s, s:b}", "ran", "dpkg --configure -a", "ok", rc == 0));
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err),
			 "an earlier dpkg run was interrupted and 'dpkg --configure -a' did not repair it; "
			 "look at the host's dpkg log");
		return -1;
	}
	return 0;
}

/* What to undo: purge what is new, put back what was replaced. */
static size_t undo_items(const struct dpkg_snap *before, const struct dpkg_snap *after, struct aptshim_item *items,
			 size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < after->n && n < cap; i++) {
		const struct dpkg_pkg *a = &after->p[i], *b = dpkg_snap_find(before, a->name);
		if (dpkg_present(a) && !dpkg_present(b)) {
			memset(&items[n], 0, sizeof(items[n]));
			snprintf(items[n].name, sizeof(items[n].name), "%s", a->name);
			items[n++].remove = 1;
		}
	}
	for (size_t i = 0; i < before->n && n < cap; i++) {
		const struct dpkg_pkg *b = &before->p[i], *a = dpkg_snap_find(after, b->name);
		if (dpkg_present(b) && (!dpkg_present(a) || dpkg_broken(a) || strcmp(a->version, b->version) != 0)) {
			memset(&items[n], 0, sizeof(items[n]));
			snprintf(items[n].name, sizeof(items[n].name), "%s", b->name);
			snprintf(items[n].version, sizeof(items[n].version), "%s", b->version);
			n++;
		}
	}
	return n;
}

static json_t *undo_report(const struct dpkg_snap *before, const struct dpkg_snap *final, const struct aptshim_item *items,
			   size_t n, int *ok)
{
	json_t *removed = json_array(), *restored = json_object();

	*ok = dpkg_snap_clean(final);
	for (size_t i = 0; i < n; i++) {
		const struct dpkg_pkg *f = dpkg_snap_find(final, items[i].name), *b = dpkg_snap_find(before, items[i].name);
		int back = items[i].remove ? !dpkg_present(f) : dpkg_present(f) && !strcmp(f->version, b->version);
		if (back && items[i].remove)
			json_array_append_new(removed, json_string(items[i].name));
		else if (back)
			json_object_set_new(restored, items[i].name, json_string(items[i].version));
		*ok &= back;
	}
	return json_pack("{s:o, s:o}", "removed", removed, "restored", restored);
}

json_t *change_rollback(struct change_ctx *c, const struct dpkg_snap *before)
{
	struct dpkg_snap after, final;
	struct aptshim_change_res res;
	struct aptshim_item *items;
	char err[1024] = "";
	size_t n;
	int ok = 0;

	json_t *repair = json_object();
	change_repair(c, repair);   /* apt will not start on an interrupted dpkg */
	json_decref(repair);
	if (change_snap(c, &after) < 0)
		return json_pack("{s:[], s:{}, s:b, s:s}", "removed", "restored", "ok", 0, "error", c->err);
	items = calloc(after.n + before->n + 1, sizeof(*items));
	n = items ? undo_items(before, &after, items, after.n + before->n) : 0;
	struct aptshim_change_req q = { .op = APTSHIM_RESTORE, .items = items, .nitems = n,
					.lock_timeout_s = c->p->lock_timeout_s };
	int rc = n == 0 ? 0 : aptshim_change(&q, &res, err, sizeof(err));
	if (n > 0)
		aptshim_change_res_free(&res);
	json_t *rep = NULL;
	if (change_snap(c, &final) == 0) {
		rep = undo_report(before, &final, items, n, &ok);
		dpkg_snap_free(&final);
	}
	if (rep == NULL)
		rep = json_pack("{s:[], s:{}}", "removed", "restored");
	json_object_set_new(rep, "ok", json_boolean(ok && rc == 0));
	json_object_set_new(rep, "error", rc < 0 ? json_string(err) : json_null());
	info_f("rollback %s (%zu package(s))", ok && rc == 0 ? "done" : "incomplete", n);
	free(items);
	dpkg_snap_free(&after);
	return rep;
}
