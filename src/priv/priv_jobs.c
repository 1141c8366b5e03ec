/* Changes run one at a time, each in a worker forked from priv: the worker
 * holds the dpkg lock and runs dpkg, while priv itself goes on answering
 * queries from its read-only cache.  A change that arrives while another is
 * running waits here, in order (changes are serialised per host). */
#include "config.h"
#include "priv.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"

int priv_jobs_busy(const struct priv_ctx *p)
{
	return p->worker > 0 || p->nqueue > 0;
}

/* The worker: no signals of priv's, stdin from /dev/null (dpkg must never
 * wait for an answer), the C locale, and apt's non-interactive frontend. */
static void worker_env(void)
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

static void worker_run(struct priv_ctx *p, const struct proto_req *r)
{
	json_t *d, *rec;
	const char *outcome;

	worker_env();
	d = priv_change(p, r);
	if (d == NULL)
		_exit(3);
	outcome = json_object_get(d, "error") ? "failed" : json_is_true(json_object_get(d, "changed")) ? "changed" : "unchanged";
	rec = audit_record(p, r, outcome, d);
	audit_write(p, rec);
	json_object_set_new(d, "audit", rec);
	priv_reply(p, r->id, d);
	_exit(0);
}

static void start_next(struct priv_ctx *p)
{
	struct proto_req *r;
	pid_t pid;

	while (p->worker <= 0 && p->nqueue > 0) {
		r = p->queue[0];
		memmove(&p->queue[0], &p->queue[1], (p->nqueue - 1) * sizeof(p->queue[0]));
		p->nqueue--;
		pid = fork();
		if (pid == 0)
			worker_run(p, r);   /* never returns */
		if (pid < 0) {
			error_f("cannot start the change worker: %s", strerror(errno));
			priv_reply(p, r->id, json_pack("{s:s}", "error", "priv could not start a worker (fork failed)"));
		} else {
			p->worker = pid;
			p->worker_req = r->id;
			info_f("apt %s for task %s: worker %ld", r->op, r->task, (long)pid);
		}
		free(r);
	}
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

void priv_jobs_reap(struct priv_ctx *p)
{
	int status;
	pid_t pid;

	/* Only the worker: net is priv's child too, and its end is run_priv's. */
	if (p->worker > 0 && (pid = waitpid(p->worker, &status, WNOHANG)) == p->worker) {
		p->worker = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char why[128];
			if (WIFSIGNALED(status))
				snprintf(why, sizeof(why), "the change worker was killed by signal %d", WTERMSIG(status));
			else
				snprintf(why, sizeof(why), "the change worker failed (exit %d)", WEXITSTATUS(status));
			error_f("%s", why);
			priv_reply(p, p->worker_req, json_pack("{s:s, s:b}", "error", why, "changed", 0));
		}
	}
	start_next(p);
}
