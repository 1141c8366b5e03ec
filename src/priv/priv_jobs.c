/* Changes run one at a time, each in a change child forked from priv
 * (priv_child.c): the change child holds the locks and runs dpkg, while priv
 * itself goes on answering queries from its read-only cache.  A change that
 * arrives while another is running waits here, in order (changes are
 * serialised per host).
 *
 * The change child and dpkg belong to priv's lifetime: priv is their subreaper
 * (priv_serve), so that a dpkg whose change child died is adopted by priv rather
 * than by init; no new change starts while such an orphan still runs; and
 * priv does not exit before every one of them has finished.  Nothing here
 * ever kills dpkg. */
#include "config.h"
#include "crerr.h"
#include "priv.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"

#define CHILDREN_MAX 256

int priv_jobs_busy(const struct priv_ctx *p)
{
	return p->change_child > 0 || p->nqueue > 0 || p->change_req != NULL;
}

/* priv's children but net and the change child: what it adopted as the subreaper
 * (a dpkg or maintainer script whose change child died).  Zombies are reaped;
 * returns how many are still running. */
static int adopted(struct priv_ctx *p, int wait_for_them)
{
	char path[64], buf[CHILDREN_MAX * 12];
	int running = 0, status;
	ssize_t n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)getpid(), (long)getpid());
	if ((f = fopen(path, "re")) != NULL) {
		n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n > 0 ? n : 0] = '\0';
	for (char *tok = strtok(buf, " \n"); tok != NULL; tok = strtok(NULL, " \n")) {
		pid_t pid = (pid_t)strtol(tok, NULL, 10);
		if (pid <= 0 || pid == p->net_pid || pid == p->change_child)
			continue;
		if (wait_for_them)
			info_f("waiting for process %ld, left behind by a change child, to finish", (long)pid);
		pid_t got;
		while ((got = waitpid(pid, &status, wait_for_them ? 0 : WNOHANG)) < 0 && errno == EINTR)
			;
		running += got == 0;
	}
	return running;
}

static void start_next(struct priv_ctx *p)
{
	struct proto_req *r;
	pid_t pid;

	/* An orphaned dpkg still runs: the next change waits for it (SIGCHLD
	 * brings priv back here when it ends). */
	if (p->change_child > 0 || (p->nqueue == 0 && p->change_req == NULL) || adopted(p, 0) > 0)
		return;
	if (p->change_req != NULL) {
		r = p->change_req;   /* a change child that was killed: its change once more */
	} else {
		r = p->queue[0];
		memmove(&p->queue[0], &p->queue[1], (p->nqueue - 1) * sizeof(p->queue[0]));
		p->nqueue--;
		p->change_resumed = 0;
	}
	pid = fork();
	if (pid == 0)
		priv_child_run(p, r);   /* never returns */
	if (pid < 0) {
		error_f("cannot start the change child: %s", strerror(errno));
		priv_answer(p, r, json_pack("{s:s}", "error", "priv could not start a change child (fork failed)"));
		free(r);
		p->change_req = NULL;
		start_next(p);
		return;
	}
	p->change_child = pid;
	p->change_req = r;
	info_f("apt %s for task %s: change child %ld", r->op, r->task, (long)pid);
}

int priv_jobs_submit(struct priv_ctx *p, const struct proto_req *r, char *err, size_t errlen)
{
	struct proto_req *copy;

	if (p->nqueue >= PRIV_QUEUE_MAX) {
		snprintf(err, errlen, "too many changes waiting on this host (%d)", PRIV_QUEUE_MAX);
		return -1;
	}
	if ((copy = malloc(sizeof(*copy))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*copy = *r;
	p->queue[p->nqueue++] = copy;
	start_next(p);
	return 0;
}

/* The change child ended.  It answers, then exits 0; one killed by a signal
 * (someone's kill, the OOM killer) never answered, and what it started may
 * still run (adopted here): its change runs once more after that has ended,
 * and finds its own journal entry, so that the one answer says what really
 * happened.  A second death is answered as a failure. */
static void child_ended(struct priv_ctx *p, int status)
{
	struct proto_req *r = p->change_req;
	char why[CR_ERR_MAX];

	p->change_child = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		free(r);
		p->change_req = NULL;
		return;
	}
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "the change child was killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "the change child failed (exit %d)", WEXITSTATUS(status));
	if (WIFSIGNALED(status) && !p->change_resumed) {
		error_f("task %s: %s; its change runs again once what it started has finished", r->task, why);
		p->change_resumed = 1;
		return;   /* start_next takes p->change_req again */
	}
	error_f("task %s: %s", r->task, why);
	priv_answer(p, r, json_pack("{s:s, s:b}", "error", why, "changed", 0));
	free(r);
	p->change_req = NULL;
}

void priv_jobs_reap(struct priv_ctx *p)
{
	int status;

	/* Only the change child and what priv adopted: net is priv's child too, and
	 * its end is run_priv's. */
	if (p->change_child > 0 && waitpid(p->change_child, &status, WNOHANG) == p->change_child)
		child_ended(p, status);
	start_next(p);
}

void priv_jobs_finish(struct priv_ctx *p)
{
	int status;

	for (size_t i = 0; i < p->nqueue; i++)
		free(p->queue[i]);
	if (p->nqueue > 0)
		info_f("%zu change(s) not started are left to be delivered again", p->nqueue);
	p->nqueue = 0;
	if (p->change_child > 0) {
		info_f("waiting for the change of task %s (change child %ld) to finish before stopping", p->change_req->task,
		       (long)p->change_child);
		while (waitpid(p->change_child, &status, 0) < 0 && errno == EINTR)
			;
		info_f("the change of task %s has finished", p->change_req->task);
		p->change_child = 0;
	}
	/* A killed change child's change is not run again now: net has it in Redis. */
	free(p->change_req);
	p->change_req = NULL;
	adopted(p, 1);
}
