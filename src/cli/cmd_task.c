/* ping and facts: resolve TARGET, send, wait, render. */
#include "config.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "proto.h"
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
		"  --timeout S    wait at most S seconds (default 60), through broker restarts;\n"
		"                 hosts that have not answered are reported queued or timeout (exit 3)\n"
		"  --no-wait      print the job id and return; see 'celeryroot job JOB_ID'\n"
		"  --json         {\"job\", \"operation\", \"hosts\": [records]} on stdout\n"
		"\n"
		"examples:\n"
		"  celeryroot %s --all\n"
		"  celeryroot %s --role webserver --host db01 --json\n"
		"  celeryroot %s --one-of database --timeout 10\n",
		task_op, task_op, task_op, task_op);
}

/* Parses "ping|facts [options]" (argv[0] is the operation) into t. */
int task_build(int argc, char **argv, struct cli_opts *o, int flags, struct cli_task *t)
{
	const struct cr_op *op = cr_op_by_name(argv[0]);
	int first;

	if (op == NULL || op->req == REQ_APT) {   /* main.c and schedule.c checked */
		cli_err("unknown operation '%s'", argv[0]);
		return -1;
	}
	task_op = argv[0];
	first = cli_parse(argc, argv, o, flags, task_help);
	if (first >= 0 && first < argc)
		cli_err("unexpected argument '%s'; see 'celeryroot %s --help'", argv[first], argv[0]);
	if (first < 0 || first < argc)
		return -1;
	cr_copy_str(t->operation, sizeof(t->operation), argv[0]);
	snprintf(t->task, sizeof(t->task), "%s", op->task);
	t->args = json_array();
	t->kwargs = json_object();
	return 0;
}

int cmd_task(const char *operation, int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	struct cli_task t = { 0 };
	int rc;

	(void)operation;   /* argv[0] */
	if (o == NULL)
		return EXIT_USAGE;
	rc = task_build(argc, argv, o, CLI_TARGET, &t) < 0 ? EXIT_USAGE : cli_send_task(o, &t);
	cli_task_free(&t);
	free(o);
	return rc;
}
