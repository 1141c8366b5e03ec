/* Resolving a target and sending one task per destination under one job id.
 * The job record and every task go to Redis in one MULTI/EXEC: either the
 * whole job is sent or nothing is. */
#include "config.h"
#include "cli.h"

#include <math.h>
#include <pwd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crerr.h"
#include "known_hosts.h"
#include "ops.h"
#include "rollout.h"
#include "rconn.h"
#include "timeutil.h"

#define REGISTRY_MAX_HOSTS 10000
/* The least time the broker gets to confirm a job, whatever --timeout says. */
#define SEND_MIN_S 10.0

static int registry_members(redisContext *c, redisReply **members)
{
	*members = cr_rconn_cmd(c, "SMEMBERS", REG_HOSTS_KEY, NULL);
	if (*members == NULL || (*members)->type != REDIS_REPLY_ARRAY) {
		cli_err("cannot read the registry: %s", *members && (*members)->str ? (*members)->str : c->errstr);
		if (*members)
			freeReplyObject(*members);
		return -1;
	}
	return 0;
}

int cli_load_registry(redisContext *c, struct host_rec **hosts, size_t *n)
{
	redisReply *members, *vals;
	const char **argv;
	size_t m;

	*hosts = NULL;
	*n = 0;
	if (registry_members(c, &members) < 0)
		return -1;
	m = members->elements > REGISTRY_MAX_HOSTS ? REGISTRY_MAX_HOSTS : members->elements;
	if (m == 0) {
		freeReplyObject(members);
		return 0;
	}
	argv = calloc(m + 1, sizeof(*argv));
	char (*keys)[sizeof(REG_HOST_PREFIX) + HOSTNAME_MAX] = calloc(m, sizeof(*keys));
	*hosts = calloc(m, sizeof(**hosts));
	if (argv == NULL || keys == NULL || *hosts == NULL) {
		cli_err("out of memory");
		exit(EXIT_BROKER);
	}
	argv[0] = "MGET";
	for (size_t i = 0; i < m; i++) {
		snprintf(keys[i], sizeof(keys[i]), REG_HOST_PREFIX "%.*s", HOSTNAME_MAX,
			 members->element[i]->str ? members->element[i]->str : "");
		argv[i + 1] = keys[i];
	}
	vals = cr_rconn_cmdargv(c, (int)m + 1, argv, NULL);
	for (size_t i = 0; vals && vals->type == REDIS_REPLY_ARRAY && i < vals->elements; i++) {
		char err[CR_ERR_MAX];
		const redisReply *v = vals->element[i];
		/* A record that fails to decode is skipped: one bad entry must not
		 * hide the rest of the fleet. */
		if (v->type == REDIS_REPLY_STRING &&
		    cr_registry_decode(v->str, v->len, &(*hosts)[*n], err, sizeof(err)) == 0)
			(*n)++;
	}
	int ok = vals != NULL && vals->type == REDIS_REPLY_ARRAY;
	if (!ok)
		cli_err("cannot read the registry: %s", c->errstr);
	if (vals)
		freeReplyObject(vals);
	freeReplyObject(members);
	free(argv);
	free(keys);
	return ok ? 0 : -1;
}

static void requester(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256] = "localhost";

	gethostname(host, sizeof(host) - 1);
	snprintf(buf, len, "%s@%s", pw ? pw->pw_name : "unknown", host);
}

static json_t *job_record(const struct cli_opts *o, const struct job *job, json_t *args,
			  json_t *kwargs, double expires)
{
	char created[40], exp[40], who[300], target[1024];
	json_t *tasks = json_array();

	cr_iso8601_utc(job->created, created, sizeof(created));
	cr_iso8601_utc(expires, exp, sizeof(exp));
	requester(who, sizeof(who));
	cr_target_describe(&o->target, target, sizeof(target));
	for (size_t i = 0; i < job->n; i++)
		json_array_append_new(tasks, json_pack("{s:s?, s:s, s:s}", "host",
						       job->t[i].host[0] ? job->t[i].host : NULL,
						       "queue", job->t[i].queue, "task_id", job->t[i].task_id));
	return json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:s, s:s, s:f, s:s, s:o}", "job", job->id,
			 "operation", job->operation, "task", job->task, "args", args, "kwargs", kwargs,
			 "target", target, "requested_by", who, "origin", o->origin ? o->origin : "cli", "created", created,
			 "created_ts", job->created, "expires", exp, "tasks", tasks);
}

/* What became of a job handed to the broker. */
enum sent {
	SEND_OK = 0,        /* EXEC ran it: the job and every task are in Redis */
	SEND_NOT = -1,      /* refused or never written: nothing was sent */
	SEND_USAGE = -2,    /* could not be signed: nothing was sent */
	SEND_LOST = -3,     /* the connection died after we began writing: not known */
	SEND_SILENT = -4,   /* written, and no answer before the deadline: not known */
};

/* The job's commands, to go in one MULTI/EXEC: SET job, ZADD index, trim
 * the index, LPUSH each task.  The strings are the caller's (keys) or
 * job's; NULL when out of memory. */
#define JOB_CMDS 3
static struct cr_rconn_cmd *job_cmds(const struct job *job, const char *jkey, const char *jobjson, const char *ttl,
				  const char *score, const char *floor, char **envs)
{
	struct cr_rconn_cmd *cmds = calloc(job->n + JOB_CMDS, sizeof(*cmds));
	const char *set[] = { "SET", jkey, jobjson, "EX", ttl };
	const char *zadd[] = { "ZADD", JOBS_INDEX, score, job->id };
	const char *trim[] = { "ZREMRANGEBYSCORE", JOBS_INDEX, "-inf", floor };

	if (cmds == NULL)
		return NULL;
	for (size_t k = 0; k < 5; k++)
		cr_rconn_arg(&cmds[0], set[k], (size_t)-1);
	for (size_t k = 0; k < 4; k++) {
		cr_rconn_arg(&cmds[1], zadd[k], (size_t)-1);
		cr_rconn_arg(&cmds[2], trim[k], (size_t)-1);
	}
	for (size_t i = 0; i < job->n; i++) {
		const char *push[] = { "LPUSH", job->t[i].queue, envs[i] };
		for (size_t k = 0; k < 3; k++)
			cr_rconn_arg(&cmds[JOB_CMDS + i], push[k], (size_t)-1);
	}
	return cmds;
}

/* Queues MULTI, the job's commands, EXEC (cr_rconn_append_all) and waits for
 * the replies up to the deadline, not the connection's 3 s command
 * timeout: a busy broker that answers late has still run the job. */
static enum sent send_all(redisContext *c, const struct cli_opts *o, const struct job *job,
			  const char *jobjson, char **envs, double deadline, char *why, size_t whylen)
{
	char jkey[sizeof(JOB_PREFIX) + TASK_ID_MAX], ttl[24], score[32], floor[32];
	struct cr_rconn_cmd *cmds;
	int ncmds = (int)job->n + JOB_CMDS, rc;

	snprintf(jkey, sizeof(jkey), JOB_PREFIX "%s", job->id);
	snprintf(ttl, sizeof(ttl), "%d", o->cfg.job_ttl_s);
	snprintf(score, sizeof(score), "%.6f", job->created);
	snprintf(floor, sizeof(floor), "%.6f", job->created - o->cfg.job_ttl_s);
	cmds = job_cmds(job, jkey, jobjson, ttl, score, floor, envs);
	rc = cmds != NULL ? cr_rconn_append_all(c, cmds, ncmds, 1) : -1;
	free(cmds);
	if (rc < 0) {
		snprintf(why, whylen, "%s", c->err ? c->errstr : "out of memory");
		return SEND_NOT;   /* nothing written yet */
	}
	if (link_flush(c, deadline) < 0) {
		snprintf(why, whylen, "%s", c->err ? c->errstr : "the broker took no more data before the timeout");
		link_poison(c, why);   /* the rest is never written: an unfinished MULTI is dropped */
		return SEND_LOST;
	}
	/* A command refused while queueing makes EXEC refuse the whole
	 * transaction: its reason (the first error) is the one worth showing. */
	rc = cr_rconn_read_all(c, ncmds, 1, deadline, why, whylen);
	if (rc < 0) {
		snprintf(why, whylen, "%s", rc == -1 ? c->errstr : "no answer before the timeout");
		link_poison(c, why);
		return rc == -1 ? SEND_LOST : SEND_SILENT;
	}
	if (rc == 0 && why[0] == '\0')
		snprintf(why, whylen, "the transaction was not run");
	return rc == 1 ? SEND_OK : SEND_NOT;
}

/* The celeryroot_sig header for one destination; NULL when not signing. */
static json_t *sign_task(const struct cli_opts *o, const struct job *job, json_t *args, json_t *kwargs,
			 const char *queue, double expires)
{
	char err[CR_ERR_MAX];
	json_t *sig, *h;

	if (!o->signing)
		return NULL;
	sig = cr_sig_make_header_for(&o->signer, job->task, args, kwargs, queue, job->id, (long long)expires,
				  o->for_schedule, o->for_key, err, sizeof(err));
	if (sig == NULL) {
		cli_err("cannot sign the task: %s; nothing was sent", err);
		return NULL;
	}
	h = json_object();
	json_object_set_new(h, SIG_HEADER, sig);
	return h;
}

int cli_load_signer(struct cli_opts *o, const char *then)
{
	const char *env = getenv("CELERYROOT_SIGNING_KEY");
	const char *path = env && env[0] ? env : o->cfg.signing_key;
	char err[CR_ERR_MAX];

	o->signing = 0;
	if (path[0] == '\0')
		return 0;
	if (cr_key_load_secret(path, &o->signer, err, sizeof(err)) < 0) {
		cli_err("%s%s", err, then);
		return -1;
	}
	return 1;
}

/* The operator's key: CELERYROOT_SIGNING_KEY, else [cli] signing_key. */
int cli_signing(struct cli_opts *o)
{
	int got = cli_load_signer(o, "; nothing was sent");

	if (got <= 0)
		return got;
	if (o->cfg.task_expires_s > SIG_MAX_LIFETIME) {
		cli_err("task_expires is %d s, longer than a signed task may live (%d days): lower it; nothing was sent",
			o->cfg.task_expires_s, SIG_MAX_LIFETIME / 86400);
		return -1;
	}
	o->signing = 1;
	return 0;
}

int cli_prepare_job(struct cli_opts *o, struct job *job, json_t *args, json_t *kwargs, const struct dest *d,
		    size_t nd, char **envs, json_t **rec)
{
	double expires;
	char origin[300];
	int rc = 0;

	cr_celery_new_id(job->id);
	job->created = cr_now_wall();
	expires = job->created + o->cfg.task_expires_s;
	job->n = nd;
	job->t = calloc(nd ? nd : 1, sizeof(*job->t));
	*rec = NULL;
	if (job->t == NULL)
		return -1;
	requester(origin, sizeof(origin));
	for (size_t i = 0; i < nd; i++) {
		struct job_task *t = &job->t[i];
		cr_copy_str(t->host, sizeof(t->host), d[i].host);
		cr_copy_str(t->queue, sizeof(t->queue), d[i].queue);
		t->online = d[i].online;
		cr_celery_new_id(t->task_id);
		json_t *hdr = sign_task(o, job, args, kwargs, t->queue, expires);
		struct celery_out out = { .task = job->task, .id = t->task_id, .group = job->id,
					  .queue = t->queue, .origin = origin, .expires = expires,
					  .args = args, .kwargs = kwargs, .extra_headers = hdr };
		if (o->signing && hdr == NULL)
			rc = -2;
		else if ((envs[i] = cr_celery_build(&out)) == NULL && rc == 0)
			rc = -1;
		json_decref(hdr);
	}
	*rec = job_record(o, job, args, kwargs, expires);
	if (*rec && o->signing)
		json_object_set_new(*rec, "key", json_string(o->signer.id));
	if (*rec && o->for_schedule)
		json_object_set_new(*rec, "schedule", json_string(o->for_schedule));
	if (*rec && o->for_key && o->for_key[0])
		json_object_set_new(*rec, "schedule_key", json_string(o->for_key));
	return *rec == NULL && rc == 0 ? -1 : rc;
}

static enum sent submit(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
			const struct dest *d, size_t nd, double deadline, char *why, size_t whylen)
{
	char **envs = calloc(nd ? nd : 1, sizeof(*envs));
	char *jobjson;
	json_t *rec = NULL;
	enum sent rc = SEND_OK;
	int prc;

	snprintf(why, whylen, "out of memory");
	if (envs == NULL)
		return SEND_NOT;
	prc = cli_prepare_job(o, job, args, kwargs, d, nd, envs, &rec);
	rc = prc == -2 ? SEND_USAGE : prc < 0 ? SEND_NOT : SEND_OK;
	jobjson = rec ? json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (rc == SEND_OK && jobjson != NULL) {
		why[0] = '\0';
		rc = send_all(c, o, job, jobjson, envs, deadline, why, whylen);
	} else if (rc == SEND_OK) {
		rc = SEND_NOT;
	}
	for (size_t i = 0; i < nd; i++)
		free(envs[i]);
	free(envs);
	free(jobjson);
	json_decref(rec);
	return rc;
}

void job_free(struct job *job)
{
	free(job->t);
	job->t = NULL;
	job->n = 0;
}

/* Resolution happens before anything is sent: an unknown name sends nothing. */
int cli_resolve(struct cli_opts *o, redisContext *c, struct dest **d, size_t *nd)
{
	struct host_rec *hosts;
	size_t nhosts;
	char err[CR_ERR_MAX];
	int rc;

	if (cli_load_registry(c, &hosts, &nhosts) < 0)
		return EXIT_BROKER;
	rc = cr_target_resolve(&o->target, hosts, nhosts, cr_now_wall(), d, nd, err, sizeof(err));
	free(hosts);
	if (rc < 0) {
		cli_err("%s; nothing was sent", err);
		return EXIT_USAGE;
	}
	return 0;
}

/* The connection died while the job was being sent: EXEC may or may not
 * have run.  A fresh connection decides it: the job record is written by
 * the same EXEC as every task, so it exists exactly when the job was sent.
 * (Asked only once the old connection is dead, so that connection can no
 * longer run the EXEC behind our back.)  An exit code: EXIT_OK sent,
 * EXIT_BROKER not sent, EXIT_PENDING still not known at the deadline. */
static int sent_check(struct cli_opts *o, const struct job *job, double deadline, const char *why)
{
	char key[sizeof(JOB_PREFIX) + TASK_ID_MAX], err[512] = "";
	const char *argv[] = { "GET", key };
	double delay = 0;

	snprintf(key, sizeof(key), JOB_PREFIX "%s", job->id);
	cli_err("lost the broker connection while sending job %s (%s): cannot know yet whether it was sent; "
		"asking the broker again (or run 'celeryroot job %s' to see whether it exists)", job->id, why, job->id);
	while (cr_now_mono() < deadline) {
		redisContext *f = link_reconnect(o, deadline, err, sizeof(err));
		redisReply *r = f ? link_cmd(f, 2, argv, fmax(deadline, cr_now_mono() + 1.0), err, sizeof(err)) : NULL;
		int rc = r == NULL ? -1 : r->type == REDIS_REPLY_STRING ? EXIT_OK : r->type == REDIS_REPLY_NIL ? EXIT_BROKER : EXIT_PENDING;
		if (rc == EXIT_PENDING)
			snprintf(err, sizeof(err), "%s", r->str ? r->str : "unexpected reply");
		if (r)
			freeReplyObject(r);
		if (f)
			cr_rconn_free(f);
		if (rc == EXIT_OK)
			cli_err("job %s was sent: the broker has it", job->id);
		else if (rc == EXIT_BROKER)
			cli_err("job %s does not exist on the broker: nothing was sent", job->id);
		if (rc == EXIT_OK || rc == EXIT_BROKER)
			return rc;
		if (rc == EXIT_PENDING)
			break;
		link_sleep_until(fmin(cr_now_mono() + link_backoff(&delay), deadline));
	}
	cli_err("cannot know whether job %s was sent (%s); run 'celeryroot job %s' to see whether it exists",
		job->id, err[0] ? err : "the broker was not back before the timeout", job->id);
	return EXIT_PENDING;
}

int cli_send_job(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
		 const struct dest *d, size_t nd)
{
	/* Even with --timeout 0 the broker gets a moment to confirm the job. */
	double deadline = cr_now_mono() + fmax(o->timeout_s, SEND_MIN_S);
	char why[CR_ERR_MAX] = "";
	enum sent rc;

	if (cli_signing(o) < 0)
		return EXIT_USAGE;
	rc = submit(o, c, job, args, kwargs, d, nd, deadline, why, sizeof(why));
	sodium_memzero(&o->signer, sizeof(o->signer));
	switch (rc) {
	case SEND_OK:
		cli_confirm_replicas(c, job->id);   /* sent either way: a warning when unconfirmed */
		return EXIT_OK;
	case SEND_USAGE:
		return EXIT_USAGE;
	case SEND_NOT:
		cli_err("the broker did not accept the job (%s); nothing was sent", why);
		return EXIT_BROKER;
	case SEND_SILENT:
		cli_err("the broker did not confirm job %s within %.0f s: cannot know whether it was sent; "
			"run 'celeryroot job %s' to see whether it exists", job->id, fmax(o->timeout_s, SEND_MIN_S),
			job->id);
		return EXIT_PENDING;
	case SEND_LOST:
		break;
	}
	return sent_check(o, job, deadline, why);
}

/* Not known whether the job was sent: every host "queued", marked so. */
static int report_unconfirmed(struct cli_opts *o, const struct job *job)
{
	json_t *records = json_array();

	if (o->no_wait) {
		if (o->json)
			printf("{\"job\": \"%s\", \"operation\": \"%s\", \"unconfirmed\": true}\n", job->id, job->operation);
		else
			printf("%s\n", job->id);
		json_decref(records);
		return EXIT_PENDING;
	}
	for (size_t i = 0; i < job->n; i++) {
		json_t *rec = cr_record_new(job->t[i].host[0] ? job->t[i].host : job->t[i].queue, "queued");
		json_object_set_new(rec, "unconfirmed", json_true());
		json_array_append_new(records, rec);
	}
	render_job(o, job, records);
	json_decref(records);
	return EXIT_PENDING;
}

/* Each destination host's key, as ssh learns one on connecting: recorded
 * in known_hosts when new (said on stderr), and a changed one said loudly;
 * its results are checked against the recorded key. */
void cli_learn_keys(redisContext *c, const struct dest *d, size_t nd)
{
	const char **names = calloc(nd ? nd : 1, sizeof(*names));
	struct reg_key *rk = calloc(nd ? nd : 1, sizeof(*rk));
	struct known_hosts kh;
	char err[CR_ERR_MAX];
	size_t m = 0;

	for (size_t i = 0; names && i < nd; i++)
		if (d[i].host[0])
			names[m++] = d[i].host;
	if (m > 0 && rk && kh_load(&kh, err, sizeof(err)) < 0) {
		cli_err("%s: results cannot be checked", err);
	} else if (m > 0 && rk) {
		if (reg_keys_fetch(c, names, m, rk) == 0)
			for (size_t i = 0; i < m; i++) {
				unsigned char pk[HOST_KEY_LEN];
				kh_use(&kh, names[i], &rk[i], pk);
			}
		kh_free(&kh);
	}
	free(names);
	free(rk);
}

/* Once the job is sent, broker trouble is never exit 4: what is known is
 * shown (exit 3 while anything is pending), with the job id to follow. */
int cli_run_job(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
		const struct dest *d, size_t nd)
{
	double t0 = cr_now_mono();
	json_t *records;
	int rc;

	cli_learn_keys(c, d, nd);
	rc = cli_send_job(o, c, job, args, kwargs, d, nd);

	if (rc == EXIT_PENDING)
		return report_unconfirmed(o, job);
	if (rc != EXIT_OK)
		return rc;
	if (o->no_wait) {
		if (o->json)
			printf("{\"job\": \"%s\", \"operation\": \"%s\"}\n", job->id, job->operation);
		else
			printf("%s\n", job->id);
		return EXIT_OK;
	}
	/* The timeout counts from the send: a slow confirmation uses it up. */
	records = cli_wait(o, c, job, fmax(0, t0 + o->timeout_s - cr_now_mono()));
	if (records == NULL) {
		cli_err("out of memory while waiting for job %s; follow it with 'celeryroot job %s --wait'", job->id,
			job->id);
		return EXIT_PENDING;
	}
	render_job(o, job, records);
	rc = cr_record_exit_code(records);
	json_decref(records);
	return rc;
}

void cli_task_free(struct cli_task *t)
{
	json_decref(t->args);
	json_decref(t->kwargs);
	t->args = t->kwargs = NULL;
}

int cli_send_task(struct cli_opts *o, const struct cli_task *t)
{
	struct job job = { 0 };
	struct dest *d = NULL;
	size_t nd = 0;
	redisContext *c = cli_connect(o);
	int rc;

	if (c == NULL)
		return EXIT_BROKER;
	rc = cli_resolve(o, c, &d, &nd);
	cr_copy_str(job.operation, sizeof(job.operation), t->operation);
	cr_copy_str(job.task, sizeof(job.task), t->task);
	if (rc == 0 && o->ro.given)
		rc = ro_start(o, c, &job, t->args, t->kwargs, d, nd);
	else if (rc == 0)
		rc = cli_run_job(o, c, &job, t->args, t->kwargs, d, nd);
	cr_rconn_free(c);
	free(d);
	job_free(&job);
	return rc;
}
