/* Starting a rollout (the plan made and stored once), driving it in the
 * foreground, and 'celeryroot job ID' on one: its waves, budget, status and
 * what is next; --resume and --abort. */
#include "config.h"
#include "rollout.h"

#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crerr.h"
#include "rconn.h"
#include "timeutil.h"

/* How long a driver keeps trying to get the broker back before it leaves
 * the rollout to 'job ID --resume'. */
#define RO_BROKER_GRACE_S 60.0

static volatile sig_atomic_t ro_interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	ro_interrupted = 1;
}

/* Ctrl-C (or SIGTERM) stops this driver between steps, not the rollout:
 * it waits in Redis for 'job ID --resume', beat (--detach) or --abort. */
static void catch_interrupts(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void whoami(char *buf, size_t len, int with_pid)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256] = "localhost";

	gethostname(host, sizeof(host) - 1);
	if (with_pid)
		snprintf(buf, len, "%s@%s:%ld", pw ? pw->pw_name : "unknown", host, (long)getpid());
	else
		snprintf(buf, len, "%s@%s", pw ? pw->pw_name : "unknown", host);
}

static int by_host(const void *a, const void *b)
{
	const struct dest *x = a, *y = b;
	int c = strcmp(x->host, y->host);
	return c ? c : strcmp(x->queue, y->queue);
}

/* The job record, the plan, every envelope and the state in one MULTI/EXEC:
 * nothing is pushed to a queue here, so a lost answer leaves at worst a
 * stored rollout that 'job ID --resume' can drive. */
static int store(struct cli_opts *o, redisContext *c, const struct ro_plan *p, json_t *rec, json_t *plan,
		 char **envs)
{
	char jkey[sizeof(JOB_PREFIX) + TASK_ID_MAX], pkey[RO_KEY_MAX], ekey[RO_KEY_MAX], skey[RO_KEY_MAX];
	char ttl[24], score[32], floor[32], err[CR_ERR_MAX];
	char *jtext = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER), *ptext = json_dumps(plan, JSON_COMPACT);
	json_t *state = ro_state_new(p->nwaves);
	char *stext = json_dumps(state, JSON_COMPACT);
	size_t n = p->job.n, k = 0;
	struct cr_rconn_cmd *cmds = calloc(n + 9, sizeof(*cmds));
	int rc = -1;

	snprintf(jkey, sizeof(jkey), JOB_PREFIX "%s", p->job.id);
	ro_key(pkey, sizeof(pkey), p->job.id, "");
	ro_key(ekey, sizeof(ekey), p->job.id, ":env");
	ro_key(skey, sizeof(skey), p->job.id, ":state");
	snprintf(ttl, sizeof(ttl), "%d", o->cfg.job_ttl_s);
	snprintf(score, sizeof(score), "%.6f", p->job.created);
	snprintf(floor, sizeof(floor), "%.6f", p->job.created - o->cfg.job_ttl_s);
	if (jtext && ptext && stext && cmds) {
		const char *const fixed[][5] = {
			{ "SET", jkey, jtext, "EX", ttl }, { "ZADD", JOBS_INDEX, score, p->job.id, NULL },
			{ "ZREMRANGEBYSCORE", JOBS_INDEX, "-inf", floor, NULL }, { "SET", pkey, ptext, "EX", ttl },
			{ "SET", skey, stext, "EX", ttl }, { "DEL", ekey, NULL, NULL, NULL },
		};
		for (; k < sizeof(fixed) / sizeof(fixed[0]); k++)
			for (size_t a = 0; a < 5 && fixed[k][a]; a++)
				cr_rconn_arg(&cmds[k], fixed[k][a], (size_t)-1);
		for (size_t i = 0; i < n; i++, k++) {
			const char *hset[] = { "HSET", ekey, p->job.t[i].task_id, envs[i] };
			for (size_t a = 0; a < 4; a++)
				cr_rconn_arg(&cmds[k], hset[a], (size_t)-1);
		}
		const char *exp[] = { "EXPIRE", ekey, ttl };
		for (size_t a = 0; a < 3; a++)
			cr_rconn_arg(&cmds[k], exp[a], (size_t)-1);
		k++;
		if (o->ro.detach) {   /* beat drives it */
			const char *add[] = { "SADD", RO_ACTIVE, p->job.id };
			for (size_t a = 0; a < 3; a++)
				cr_rconn_arg(&cmds[k], add[a], (size_t)-1);
			k++;
		}
		rc = cr_rconn_pipeline(c, cmds, (int)k, 1, err, sizeof(err));
		if (rc == 0)
			cli_err("the broker did not accept rollout %s (%s); nothing was sent", p->job.id, err);
		else if (rc < 0)
			cli_err("lost the broker while storing rollout %s; nothing was sent yet; "
				"see 'celeryroot job %s' and carry it on with 'celeryroot job %s --resume'",
				p->job.id, p->job.id, p->job.id);
	}
	free(jtext);
	free(ptext);
	free(stext);
	free(cmds);
	json_decref(state);
	return rc == 1 ? 0 : rc == 0 ? EXIT_BROKER : EXIT_PENDING;
}

/* The plan from the sorted destinations; p->job takes job's tasks. */
static int plan_make(struct cli_opts *o, struct ro_plan *p, struct job *job)
{
	memset(p, 0, sizeof(*p));
	p->job = *job;
	ro_sizes(&o->ro, job->n, &p->canary, &p->batch, &p->max_failures);
	p->pause_s = o->ro.pause_s;
	p->wave_timeout_s = o->ro.wave_timeout_s > 0 ? o->ro.wave_timeout_s : o->timeout_s > 0 ? o->timeout_s : 60;
	return ro_plan_cut(p, job->n);
}

/* ---- driving -------------------------------------------------------------- */

/* Steps until the rollout finishes; then its table and exit code. */
static int drive(struct cli_opts *o, redisContext *c, struct ro_plan *p)
{
	redisContext *own = NULL, **cp = &c;   /* the caller's c, or our own after a reconnect */
	char me[400], err[CR_ERR_MAX];
	double lost = 0, delay = 0, next_s, t0 = cr_now_mono();
	int rc, held = 0, waited = 0;
	json_t *st;

	whoami(me, sizeof(me), 1);
	catch_interrupts();
	for (;;) {
		if (ro_interrupted) {
			ro_lease_drop(*cp, p->job.id, me);
			cli_err("stopped driving rollout %s; it waits in Redis: carry it on with 'celeryroot job %s --resume', "
				"or stop it with 'celeryroot job %s --abort'", p->job.id, p->job.id, p->job.id);
			rc = EXIT_PENDING;
			goto out;
		}
		enum ro_progress pr = (*cp)->err ? RO_BROKER : ro_step(o, *cp, p, me, &next_s);
		if (pr == RO_FINISHED)
			break;
		/* A driver killed a moment ago still holds its lease: it runs out. */
		if (pr == RO_LEASE_LOST && !held && cr_now_mono() - t0 < RO_LEASE_MS / 1000.0 + 2) {
			if (!waited++)
				san_fprintf(stderr, "rollout %s has another driver; waiting up to %d s for its lease\n",
					    p->job.id, RO_LEASE_MS / 1000 + 2);
			link_sleep_until(cr_now_mono() + 0.5);
			continue;
		}
		if (pr == RO_LEASE_LOST) {
			cli_err("another driver holds rollout %s (a resumed CLI or beat) and carries it on; "
				"follow it with 'celeryroot job %s'", p->job.id, p->job.id);
			rc = EXIT_PENDING;
			goto out;
		}
		if (pr == RO_BROKER) {
			if (lost == 0)
				lost = cr_now_mono();
			if (cr_now_mono() - lost > RO_BROKER_GRACE_S) {
				cli_err("the broker stayed unreachable for %.0f s; rollout %s waits in Redis: "
					"carry it on with 'celeryroot job %s --resume'", RO_BROKER_GRACE_S, p->job.id, p->job.id);
				rc = EXIT_PENDING;
				goto out;
			}
			link_sleep_until(cr_now_mono() + link_backoff(&delay));
			if ((*cp)->err) {
				redisContext *f = link_connect_once(o, cr_now_mono() + 3, err, sizeof(err));
				if (f) {
					if (own)
						cr_rconn_free(own);
					*cp = own = f;
				}
			}
			continue;
		}
		lost = 0;
		delay = 0;
		held = 1;
		if (next_s > 0)
			link_sleep_until(cr_now_mono() + next_s);
	}
	ro_lease_drop(*cp, p->job.id, me);
	if ((st = ro_state_get(*cp, p->job.id, err, sizeof(err))) == NULL) {
		cli_err("rollout %s: %s", p->job.id, err);
		rc = EXIT_BROKER;
	} else {
		rc = ro_show(o, *cp, p, st);
		json_decref(st);
	}
out:
	if (own)
		cr_rconn_free(own);
	return rc;
}

int ro_start(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
	     const struct dest *d, size_t nd)
{
	struct dest *sorted = calloc(nd ? nd : 1, sizeof(*sorted));
	char **envs = calloc(nd ? nd : 1, sizeof(*envs)), target[1024], err[CR_ERR_MAX];
	json_t *rec = NULL, *plan = NULL;
	struct ro_plan p;
	int rc = EXIT_USAGE, prc = -1;

	if (sorted && envs) {
		memcpy(sorted, d, nd * sizeof(*d));
		qsort(sorted, nd, sizeof(*sorted), by_host);
		cli_learn_keys(c, sorted, nd);
		prc = cli_signing(o) < 0 ? -2 : cli_prepare_job(o, job, args, kwargs, sorted, nd, envs, &rec);
	}
	if (o->no_wait)
		o->ro.detach = 1;   /* nobody waits here: beat drives it */
	if (prc == 0 && plan_make(o, &p, job) == 0) {
		cr_target_describe(&o->target, target, sizeof(target));
		json_object_set_new(rec, "rollout", json_true());
		plan = ro_plan_json(&p, target, args, kwargs);
		if (plan && o->signing && ro_plan_sign(plan, &o->signer, err, sizeof(err)) < 0) {
			cli_err("cannot sign the rollout's plan: %s; nothing was sent", err);
			json_decref(plan);
			plan = NULL;
		}
		sodium_memzero(&o->signer, sizeof(o->signer));
		rc = plan ? store(o, c, &p, rec, plan, envs) : EXIT_USAGE;
		if (rc == 0 && o->ro.detach && o->for_schedule == NULL)
			printf("%s\n", job->id);
		else if (rc == 0 && !o->ro.detach)
			rc = drive(o, c, &p);
		p.job.t = NULL;   /* job's, freed by the caller */
		free(p.start);
	} else if (prc == -1) {
		cli_err("out of memory; nothing was sent");
	}
	sodium_memzero(&o->signer, sizeof(o->signer));
	for (size_t i = 0; envs && i < nd; i++)
		free(envs[i]);
	free(envs);
	free(sorted);
	json_decref(rec);
	json_decref(plan);
	return rc;
}

json_t *ro_summary_records(struct cli_opts *o, redisContext *c, const char *id)
{
	char err[CR_ERR_MAX];
	struct ro_plan p;
	json_t *st, *recs = NULL;

	if (ro_plan_load(c, id, &p, err, sizeof(err)) < 0)
		return NULL;
	if ((st = ro_state_get(c, id, err, sizeof(err))) != NULL)
		recs = ro_records(o, c, &p, st);
	json_decref(st);
	ro_plan_free(&p);
	return recs;
}

int ro_job_command(struct cli_opts *o, redisContext *c, const char *id)
{
	char err[CR_ERR_MAX] = "", who[300];
	struct ro_plan p;
	json_t *st;
	int rc = ro_plan_load(c, id, &p, err, sizeof(err));

	if (rc < 0) {
		cli_err("rollout %s cannot be read: %s", id, rc == -1 ? "its plan is gone (expired or deleted)" : err);
		return rc == -2 ? EXIT_BROKER : EXIT_USAGE;
	}
	if (o->ro.abort) {
		whoami(who, sizeof(who), 0);
		/* A driver's step may change the state under our WATCH: ask again. */
		for (int tries = 0; (rc = ro_abort(c, id, who, err, sizeof(err))) == -2 && tries < 10; tries++)
			link_sleep_until(cr_now_mono() + 0.05);
		if (rc < 0)
			cli_err("cannot abort rollout %s: %s; try again", id, rc == -2 ? "its state kept changing" : err);
		else
			san_fprintf(stderr, rc ? "rollout %s aborted: no further wave starts\n"
					       : "rollout %s had already finished\n", id);
		ro_plan_free(&p);
		return rc < 0 ? EXIT_BROKER : EXIT_OK;
	}
	if (o->ro.resume && ro_plan_verify(o, p.raw, err, sizeof(err)) < 0) {
		cli_err("rollout %s: %s", id, err);
		rc = EXIT_USAGE;
	} else if (o->ro.resume) {
		rc = drive(o, c, &p);
	} else if ((st = ro_state_get(c, id, err, sizeof(err))) != NULL) {
		rc = ro_show(o, c, &p, st);
		json_decref(st);
	} else {
		cli_err("rollout %s: %s", id, err);
		rc = EXIT_BROKER;
	}
	ro_plan_free(&p);
	return rc;
}
