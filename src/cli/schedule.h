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

/* Whether beat may fire a schedule (schedule_sign.c). */
enum sched_trust {
	ST_CONFIG,            /* from the config file: trusted as the file is */
	ST_TRUSTED,           /* signed by a key beat trusts, within its operations */
	ST_UNSIGNED,
	ST_BAD_SIG,
	ST_UNTRUSTED_KEY,     /* signed by a key not in beat's trusted keys */
	ST_OUTSIDE_LIMITS,    /* that key may not sign this operation (or these hosts) */
	ST_UNCHECKED,         /* beat's trusted keys cannot be read here */
	ST_STALE,             /* older than a definition beat has seen (put back by a Redis writer) */
};

struct schedule {
	char name[SCHED_NAME_MAX + 1];
	int from_config;
	int enabled;
	char cron[256];
	char tz[64];
	char target[1024];            /* "--role webserver --host db01" */
	json_t *command;              /* ["apt", "upgrade", "--security"] (owned) */
	/* the operator's signature over the definition (runtime schedules) */
	char signer[KEY_ID_MAX + 1];
	long long signed_at;
	unsigned char sig[64];
	int has_sig;
	enum sched_trust trust;       /* set by schedule_judge() */
	int verified;                 /* its signature checked out with some key */
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

/* Redis: runtime schedules.  schedule_store fails with -CR_E_EXISTS (a new
 * one's name is taken), -CR_E_MISSING (the one to replace is gone) or
 * -CR_E_FAIL (the broker), the message in err (crerr.h). */
int schedule_store(redisContext *c, const struct schedule *s, int replace, char *err, size_t errlen);
int schedule_delete(redisContext *c, const char *name);
/* Config schedules, then runtime ones (a runtime name that clashes with a
 * config one is skipped).  *out is malloc'd; invalid entries are reported
 * on stderr and skipped. */
int schedules_load(redisContext *c, const char *config_path, struct schedule **out, size_t *n);
void schedules_free(struct schedule *v, size_t n);

/* schedule_run.c: fires s now (fire: the time it was due; manual: run-now,
 * which prints the job and leaves beat's cron bookkeeping alone), recording
 * the run under celeryroot:schedule-state:NAME; signer (may be NULL) is the
 * key that signed the definition, whose roles limit the hosts; the task's
 * signed claims name the schedule and that key; an exit code. */
int schedule_run(struct cli_opts *o, redisContext *c, const struct schedule *s, double fire, int manual,
		 const struct trusted_key *signer, char *job_id, size_t job_len);
int schedule_list(struct cli_opts *o, redisContext *c);

/* schedule_sign.c */
const char *schedule_trust_name(enum sched_trust t);
/* Signs the definition as k (sets signer, signed_at, sig): 0, or -1. */
int schedule_sign(struct schedule *s, const struct signing_key *k, char *err, size_t errlen);
/* Judges s against beat's trusted keys (beat NULL: not readable here) and
 * the operator's own key (own, may be NULL): sets s->trust and s->verified;
 * the trusted key when ST_TRUSTED, else NULL. */
const struct trusted_key *schedule_judge(struct schedule *s, const struct keyring *beat, const struct signing_key *own);
/* Beat's trusted keys: [beat] trusted_keys, else the default directory. */
int schedule_keyring(const struct cr_config *cfg, struct keyring *kr, char *err, size_t errlen);
/* Every destination within k's roles (k NULL or unlimited: yes): 0, or -1 and why. */
int schedule_within_roles(const struct trusted_key *k, redisContext *c, const struct dest *d, size_t nd, char *why,
			  size_t len);
void schedule_sig_to_json(const struct schedule *s, json_t *o);
void schedule_sig_from_json(json_t *o, struct schedule *s);

#endif
