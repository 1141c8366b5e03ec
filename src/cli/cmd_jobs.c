/* celeryroot job / jobs: jobs are kept in Redis (default 30 days), so any
 * later process can re-read one and its per-host results. */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "rconn.h"
#include "rollout.h"
#include "timeutil.h"

#define JOBS_LIST_MAX 20

static void job_help(FILE *f)
{
	san_fprintf(f,
		    "usage: celeryroot job JOB_ID [--wait] [--timeout S] [--json] [--resume | --abort]\n"
		    "\n"
		    "Shows the per-host results of a job.  With --wait, keeps waiting (up to\n"
		    "--timeout, through broker restarts) for hosts that have not answered yet.\n"
		    "A task a host started and has not finished shows as running, or as\n"
		    "interrupted when the host went offline (it runs again when the host returns).\n"
		    "On a rollout it shows the waves, the failure budget used and what is next;\n"
		    "--resume drives the rest of it in the foreground (from any machine; no wave\n"
		    "is sent twice), --abort stops it (no further wave starts).\n"
		    "\n"
		    "examples:\n"
		    "  celeryroot job 5b0e6c1e-8d5a-4c43-9a43-3c4cbb2f0d52\n"
		    "  celeryroot job 5b0e6c1e-8d5a-4c43-9a43-3c4cbb2f0d52 --wait --json\n");
}

static void jobs_help(FILE *f)
{
	san_fprintf(f,
		    "usage: celeryroot jobs [--json]\n"
		    "\n"
		    "Lists the %d most recent jobs, newest first.\n"
		    "\n"
		    "examples:\n"
		    "  celeryroot jobs\n"
		    "  celeryroot jobs --json\n", JOBS_LIST_MAX);
}

static int job_tasks(json_t *raw, struct job *job)
{
	json_t *tasks = json_object_get(raw, "tasks"), *t;
	size_t i;

	if (!json_is_array(tasks) || json_array_size(tasks) > 100000)
		return -1;
	job->n = json_array_size(tasks);
	job->t = calloc(job->n ? job->n : 1, sizeof(*job->t));
	if (job->t == NULL)
		return -1;
	json_array_foreach(tasks, i, t) {
		const char *host = json_string_value(json_object_get(t, "host"));
		const char *q = json_string_value(json_object_get(t, "queue"));
		const char *id = json_string_value(json_object_get(t, "task_id"));
		if (!q || !id || !cr_valid_task_id(id) || !cr_copy_str(job->t[i].queue, sizeof(job->t[i].queue), q))
			return -1;
		cr_copy_str(job->t[i].task_id, sizeof(job->t[i].task_id), id);
		if (host && !cr_copy_str(job->t[i].host, sizeof(job->t[i].host), host))
			return -1;
		job->t[i].online = 1;
	}
	return 0;
}

int job_load(redisContext *c, const char *id, struct job *job, json_t **raw)
{
	char key[sizeof(JOB_PREFIX) + TASK_ID_MAX];
	redisReply *r;

	memset(job, 0, sizeof(*job));
	*raw = NULL;
	snprintf(key, sizeof(key), JOB_PREFIX "%s", id);
	r = cr_rconn_cmd(c, "GET", key, NULL);
	if (r == NULL)
		return -2;
	if (r->type == REDIS_REPLY_STRING)
		*raw = json_loadb(r->str, r->len, 0, NULL);
	freeReplyObject(r);
	if (*raw == NULL)
		return -1;
	cr_copy_str(job->id, sizeof(job->id), id);
	cr_copy_str(job->operation, sizeof(job->operation), json_string_value(json_object_get(*raw, "operation")));
	cr_copy_str(job->task, sizeof(job->task), json_string_value(json_object_get(*raw, "task")));
	job->created = json_number_value(json_object_get(*raw, "created_ts"));
	if (job_tasks(*raw, job) < 0) {
		job_free(job);
		return -1;
	}
	return 0;
}

/* With --wait, hosts are waited for as though online: the operator asked to wait. */
int cmd_job(int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	struct job job;
	json_t *raw = NULL, *records;
	redisContext *c;
	int first = o ? cli_parse(argc, argv, o, 0, job_help) : -1, rc;

	if (first >= 0 && (first != argc - 1 || !cr_valid_task_id(argv[first])))
		cli_err("job needs one JOB_ID (as printed by --no-wait or 'celeryroot jobs')");
	if (first < 0 || first != argc - 1 || !cr_valid_task_id(argv[first])) {
		free(o);
		return EXIT_USAGE;
	}
	if ((c = cli_connect(o)) == NULL) {
		free(o);
		return EXIT_BROKER;
	}
	rc = job_load(c, argv[first], &job, &raw);
	if (rc < 0) {
		if (rc == -1)
			cli_err("no job %s (jobs are kept %d days; see 'celeryroot jobs')", argv[first],
				o->cfg.job_ttl_s / 86400);
		else
			cli_err("cannot read job %s: %s", argv[first], c->errstr);
		cr_rconn_free(c);
		free(o);
		return rc == -1 ? EXIT_USAGE : EXIT_BROKER;
	}
	/* A rollout: its waves, budget and what is next (--resume, --abort). */
	records = NULL;
	if (json_is_true(json_object_get(raw, "rollout"))) {
		rc = ro_job_command(o, c, argv[first]);
	} else if (o->ro.resume || o->ro.abort) {
		cli_err("job %s is not a rollout: --%s applies to jobs sent with --canary, --batch, --max-failures, "
			"--pause, --wave-timeout or --detach", argv[first], o->ro.resume ? "resume" : "abort");
		rc = EXIT_USAGE;
	} else if ((records = cli_wait(o, c, &job, o->wait ? o->timeout_s : 0)) == NULL) {
		rc = EXIT_BROKER;
	} else {
		render_job(o, &job, records);
		rc = cr_record_exit_code(records);
	}
	json_decref(records);
	json_decref(raw);
	job_free(&job);
	cr_rconn_free(c);
	free(o);
	return rc;
}

json_t *job_summary(redisContext *c, struct cli_opts *o, const char *id)
{
	struct job job;
	json_t *raw, *records, *out, *counts = json_object();
	size_t i;
	json_t *rec;

	if (job_load(c, id, &job, &raw) < 0)
		return NULL;
	/* A rollout's hosts never sent to are counted as it reports them. */
	records = json_is_true(json_object_get(raw, "rollout")) ? ro_summary_records(o, c, id) : NULL;
	if (records == NULL)
		records = cli_wait(o, c, &job, 0);
	json_array_foreach(records, i, rec) {
		const char *st = json_string_value(json_object_get(rec, "status"));
		json_int_t n = json_integer_value(json_object_get(counts, st));
		json_object_set_new(counts, st, json_integer(n + 1));
	}
	out = json_pack("{s:s, s:O, s:O, s:O, s:O, s:I, s:o}", "job", id, "operation",
			json_object_get(raw, "operation"), "target", json_object_get(raw, "target"),
			"created", json_object_get(raw, "created"), "requested_by",
			json_object_get(raw, "requested_by"), "hosts", (json_int_t)job.n, "status", counts);
	json_decref(records);
	json_decref(raw);
	job_free(&job);
	return out;
}

static void jobs_table(json_t *list)
{
	size_t i;
	json_t *j;

	san_printf("%-36s  %-20s  %-10s  %-24s  %5s  %s\n", "JOB", "CREATED (UTC)", "OPERATION", "TARGET", "HOSTS", "STATUS");
	json_array_foreach(list, i, j) {
		char st[256] = "", created[21];
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(j, "status"), k, v) {
			size_t used = strlen(st);
			snprintf(st + used, sizeof(st) - used, "%s%lld %s", used ? ", " : "",
				 (long long)json_integer_value(v), k);
		}
		snprintf(created, sizeof(created), "%.19s", json_string_value(json_object_get(j, "created")) ?: "");
		san_printf("%-36s  %-20s  %-10s  %-24.24s  %5lld  %s\n", json_string_value(json_object_get(j, "job")),
			   created, json_string_value(json_object_get(j, "operation")),
			   json_string_value(json_object_get(j, "target")),
			   (long long)json_integer_value(json_object_get(j, "hosts")), st);
	}
	if (json_array_size(list) == 0)
		san_printf("(no jobs yet)\n");
}

int cmd_jobs(int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	redisContext *c;
	redisReply *r;
	json_t *list = json_array();
	int first = o ? cli_parse(argc, argv, o, 0, jobs_help) : -1, rc = EXIT_OK;

	if (first < 0 || first < argc) {
		if (first >= 0)
			cli_err("unexpected argument '%s'", argv[first]);
		free(o);
		json_decref(list);
		return EXIT_USAGE;
	}
	if ((c = cli_connect(o)) == NULL) {
		free(o);
		json_decref(list);
		return EXIT_BROKER;
	}
	r = cr_rconn_cmd(c, "ZREVRANGE", JOBS_INDEX, "0", "19", NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		cli_err("cannot read the job list: %s", r && r->str ? r->str : c->errstr);
		rc = EXIT_BROKER;
	}
	for (size_t i = 0; rc == EXIT_OK && i < r->elements; i++) {
		const redisReply *e = r->element[i];
		json_t *j = e->type == REDIS_REPLY_STRING && cr_valid_task_id(e->str) ? job_summary(c, o, e->str) : NULL;
		if (j)
			json_array_append_new(list, j);
	}
	if (rc == EXIT_OK && o->json) {
		json_t *out = json_pack("{s:O}", "jobs", list);
		san_json_print(stdout, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
		fputc('\n', stdout);
		json_decref(out);
	} else if (rc == EXIT_OK) {
		jobs_table(list);
	}
	if (r)
		freeReplyObject(r);
	json_decref(list);
	cr_rconn_free(c);
	free(o);
	return rc;
}
