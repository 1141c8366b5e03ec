/* Schedules: a cron expression in a time zone, a TARGET and one celeryroot
 * operation.  They come from the config file ([schedule NAME] sections,
 * reviewed and versioned) and from 'celeryroot schedule add' (kept in
 * Redis).  Both are validated exactly as the CLI validates a command. */
#ifndef CR_SCHEDULE_H
#define CR_SCHEDULE_H

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "cli.h"
#include "cron.h"

#define SCHED_NAME_MAX 63
#define SCHED_MAX 256
#define SCHED_PREFIX "celeryroot:schedule:"
#define SCHED_INDEX "celeryroot:schedules"
#define SCHED_STATE_PREFIX "celeryroot:schedule-state:"

struct schedule {
	char name[SCHED_NAME_MAX + 1];
	int from_config;
	int enabled;
	char cron[256];
	char tz[64];
	char target[1024];            /* "--role webserver --host db01" */
	json_t *command;              /* ["apt", "upgrade", "--security"] (owned) */
	/* derived by schedule_check() */
	struct cron_expr expr;
	struct target_spec *spec;     /* owned */
	struct cli_task task;         /* owned */
};

int valid_schedule_name(const char *s);
/* Validates every field and derives expr, spec and task; -1 with a reason. */
int schedule_check(struct schedule *s, char *err, size_t errlen);
void schedule_free(struct schedule *s);
json_t *schedule_to_json(const struct schedule *s);
int schedule_from_json(json_t *o, struct schedule *s, char *err, size_t errlen);

/* Redis: runtime schedules. */
int schedule_store(redisContext *c, const struct schedule *s, int replace, char *err, size_t errlen);
int schedule_delete(redisContext *c, const char *name);
/* Config schedules, then runtime ones (a runtime name that clashes with a
 * config one is skipped).  *out is malloc'd; invalid entries are reported
 * on stderr and skipped. */
int schedules_load(redisContext *c, const char *config_path, struct schedule **out, size_t *n);
void schedules_free(struct schedule *v, size_t n);

/* schedule_run.c: fires s now (fire: the time it was due; manual: run-now,
 * which prints the job and leaves beat's cron bookkeeping alone), recording
 * the run under celeryroot:schedule-state:NAME; an exit code. */
int schedule_run(struct cli_opts *o, redisContext *c, const struct schedule *s, double fire, int manual,
		 char *job_id, size_t job_len);
int schedule_list(struct cli_opts *o, redisContext *c);

#endif
