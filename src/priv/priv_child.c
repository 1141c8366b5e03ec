/* The change child's life, from the fork in priv_jobs.c to its exit:
 *
 *   1. the change lock (state/change.lock, flock): a change child of an earlier
 *      priv that was killed may still be running its change; this one waits
 *      for it, so two changes never overlap;
 *   2. the change journal (journal.h) for this task id:
 *      finished  -> the task was delivered again after its first run
 *                   finished (net died, the pair was killed before the
 *                   answer went out): the same answer, "redelivered": true,
 *                   and no second audit line;
 *      started   -> the first run was cut short (power cut, kill of the
 *                   whole tree): the record is made against the "before"
 *                   the first run kept, and says "interrupted";
 *      none      -> a first run: "started" and a copy of dpkg's view
 *                   (before any repair) are written first.  No room for
 *                   them: the change is refused, never run unjournaled;
 *   3. the change (priv_change.c), the audit line, "finished" with the
 *      whole reply, and the reply.
 *
 * Check mode changes nothing: no lock, no journal. */
#include "config.h"
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "crerr.h"
#include "dpkg_status.h"
#include "journal.h"
#include "log.h"
#include "ops.h"
#include "pkgspec.h"
#include "proto.h"
#include "timeutil.h"

#define LOCK_POLL_NS 100000000L
#define LOCK_NOTE_EVERY_S 30

/* The change child: no signals of priv's, stdin from /dev/null (dpkg must never
 * wait for an answer), the C locale, and apt's non-interactive frontend. */
static void child_env(void)
{
	struct sigaction sa;
	sigset_t none;
	int null;

	memset(&sa, 0, sizeof(sa));
	/* A stop request finishes the change in hand: dpkg is never cut short. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
		dup2(null, 0);
		close(null);
	}
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	setenv("APT_LISTCHANGES_FRONTEND", "none", 1);
	setenv("LC_ALL", "C", 1);
}

static const char *outcome_of(json_t *d)
{
	return json_object_get(d, "error") ? "failed" : json_is_true(json_object_get(d, "changed")) ? "changed" : "unchanged";
}

/* The audit line and the reply, for an answer not kept in the journal. */
static void __attribute__((noreturn)) answer(struct priv_ctx *p, const struct proto_req *r, json_t *d)
{
	json_t *rec;

	if (d == NULL)
		_exit(3);
	rec = priv_audit_record(p, r, outcome_of(d), d);
	priv_audit_write(p, rec);
	json_object_set_new(d, "audit", rec);
	priv_answer(p, r, d);
	_exit(0);
}

static void __attribute__((noreturn)) refuse_to_start(struct priv_ctx *p, const struct proto_req *r, const char *why)
{
	error_f("apt %s for task %s not started: %s", r->op, r->task, why);
	answer(p, r, json_pack("{s:s, s:b, s:b, s:s, s:{}}", "operation", r->op, "check", 0, "changed", 0, "error", why,
			       "changes"));
}

/* ---- 1. the change lock ------------------------------------------------------ */

static long holder_pid(int fd)
{
	char buf[24] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = n > 0 ? strtol(buf, NULL, 10) : 0;

	return pid > 0 && pid < 0x7fffffff ? pid : 0;
}

/* Held until the change child exits (the kernel lets go of it then, however
 * the child ends).  flock, not fcntl: libapt-pkg's own fcntl locks on other
 * files in this process must not interfere with it. */
static int change_lock(struct priv_ctx *p, const struct proto_req *r, struct journal *j, char *err, size_t errlen)
{
	struct timespec pause = { 0, LOCK_POLL_NS };
	double noted = -LOCK_NOTE_EVERY_S;
	char pid[24], text[160];
	int fd = openat(j->statefd, "change.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return cr_err_fail(err, errlen, "cannot open the change lock under %s: %s", j->dir, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return cr_err_fail(err, errlen, "cannot take the change lock: %s", strerror(errno));
		}
		if (cr_now_mono() - noted >= LOCK_NOTE_EVERY_S) {
			snprintf(text, sizeof(text), "waiting for an earlier change (pid %ld) to finish", holder_pid(fd));
			info_f("task %s is %s", r->task, text);
			priv_progress(p, r->id, 0, "", text);
			noted = cr_now_mono();
		}
		nanosleep(&pause, NULL);
	}
	/* For the next one who waits: whom it waits for.  A full disk only
	 * costs that message. */
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
		debug_f("cannot note the pid in the change lock: %s", strerror(errno));
	return fd;
}

/* ---- 2. the journal ------------------------------------------------------------ */

static json_t *specs_json(const struct proto_req *r)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < r->npkgs; i++) {
		char spec[PKG_SPEC_MAX + 1];
		cr_pkgspec_format(&r->pkgs[i], spec, sizeof(spec));
		json_array_append_new(a, json_string(spec));
	}
	return a;
}

/* The same request as the one journaled (a task id names one request;
 * anything else is not this task's earlier run). */
static int same_request(const struct proto_req *r, const struct journal_entry *e)
{
	json_t *specs = specs_json(r);
	int same = !strcmp(e->op, r->op) && json_equal(specs, e->packages);

	json_decref(specs);
	return same;
}

/* dpkg's status is journaled before the change (ops.h CR_OP_PACKAGES). */
static int package_op(const struct proto_req *r)
{
	const struct cr_op *op = cr_op_by_req(r->type, r->op);
	return op != NULL && (op->flags & CR_OP_PACKAGES);
}

/* finished -> the first run's answer again.  Its audit line is written
 * only if the first run died between "finished" and the audit line. */
static void __attribute__((noreturn)) answer_again(struct priv_ctx *p, const struct proto_req *r, struct journal *j,
						   struct journal_entry *e)
{
	json_t *d = e->reply;
	char err[CR_ERR_MAX];

	info_f("task %s was delivered again: answering with what its run finished at %s did", r->task, e->finished);
	if (!e->audited) {
		json_t *rec = json_object_get(d, "audit");
		if (rec != NULL)
			priv_audit_write(p, rec);
		e->audited = 1;
		if (priv_journal_store(j, e, err, sizeof(err)) < 0)
			error_f("%s", err);
	}
	priv_journal_drop_status(j, r->task);
	json_object_set_new(d, "redelivered", json_true());
	json_object_set_new(d, "original_time", json_string(e->finished));
	priv_answer(p, r, json_incref(d));
	_exit(0);
}

static json_t *interrupted_json(const struct journal_entry *prev)
{
	return json_pack("{s:s, s:I, s:i}", "started", prev->started, "pid", (json_int_t)prev->pid, "attempt",
			 prev->attempt);
}

/* The "before" for the record: the copy the first run took. */
static int read_before(struct journal *j, const char *task, const char *native, struct dpkg_snap *before, char *err,
		       size_t errlen)
{
	char path[PATH_MAX];

	if (!priv_journal_status_path(j, task, path, sizeof(path)))
		return cr_err_fail(err, errlen, "journal path too long");
	return priv_dpkg_snap_read_file(path, native, before, err, errlen);
}

/* A first run: the copy of dpkg's view, then "started".  Resumed: the
 * first run's entry, one attempt more.  -1 with err: refuse the change. */
static int journal_start(struct priv_ctx *p, const struct proto_req *r, struct journal *j, struct journal_entry *e,
			 int resumed, char *err, size_t errlen)
{
	if (!resumed) {
		memset(e, 0, sizeof(*e));
		e->phase = JOURNAL_STARTED;
		cr_copy_str(e->task, sizeof(e->task), r->task);
		cr_copy_str(e->job, sizeof(e->job), r->job);
		cr_copy_str(e->op, sizeof(e->op), r->op);
		e->packages = specs_json(r);
		e->started_s = cr_now_wall();
		priv_journal_iso_time(e->started_s, e->started, sizeof(e->started));
		e->attempt = 1;
		if (package_op(r) && priv_journal_save_status(j, r->task, p->root, err, errlen) < 0)
			return -1;
	} else {
		e->attempt++;
	}
	e->pid = (long)getpid();
	if (priv_journal_store(j, e, err, errlen) < 0) {
		if (!resumed)
			priv_journal_drop_status(j, r->task);
		return -1;
	}
	return 0;
}

/* ---- 3. the change and its end ---------------------------------------------- */

/* "finished" with the whole reply, the audit line, "audited": a crash
 * between any two of them is answered from the journal without a second
 * audit line (answer_again). */
static void __attribute__((noreturn)) finish(struct priv_ctx *p, const struct proto_req *r, struct journal *j,
					     struct journal_entry *e, json_t *d)
{
	char err[CR_ERR_MAX];
	json_t *rec;

	if (d == NULL)
		_exit(3);
	rec = priv_audit_record(p, r, outcome_of(d), d);
	json_object_set_new(d, "audit", rec);
	e->phase = JOURNAL_FINISHED;
	priv_journal_iso_time(cr_now_wall(), e->finished, sizeof(e->finished));
	e->reply = json_incref(d);
	e->audited = 0;
	if (priv_journal_store(j, e, err, sizeof(err)) < 0)
		error_f("task %s: %s", r->task, err);
	priv_audit_write(p, rec);   /* adds seq and prev to rec, in d too */
	e->audited = 1;
	if (priv_journal_store(j, e, err, sizeof(err)) == 0)
		priv_journal_drop_status(j, r->task);
	priv_answer(p, r, d);
	_exit(0);
}

static void __attribute__((noreturn)) journaled(struct priv_ctx *p, const struct proto_req *r, struct journal *j,
						struct journal_entry *e, int resumed)
{
	struct dpkg_snap before = { 0 };
	struct change_start st = { 0 };
	char err[CR_ERR_MAX], native[33] = "";
	json_t *d;

	if (resumed) {
		st.interrupted = interrupted_json(e);
		info_f("task %s: its run of %s (pid %ld) was cut short; resuming it", r->task, e->started, e->pid);
	}
	if (journal_start(p, r, j, e, resumed, err, sizeof(err)) < 0)
		refuse_to_start(p, r, err);
	if (package_op(r) && priv_aptshim_init(p->root, err, sizeof(err)) == 0 &&
	    priv_aptshim_native_arch(native, sizeof(native)) == 0) {
		if (read_before(j, r->task, native, &before, err, sizeof(err)) == 0) {
			st.before = &before;
		} else {
			/* A damaged disk: the record's "before" is now, and says so. */
			error_f("task %s: %s", r->task, err);
			if (st.interrupted != NULL)
				json_object_set_new(st.interrupted, "before_lost", json_true());
		}
	}
	d = priv_change(p, r, &st);
	json_decref(st.interrupted);
	priv_dpkg_snap_free(&before);
	finish(p, r, j, e, d);
}

void priv_child_run(struct priv_ctx *p, const struct proto_req *r)
{
	struct journal_entry e;
	struct journal j;
	char err[CR_ERR_MAX];
	int found;

	child_env();
	if (r->check)
		answer(p, r, priv_change(p, r, NULL));
	if (priv_journal_open(&j, p->root, err, sizeof(err)) < 0 || change_lock(p, r, &j, err, sizeof(err)) < 0)
		refuse_to_start(p, r, err);
	priv_journal_prune(&j, time(NULL), JOURNAL_KEEP_S, JOURNAL_MAX_FILES);
	if ((found = priv_journal_load(&j, r->task, &e, err, sizeof(err))) < 0)
		refuse_to_start(p, r, err);
	if (found && !same_request(r, &e)) {
		snprintf(err, sizeof(err), "task %s already ran as another request (apt %s); refusing to run it as apt %s",
			 r->task, e.op, r->op);
		refuse_to_start(p, r, err);
	}
	if (found && e.phase == JOURNAL_FINISHED)
		answer_again(p, r, &j, &e);
	journaled(p, r, &j, &e, found);
}
