/* The celeryroot command line. */
#ifndef CR_CLI_H
#define CR_CLI_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>

#include "crconfig.h"
#include "record.h"
#include "sanitize.h"
#include "sign.h"
#include "target.h"

#define JOB_PREFIX "celeryroot:job:"
#define JOBS_INDEX "celeryroot:jobs"
#define META_PREFIX CELERY_META_PREFIX

/* Rollout options (rollout.h); any of them makes a change a rollout. */
struct ro_opts {
	int given;                /* any rollout option was given */
	long canary;              /* --canary N: 0 none */
	long batch;               /* --batch N or N%: 0 all the rest in one wave */
	int batch_pct;
	long max_failures;        /* --max-failures N or N%: default 0 */
	int max_failures_pct;
	double pause_s;           /* --pause S */
	double wave_timeout_s;    /* --wave-timeout S; <0: --timeout's */
	int detach;               /* --detach */
	int resume, abort;        /* job ID --resume / --abort */
};

/* Options common to the commands that talk to the broker. */
struct cli_opts {
	const char *broker_url;   /* --broker, may be NULL */
	const char *config_path;  /* --config, may be NULL */
	int json;                 /* --json */
	int no_wait;              /* --no-wait */
	int wait;                 /* --wait (job) */
	double timeout_s;         /* --timeout; <0: from the config */
	/* apt options (only with CLI_APT) */
	int check, purge, security, upgradable, now;
	double max_age_s;         /* --max-age; <0: not given */
	int tty;                  /* stdout is a terminal */
	struct target_spec target;
	struct cr_config cfg;
	struct broker_addr broker;
	char url[512];
	const char *origin;       /* job record's origin: "cli", or "schedule:NAME" */
	const char *for_schedule; /* fired for a schedule: its name, and the key that */
	const char *for_key;      /* signed it ("": a config one); both in the signed claims */
	int signing;              /* a signing key is configured: every task is signed */
	struct signing_key signer;
	struct ro_opts ro;        /* rollout options (CLI_APT; job: --resume, --abort) */
};

struct job_task {
	char host[HOSTNAME_MAX + 1];     /* empty for --one-of until it answers */
	char queue[CELERY_QUEUE_MAX + 1];
	char task_id[TASK_ID_MAX + 1];
	int online;
};

struct job {
	char id[TASK_ID_MAX + 1];
	char operation[32];
	char task[TASK_NAME_MAX + 1];
	double created;
	size_t n;
	struct job_task *t;
};

/* One operation as the command line asked for it, before any target. */
struct cli_task {
	char operation[32];              /* "ping", "apt.install" */
	char task[TASK_NAME_MAX + 1];    /* "celeryroot.apt.install" */
	json_t *args, *kwargs;           /* owned */
	struct ro_opts ro;               /* rollout options given with it (a schedule's) */
};
void cli_task_free(struct cli_task *t);
/* Parsers of "ping|facts ..." and "apt OP ..." (argv[0] is the command):
 * with CLI_TARGET in flags a TARGET is required, without it none may be
 * given.  -1 after printing a one-line error. */
int task_build(int argc, char **argv, struct cli_opts *o, int flags, struct cli_task *t);
int apt_build(int argc, char **argv, struct cli_opts *o, int flags, struct cli_task *t);
/* cmd_apt_upgrade.c: upgrade's --full and --exclude PKG (names point into argv). */
struct cr_op;
struct apt_upgrade_opts {
	int given, full;
	size_t nexclude;
	const char *exclude[32];   /* proto.h CR_EXCLUDE_MAX */
};
int apt_take_upgrade_opts(int *argc, char **argv, struct apt_upgrade_opts *u);
int apt_upgrade_kwargs(const struct cr_op *op, const struct apt_upgrade_opts *u, json_t *kw);
/* Connects, resolves o->target, sends t and waits: the exit code. */
int cli_send_task(struct cli_opts *o, const struct cli_task *t);

/* commands */
int cmd_hosts(int argc, char **argv);
int cmd_task(const char *operation, int argc, char **argv);   /* ping, facts */
int cmd_job(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_apt(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_acl(int argc, char **argv);
int cmd_install_unit(int argc, char **argv);
/* cmd_audit_verify.c: checks a host's audit log (file, may be NULL) and
 * its records in the stream (host, may be NULL) against the host's key
 * (pubkey, or found: see audit_verify.h); an exit code. */
int audit_verify(struct cli_opts *o, const char *file, const char *host, const char *pubkey);
int cmd_schedule(int argc, char **argv);
int cmd_beat(int argc, char **argv);
int cmd_windows(int argc, char **argv);
/* cmd_jobs.c: {"job", "operation", "target", "created", "requested_by", "hosts", "status": {state: n}} */
json_t *job_summary(redisContext *c, struct cli_opts *o, const char *id);
int cmd_sandbox(int argc, char **argv);
int cmd_demo(int argc, char **argv);

/* main.c */
/* While set, cli_err keeps its first message here instead of printing it
 * (a schedule quotes the CLI's own reason in its one-line error). */
extern char *cli_err_capture;
extern size_t cli_err_capture_len;
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses the common options (TARGET with CLI_TARGET, the apt options with
 * CLI_APT); returns the index of the first positional argument, or -1 after
 * printing an error. */
#define CLI_TARGET 1
#define CLI_APT 2
int cli_parse(int argc, char **argv, struct cli_opts *o, int flags, void (*help)(FILE *));
/* Loads config and connects; prints the error and returns NULL on failure. */
redisContext *cli_connect(struct cli_opts *o);
/* The file the CLI reads: --config, else cr_config_cli_path (never the
 * daemon's); *must_exist (may be NULL) is 1 when it was named. */
const char *cli_config(const char *config_path, int *must_exist);

/* submit.c */
/* The operator's signing key ($CELERYROOT_SIGNING_KEY, else [cli]
 * signing_key) into o->signer: 1 loaded, 0 none configured, -1 after an
 * error (said, followed by then).  The caller wipes o->signer when done. */
int cli_load_signer(struct cli_opts *o, const char *then);
int cli_load_registry(redisContext *c, struct host_rec **hosts, size_t *n);
/* Resolves o->target through the registry: 0, or an exit code after an error. */
int cli_resolve(struct cli_opts *o, redisContext *c, struct dest **d, size_t *nd);
/* Signs (when a key is configured) and sends the job: EXIT_OK sent, EXIT_USAGE
 * or EXIT_BROKER nothing was sent, EXIT_PENDING not known whether it was (the
 * connection was lost mid-send and the broker was not back to tell, or it
 * did not confirm in time); each but EXIT_OK said on stderr.  c may be dead
 * afterwards. */
/* After a send: when the master has replicas, WAIT for them (asynchronous
 * replication can lose a just-sent job in a failover); a warning on stderr
 * and -1 when they did not all confirm in time, 0 otherwise. */
int cli_confirm_replicas(redisContext *c, const char *job_id);
int cli_send_job(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
		 const struct dest *d, size_t nd);
/* The job's ids, its envelopes (envs[nd], each signed when a key is set:
 * cli_signing first) and its record: 0, -1 out of memory, -2 not signed
 * (said).  The caller frees envs[i] and *rec. */
int cli_signing(struct cli_opts *o);
int cli_prepare_job(struct cli_opts *o, struct job *job, json_t *args, json_t *kwargs, const struct dest *d,
		    size_t nd, char **envs, json_t **rec);
/* Each destination's host key learnt (known_hosts), as before a send. */
void cli_learn_keys(redisContext *c, const struct dest *d, size_t nd);
/* Sends the job, then waits and renders unless --no-wait; returns the exit code. */
int cli_run_job(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
		const struct dest *d, size_t nd);
int job_load(redisContext *c, const char *id, struct job *job, json_t **raw);
void job_free(struct job *job);

/* wait.c: waits up to timeout_s (0: just read what is there) and returns
 * one record per task, in job order. */
json_t *cli_wait(struct cli_opts *o, redisContext *c, const struct job *job, double timeout_s);

/* link.c: the broker link where giving up early would mislead.  Deadlines
 * are monotonic times (cr_now_mono()). */
/* Writes what is queued on c: 0, or -1 (c->err, or the deadline passed). */
int link_flush(redisContext *c, double deadline);
/* One reply: 1 got it, 0 the deadline passed (a reply may still come: read
 * on or drop the context), -1 the connection is lost. */
int link_read(redisContext *c, double deadline, redisReply **out);
/* One command: its reply, or NULL with the reason in err (after a timeout
 * the context is out of step: link_poison it). */
redisReply *link_cmd(redisContext *c, int argc, const char **argv, double deadline, char *err, size_t len);
/* Marks c failed, so that nothing reads a late reply as its own. */
void link_poison(redisContext *c, const char *why);
/* The pause before the next attempt (0.2 s doubling to 2 s, plus up to 25 %
 * jitter); *delay starts at 0 and is doubled. */
double link_backoff(double *delay);
void link_sleep_until(double when);
/* One connection attempt (at most 3 s); NULL with the reason in err. */
redisContext *link_connect_once(struct cli_opts *o, double deadline, char *err, size_t len);
/* Attempts with backoff until deadline; NULL then, the last reason in err. */
redisContext *link_reconnect(struct cli_opts *o, double deadline, char *err, size_t len);

/* render.c */
void render_job(const struct cli_opts *o, const struct job *job, json_t *records);
void render_status_line(FILE *f, const char *name, const char *state, int percent,
			const char *detail, int width);
/* render_apt.c: 1 when the operation is an apt one and was rendered. */
int render_apt_table(const struct job *job, json_t *records, int w);
const char *render_age(double seconds, char *buf, size_t len);

#endif
