/* ping and facts: resolve TARGET, send, wait, render. */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

static const char *task_op;

static void task_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot %s TARGET [--json] [--timeout S] [--no-wait]\n"
		"\n"
		"TARGET is one or more of:\n"
		"  --all          every host in the registry\n"
		"  --role ROLE    every host of ROLE (repeatable)\n"
		"  --host HOST    one host (repeatable)\n"
		"  --one-of ROLE  any one host of ROLE (through the role.ROLE work queue)\n"
		"\n"
		"  --timeout S    wait at most S seconds (default 60); hosts that have not\n"
		"                 answered are reported queued or timeout (exit 3)\n"
		"  --no-wait      print the job id and return; see 'celeryroot job JOB_ID'\n"
		"  --json         {\"job\", \"operation\", \"hosts\": [records]} on stdout\n"
		"\n"
		"examples:\n"
		"  celeryroot %s --all\n"
		"  celeryroot %s --role webserver --host db01 --json\n"
		"  celeryroot %s --one-of database --timeout 10\n",
		task_op, task_op, task_op, task_op);
}

int cmd_task(const char *operation, int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	struct job job = { 0 };
	struct dest *d = NULL;
	size_t nd = 0;
	redisContext *c;
	int rc;

	task_op = operation;
	int first = o ? cli_parse(argc, argv, o, 1, task_help) : -1;
	if (first >= 0 && first < argc)
		cli_err("unexpected argument '%s'; see 'celeryroot %s --help'", argv[first], operation);
	if (first < 0 || first < argc) {
		free(o);
		return EXIT_USAGE;
	}
	if ((c = cli_connect(o)) == NULL) {
		free(o);
		return EXIT_BROKER;
	}
	rc = cli_resolve(o, c, &d, &nd);
	if (rc == 0) {
		copy_str(job.operation, sizeof(job.operation), operation);
		snprintf(job.task, sizeof(job.task), "celeryroot.%s", operation);
		json_t *args = json_array(), *kwargs = json_object();
		rc = cli_run_job(o, c, &job, args, kwargs, d, nd);
		json_decref(args);
		json_decref(kwargs);
	}
	redisFree(c);
	free(d);
	job_free(&job);
	free(o);
	return rc;
}
