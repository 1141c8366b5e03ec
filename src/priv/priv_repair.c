/* Repairing what an interrupted dpkg run left behind, before new work starts
 * (DESIGN §7).  dpkg can be cut short in any of its states, and each needs
 * its own cure:
 *
 *   unpacked, half-configured,        dpkg --configure -a (it also folds in
 *   triggers-awaited/-pending,        the updates journal, without which apt
 *   a non-empty updates/ journal      refuses to start at all)
 *   half-installed, or the reinstreq  unpacked again through libapt-pkg at the
 *   flag ("install reinstreq ...")    version dpkg names (or the candidate) when
 *                                     an archive has it; otherwise, and for a
 *                                     removal that was cut short, removed with
 *                                     dpkg --remove --force-remove-reinstreq
 *
 * Every dpkg run here waits for dpkg's frontend lock up to lock_timeout, as
 * apt does, holds it while dpkg runs (DPKG_FRONTEND_LOCKED=1 tells dpkg), and
 * names the holder when it gives up.  Afterwards dpkg's view must be clean,
 * or the change fails saying what is still broken.  What the repair changed
 * goes into the record ("repaired": {"ran", "ok", "changes"}). */
#include "config.h"
#include "priv.h"
#include "priv_change.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pkgspec.h"
#include "proto.h"
#include "timeutil.h"

#define DPKG_PATH "/usr/bin/dpkg"
#define LOCK_POLL_NS 100000000L
#define DPKG_TAIL 2048

/* ---- dpkg's locks --------------------------------------------------------- */

static int lock_path(const struct change_ctx *c, const char *rel, char *buf, size_t len)
{
	return priv_root_path(buf, len, c->p->root, rel);
}

/* A write lock on the whole file, as dpkg and apt take it (fcntl, so that
 * dpkg's own F_GETLK sees who holds it).  The fd, or -1. */
static int try_lock(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd >= 0 && fcntl(fd, F_SETLK, &fl) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int unlocked(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY), rc;

	if (fd < 0)
		return errno == ENOENT;
	rc = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;
	close(fd);
	return rc;
}

/* Holds the frontend lock and sees the database lock free, waiting up to
 * lock_timeout for both.  The frontend lock's fd, or -1 with c->err naming
 * the holder. */
static int dpkg_lock(struct change_ctx *c)
{
	char front[PATH_MAX], inner[PATH_MAX], holder[512];
	struct timespec pause = { 0, LOCK_POLL_NS };
	double deadline = cr_now_mono() + c->p->lock_timeout_s, said = 0;
	int fd = -1;

	if (!lock_path(c, "var/lib/dpkg/lock-frontend", front, sizeof(front)) ||
	    !lock_path(c, "var/lib/dpkg/lock", inner, sizeof(inner)))
		return snprintf(c->err, sizeof(c->err), "host root path too long"), -1;
	for (;;) {
		if (fd < 0)
			fd = try_lock(front);
		if (fd >= 0 && unlocked(inner))
			return fd;
		if (cr_now_mono() >= deadline)
			break;
		if (cr_now_mono() - said >= 5 && priv_lock_holder(c->p->root, holder, sizeof(holder))) {
			char text[600];
			snprintf(text, sizeof(text), "waiting for the dpkg lock: %s", holder);
			priv_progress(c->p, c->r->id, 0, "", text);
			said = cr_now_mono();
		}
		nanosleep(&pause, NULL);
	}
	if (fd >= 0)
		close(fd);
	if (!priv_lock_holder(c->p->root, holder, sizeof(holder)))
		snprintf(holder, sizeof(holder), "%s", "the holder has let go since");
	snprintf(c->err, sizeof(c->err), "gave up waiting for the dpkg lock after %d s: %s (the repair of an interrupted "
		 "dpkg run needs it)", c->p->lock_timeout_s, holder);
	return -1;
}

/* ---- running dpkg ---------------------------------------------------------- */

static void dpkg_child(const char *const *argv, int out)
{
	struct sigaction sa;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);   /* priv ignores it; dpkg and its scripts must not */
	if (null >= 0)
		dup2(null, 0);
	dup2(out, 1);
	dup2(out, 2);
	setenv("DPKG_FRONTEND_LOCKED", "1", 1);   /* we hold it: see dpkg_lock */
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	setenv("LC_ALL", "C", 1);
	execv(DPKG_PATH, (char *const *)argv);
	_exit(127);
}

/* What dpkg said last, on one line: the reason when it failed. */
static void read_tail(int fd, char *tail, size_t len)
{
	char buf[DPKG_TAIL];
	size_t have = 0;
	ssize_t r;

	for (;;) {
		if (have == sizeof(buf)) {
			memmove(buf, buf + sizeof(buf) / 2, sizeof(buf) / 2);
			have = sizeof(buf) / 2;
		}
		r = read(fd, buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	while (have > 0 && (buf[have - 1] == '\n' || buf[have - 1] == ' '))
		have--;
	size_t from = have > len - 1 ? have - (len - 1) : 0;
	snprintf(tail, len, "%.*s", (int)(have - from), buf + from);
	for (char *p = tail; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

/* dpkg with a fixed argv (nothing in it comes from net: the root is priv's
 * own, the package names come from dpkg's own status and are checked), the
 * frontend lock held.  0 when dpkg succeeded, 1 when it failed (its last
 * words in tail), -1 when it could not run (c->err). */
static int run_dpkg(struct change_ctx *c, const char *const *args, char *tail, size_t tlen)
{
	char rootopt[PATH_MAX + 8], logopt[PATH_MAX + 32];
	const char *argv[16];
	int n = 0, status = 0, pipefd[2], lockfd;
	pid_t pid;

	argv[n++] = DPKG_PATH;
	if (strcmp(c->p->root, "/") != 0) {
		snprintf(rootopt, sizeof(rootopt), "--root=%s", c->p->root);
		snprintf(logopt, sizeof(logopt), "--log=%s/var/log/dpkg.log", c->p->root);
		argv[n++] = rootopt;
		argv[n++] = "--force-script-chrootless";
		argv[n++] = logopt;
	}
	argv[n++] = "--force-confdef";
	argv[n++] = "--force-confold";
	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	tail[0] = '\0';
	if ((lockfd = dpkg_lock(c)) < 0)
		return -1;
	if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		snprintf(c->err, sizeof(c->err), "cannot run dpkg: %s", strerror(errno));
		close(lockfd);
		return -1;
	}
	if (pid == 0)
		dpkg_child(argv, pipefd[1]);
	close(pipefd[1]);
	read_tail(pipefd[0], tail, tlen);
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	close(lockfd);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* ---- the repair -------------------------------------------------------------- */

static int configurable(const struct dpkg_pkg *p)
{
	return !strcmp(p->state, "unpacked") || !strcmp(p->state, "half-configured") ||
	       !strncmp(p->state, "triggers-", 9);
}

static int needs_unpack(const struct dpkg_pkg *p)
{
	return p->reinstreq || !strcmp(p->state, "half-installed");
}

static int needs_configure(struct change_ctx *c, const struct dpkg_snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (configurable(&s->p[i]) && !needs_unpack(&s->p[i]))
			return 1;
	return priv_dpkg_updates_pending(c->p->root);
}

struct repair {
	json_t *ran;                /* what was run, in order */
	int unpacked;               /* packages unpacked again or removed */
	char last[600];             /* dpkg's last words when a step failed */
};

static void ran(struct repair *rp, const char *what, int rc, const char *tail)
{
	char line[800];

	snprintf(line, sizeof(line), "%s%s", what, rc == 0 ? "" : " (failed)");
	json_array_append_new(rp->ran, json_string(line));
	if (rc != 0 && tail[0])
		snprintf(rp->last, sizeof(rp->last), "%s: %s", what, tail);
}

static int configure_all(struct change_ctx *c, struct repair *rp)
{
	static const char *const args[] = { "--configure", "-a", NULL };
	char tail[400];
	int rc = run_dpkg(c, args, tail, sizeof(tail));

	if (rc >= 0)
		ran(rp, "dpkg --configure -a", rc, tail);
	return rc < 0 ? -1 : 0;
}

/* No archive has it, or the removal itself was cut short: dpkg removes it
 * (purges, when that was the selection). */
static int force_remove(struct change_ctx *c, struct repair *rp, const struct dpkg_pkg *p)
{
	const char *mode = !strcmp(p->want, "purge") ? "--purge" : "--remove";
	const char *args[] = { mode, "--force-remove-reinstreq", p->name, NULL };
	struct pkgspec spec;
	char tail[400], what[300];
	int rc;

	/* dpkg's status is the host's file: the name is still checked against
	 * Debian policy before it becomes an argument. */
	if (cr_pkgspec_parse(p->name, &spec, NULL, 0) < 0 || spec.version[0])
		return snprintf(c->err, sizeof(c->err), "dpkg's status names a package priv will not pass on"), -1;
	if ((rc = run_dpkg(c, args, tail, sizeof(tail))) < 0)
		return -1;
	snprintf(what, sizeof(what), "dpkg %s --force-remove-reinstreq %s", mode, p->name);
	ran(rp, what, rc, tail);
	return 0;
}

/* The packages to unpack again, as items for libapt-pkg; those no archive
 * has (and removals cut short) are removed by dpkg first. */
static int unpack_again(struct change_ctx *c, struct repair *rp, const struct dpkg_snap *s)
{
	struct aptshim_item *items = calloc(s->n + 1, sizeof(*items));
	struct aptshim_change_res res;
	size_t n = 0;
	int rc = 0;

	if (items == NULL)
		return snprintf(c->err, sizeof(c->err), "out of memory"), -1;
	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		const struct dpkg_pkg *p = &s->p[i];
		int has = 0;
		if (!needs_unpack(p))
			continue;
		if (strcmp(p->want, "deinstall") != 0 && strcmp(p->want, "purge") != 0 &&
		    (has = priv_aptshim_reinstall_version(p->name, p->version, items[n].version, sizeof(items[n].version),
						     c->err, sizeof(c->err))) < 0) {
			rc = -1;
		} else if (has) {
			snprintf(items[n++].name, sizeof(items[0].name), "%s", p->name);
		} else {
			rc = force_remove(c, rp, p);
			rp->unpacked++;
		}
	}
	if (rc == 0 && n > 0) {
		struct aptshim_change_req q = { .op = APTSHIM_REINSTALL, .items = items, .nitems = n,
						.lock_timeout_s = c->p->lock_timeout_s,
						.progress = priv_change_on_progress, .ctx = c };
		int arc = priv_aptshim_change(&q, &res, c->err, sizeof(c->err));
		rp->unpacked += (int)n;
		for (size_t i = 0; i < n; i++) {
			char what[400];
			snprintf(what, sizeof(what), "reinstall %s %s (libapt-pkg)", items[i].name, items[i].version);
			ran(rp, what, arc, arc < 0 ? c->err : "");
		}
		priv_aptshim_change_res_free(&res);
		/* Not reaching dpkg at all (the lock, above all) ends the repair. */
		rc = arc < 0 && !res.dpkg_ran ? -1 : 0;
	}
	free(items);
	return rc;
}

static int repair_steps(struct change_ctx *c, struct repair *rp)
{
	struct dpkg_snap s;
	int rc;

	if (priv_change_snap(c, &s) < 0)
		return -1;
	rc = needs_configure(c, &s) ? configure_all(c, rp) : 0;
	priv_dpkg_snap_free(&s);
	if (rc < 0 || priv_change_snap(c, &s) < 0)
		return -1;
	rc = unpack_again(c, rp, &s);
	priv_dpkg_snap_free(&s);
	if (rc < 0 || priv_change_snap(c, &s) < 0)
		return -1;
	/* What waited for a package that is whole again can be configured now. */
	rc = rp->unpacked > 0 && needs_configure(c, &s) ? configure_all(c, rp) : 0;
	priv_dpkg_snap_free(&s);
	return rc;
}

/* "ct-a is half-installed (reinstreq); ct-b is unpacked" */
static void describe_all(const struct dpkg_snap *s, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->n && used < len; i++) {
		char one[400];
		priv_dpkg_describe(&s->p[i], one, sizeof(one));
		if (one[0])
			used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "; " : "", one);
	}
}

static int repaired(struct change_ctx *c, const struct dpkg_snap *first, struct repair *rp, int rc, json_t *d)
{
	struct dpkg_snap now;
	char broken[600] = "";
	json_t *changes = NULL;
	int ok = 0;

	/* What it changed counts even when it stopped halfway (the lock). */
	if (priv_change_snap(c, &now) == 0) {
		changes = priv_change_diff(first, &now);
		if (rc == 0) {
			ok = priv_dpkg_snap_clean(&now) && !priv_dpkg_updates_pending(c->p->root);
			describe_all(&now, broken, sizeof(broken));
		}
		priv_dpkg_snap_free(&now);
		if (rc == 0 && !ok)
			snprintf(c->err, sizeof(c->err), "an earlier dpkg run was interrupted and the repair did not finish "
				 "it: %s%s%s", broken[0] ? broken : "dpkg's updates journal is still pending",
				 rp->last[0] ? "; " : "", rp->last);
	}
	json_object_set_new(d, "repaired", json_pack("{s:o, s:b, s:o}", "ran", rp->ran, "ok", ok, "changes",
						     changes ? changes : json_object()));
	info_f("repair of an interrupted dpkg run %s", ok ? "done" : "failed");
	return ok ? 0 : -1;
}

int priv_change_repair(struct change_ctx *c, json_t *d)
{
	struct repair rp = { .ran = json_array() };
	struct dpkg_snap first;
	char broken[600];
	int rc;

	if (priv_change_snap(c, &first) < 0) {
		json_decref(rp.ran);
		return -1;
	}
	if (priv_dpkg_snap_clean(&first) && !priv_dpkg_updates_pending(c->p->root)) {
		priv_dpkg_snap_free(&first);
		json_decref(rp.ran);
		return 0;
	}
	describe_all(&first, broken, sizeof(broken));
	info_f("an earlier dpkg run was interrupted (%s): repairing it", broken[0] ? broken : "journal pending");
	priv_progress(c->p, c->r->id, 0, "", "repairing an interrupted dpkg run");
	rc = repair_steps(c, &rp);
	rc = repaired(c, &first, &rp, rc, d);
	priv_dpkg_snap_free(&first);
	return rc;
}
