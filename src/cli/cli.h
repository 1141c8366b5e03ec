/* The celeryroot command line. */
#ifndef CR_CLI_H
#define CR_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "config.h"
#include "record.h"
#include "target.h"

/* Options common to the commands that talk to the broker. */
struct cli_opts {
	const char *broker_url;   /* --broker, may be NULL */
	const char *config_path;  /* --config, may be NULL */
	int json;                 /* --json */
	int no_wait;              /* --no-wait */
	int wait;                 /* --wait (job) */
	double timeout_s;         /* --timeout */
	int tty;                  /* stdout is a terminal */
	struct cr_config cfg;
	struct broker_addr broker;
	char url[512];
};

int cmd_hosts(int argc, char **argv);
int cmd_task(const char *operation, int argc, char **argv);   /* ping, facts */
int cmd_job(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_sandbox(int argc, char **argv);
int cmd_demo(int argc, char **argv);

/* One-line error to stderr, prefixed with "celeryroot: ". */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
