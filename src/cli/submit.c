/* Resolving a target and sending one task per destination under one job id.
 * The job record and every task go to Redis in one MULTI/EXEC: either the
 * whole job is sent or nothing is. */
#include "config.h"
#include "cli.h"

#include <pwd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rconn.h"
#include "timeutil.h"

#define REGISTRY_MAX_HOSTS 10000

static int registry_members(redisContext *c, redisReply **members)
{
	*members = rconn_cmd(c, "SMEMBERS", REG_HOSTS_KEY, NULL);
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
	vals = rconn_cmdargv(c, (int)m + 1, argv, NULL);
	for (size_t i = 0; vals && vals->type == REDIS_REPLY_ARRAY && i < vals->elements; i++) {
		char err[256];
		const redisReply *v = vals->element[i];
		/* A record that fails to decode is skipped: one bad entry must not
		 * hide the rest of the fleet. */
		if (v->type == REDIS_REPLY_STRING &&
		    registry_decode(v->str, v->len, &(*hosts)[*n], err, sizeof(err)) == 0)
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

	iso8601_utc(job->created, created, sizeof(created));
	iso8601_utc(expires, exp, sizeof(exp));
	requester(who, sizeof(who));
	target_describe(&o->target, target, sizeof(target));
	for (size_t i = 0; i < job->n; i++)
		json_array_append_new(tasks, json_pack("{s:s?, s:s, s:s}", "host",
						       job->t[i].host[0] ? job->t[i].host : NULL,
						       "queue", job->t[i].queue, "task_id", job->t[i].task_id));
	return json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:s, s:s, s:f, s:s, s:o}", "job", job->id,
			 "operation", job->operation, "task", job->task, "args", args, "kwargs", kwargs,
			 "target", target, "requested_by", who, "origin", o->origin ? o->origin : "cli", "created", created,
			 "created_ts", job->created, "expires", exp, "tasks", tasks);
}

/* Queues: MULTI, SET job, ZADD index, LPUSH each task, EXEC. */
static int send_all(redisContext *c, const struct cli_opts *o, const struct job *job,
		    const char *jobjson, char **envs)
{
	char jkey[sizeof(JOB_PREFIX) + TASK_ID_MAX], ttl[24], score[32], floor[32];
	int ok = 1;

	snprintf(jkey, sizeof(jkey), JOB_PREFIX "%s", job->id);
	snprintf(ttl, sizeof(ttl), "%d", o->cfg.job_ttl_s);
	snprintf(score, sizeof(score), "%.6f", job->created);
	snprintf(floor, sizeof(floor), "%.6f", job->created - o->cfg.job_ttl_s);
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	const char *set[] = { "SET", jkey, jobjson, "EX", ttl };
	const char *zadd[] = { "ZADD", JOBS_INDEX, score, job->id };
	const char *trim[] = { "ZREMRANGEBYSCORE", JOBS_INDEX, "-inf", floor };
	ok = rconn_append(c, 1, multi, NULL) == 0 && rconn_append(c, 5, set, NULL) == 0 &&
	     rconn_append(c, 4, zadd, NULL) == 0 && rconn_append(c, 4, trim, NULL) == 0;
	for (size_t i = 0; ok && i < job->n; i++) {
		const char *push[] = { "LPUSH", job->t[i].queue, envs[i] };
		ok = rconn_append(c, 3, push, NULL) == 0;
	}
	ok = ok && rconn_append(c, 1, exec, NULL) == 0;
	for (size_t i = 0; ok && i < job->n + 5; i++) {
		void *r = NULL;
		ok = redisGetReply(c, &r) == REDIS_OK;
		if (ok && i == job->n + 4)
			ok = ((redisReply *)r)->type == REDIS_REPLY_ARRAY;   /* EXEC ran */
		if (r)
			freeReplyObject(r);
	}
	if (!ok)
		cli_err("the broker did not accept the job%s%s; nothing was sent", c->err ? ": " : "",
			c->err ? c->errstr : "");
	return ok ? 0 : -1;
}

/* The celeryroot_sig header for one destination; NULL when not signing. */
static json_t *sign_task(const struct cli_opts *o, const struct job *job, json_t *args, json_t *kwargs,
			 const char *queue, double expires)
{
	char err[256];
	json_t *sig, *h;

	if (!o->signing)
		return NULL;
	sig = sig_make_header(&o->signer, job->task, args, kwargs, queue, job->id, (long long)expires, err,
			      sizeof(err));
	if (sig == NULL) {
		cli_err("cannot sign the task: %s; nothing was sent", err);
		return NULL;
	}
	h = json_object();
	json_object_set_new(h, SIG_HEADER, sig);
	return h;
}

/* The operator's key: CELERYROOT_SIGNING_KEY, else [cli] signing_key. */
static int load_signer(struct cli_opts *o)
{
	const char *env = getenv("CELERYROOT_SIGNING_KEY");
	const char *path = env && env[0] ? env : o->cfg.signing_key;
	char err[600];

	o->signing = 0;
	if (path[0] == '\0')
		return 0;
	if (key_load_secret(path, &o->signer, err, sizeof(err)) < 0) {
		cli_err("%s; nothing was sent", err);
		return -1;
	}
	if (o->cfg.task_expires_s > SIG_MAX_LIFETIME) {
		cli_err("task_expires is %d s, longer than a signed task may live (%d days): lower it; nothing was sent",
			o->cfg.task_expires_s, SIG_MAX_LIFETIME / 86400);
		return -1;
	}
	o->signing = 1;
	return 0;
}

int cli_submit(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
	       const struct dest *d, size_t nd)
{
	double expires;
	char origin[300], **envs;
	char *jobjson;
	int rc = 0;

	celery_new_id(job->id);
	job->created = now_wall();
	expires = job->created + o->cfg.task_expires_s;
	job->n = nd;
	job->t = calloc(nd ? nd : 1, sizeof(*job->t));
	envs = calloc(nd ? nd : 1, sizeof(*envs));
	if (job->t == NULL || envs == NULL)
		return -1;
	requester(origin, sizeof(origin));
	for (size_t i = 0; i < nd; i++) {
		struct job_task *t = &job->t[i];
		copy_str(t->host, sizeof(t->host), d[i].host);
		copy_str(t->queue, sizeof(t->queue), d[i].queue);
		t->online = d[i].online;
		celery_new_id(t->task_id);
		json_t *hdr = sign_task(o, job, args, kwargs, t->queue, expires);
		struct celery_out out = { .task = job->task, .id = t->task_id, .group = job->id,
					  .queue = t->queue, .origin = origin, .expires = expires,
					  .args = args, .kwargs = kwargs, .extra_headers = hdr };
		if (o->signing && hdr == NULL)
			rc = -2;
		else if ((envs[i] = celery_build(&out)) == NULL)
			rc = -1;
		json_decref(hdr);
	}
	json_t *rec = job_record(o, job, args, kwargs, expires);
	if (rec && o->signing)
		json_object_set_new(rec, "key", json_string(o->signer.id));
	jobjson = rec ? json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (rc == 0 && jobjson != NULL)
		rc = send_all(c, o, job, jobjson, envs);
	else if (rc == 0)
		rc = -1;
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
	char err[2048];
	int rc;

	if (cli_load_registry(c, &hosts, &nhosts) < 0)
		return EXIT_BROKER;
	rc = target_resolve(&o->target, hosts, nhosts, now_wall(), d, nd, err, sizeof(err));
	free(hosts);
	if (rc < 0) {
		cli_err("%s; nothing was sent", err);
		return EXIT_USAGE;
	}
	return 0;
}

int cli_send_job(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
		 const struct dest *d, size_t nd)
{
	int rc;

	if (load_signer(o) < 0)
		return EXIT_USAGE;
	rc = cli_submit(o, c, job, args, kwargs, d, nd);
	sodium_memzero(&o->signer, sizeof(o->signer));
	if (rc < 0)
		return rc == -2 ? EXIT_USAGE : EXIT_BROKER;
	return EXIT_OK;
}

int cli_run_job(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
		const struct dest *d, size_t nd)
{
	json_t *records;
	int rc = cli_send_job(o, c, job, args, kwargs, d, nd);

	if (rc != EXIT_OK)
		return rc;
	if (o->no_wait) {
		if (o->json)
			printf("{\"job\": \"%s\", \"operation\": \"%s\"}\n", job->id, job->operation);
		else
			printf("%s\n", job->id);
		return EXIT_OK;
	}
	records = cli_wait(o, c, job, o->timeout_s);
	if (records == NULL)
		return EXIT_BROKER;
	render_job(o, job, records);
	rc = record_exit_code(records);
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
	copy_str(job.operation, sizeof(job.operation), t->operation);
	copy_str(job.task, sizeof(job.task), t->task);
	if (rc == 0)
		rc = cli_run_job(o, c, &job, t->args, t->kwargs, d, nd);
	redisFree(c);
	free(d);
	job_free(&job);
	return rc;
}
