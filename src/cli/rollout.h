/* Rollouts (DESIGN §3 "Rollouts"): a change sent in waves, a canary first,
 * stopped when a failure budget is spent.  The plan (every wave's hosts and
 * every task's envelope, signed as any task) is made once and kept in Redis
 * under the job, with the rollout's state; any driver (the CLI that started
 * it, 'celeryroot job ID --resume' from anywhere) pushes only stored
 * envelopes, one wave per MULTI/EXEC guarded by WATCH on the state, so no
 * wave is ever sent twice.
 *
 *   celeryroot:rollout:JOB         the plan (JSON)
 *   celeryroot:rollout:JOB:env     hash task_id -> envelope
 *   celeryroot:rollout:JOB:state   the state (JSON): next wave, status,
 *                                  per-wave sent/closed times, failures
 *   celeryroot:rollout:JOB:driver  the driver lease (SET NX PX) */
#ifndef CR_CLI_ROLLOUT_H
#define CR_CLI_ROLLOUT_H

#include "cli.h"

#define RO_PREFIX "celeryroot:rollout:"
#define RO_ACTIVE "celeryroot:rollouts:active"   /* detached: beat drives them */
#define RO_KEY_MAX (sizeof(RO_PREFIX) + TASK_ID_MAX + 16)
/* A driver renews its lease every step (at most 0.5 s apart); a dead
 * driver's runs out after this, and --resume waits that long for it. */
#define RO_LEASE_MS 5000
#define RO_WAVES_MAX 10000

/* A plan: the job's tasks in plan order (sorted by host name), cut into
 * waves: wave w is job.t[start[w] .. start[w + 1]). */
struct ro_plan {
	struct job job;
	size_t nwaves;
	size_t *start;              /* nwaves + 1 entries */
	long canary, batch, max_failures;
	double pause_s, wave_timeout_s;
	json_t *raw;                /* the stored JSON, owned */
};

/* What one step of a driver did; see ro_step. */
enum ro_progress { RO_GOING, RO_FINISHED, RO_LEASE_LOST, RO_BROKER };

/* rollout_plan.c */
/* Sizes from the options and the number of resolved hosts (nd > 0). */
void ro_sizes(const struct ro_opts *ro, size_t nd, long *canary, long *batch, long *max_failures);
/* Cuts job (in plan order) into waves; 0 or -1 (out of memory). */
int ro_plan_cut(struct ro_plan *p, size_t n);
json_t *ro_plan_json(const struct ro_plan *p, const char *target, json_t *args, json_t *kwargs);
/* Loads and checks the stored plan of job id: 0, -1 no such rollout, -2
 * broker, -3 malformed (err says why). */
int ro_plan_load(redisContext *c, const char *id, struct ro_plan *p, char *err, size_t len);
void ro_plan_free(struct ro_plan *p);
void ro_key(char *buf, size_t len, const char *id, const char *suffix);

/* rollout_sign.c: signs the plan (sets "key" and "sig"); 0 or -1 (err). */
int ro_plan_sign(json_t *plan, const struct signing_key *k, char *err, size_t errlen);
/* 0 when the stored plan may be driven here (its signature verifies with a
 * key this driver trusts, or it is unsigned and signing is off here); -1
 * with the reason.  Loads and wipes o->signer. */
int ro_plan_verify(struct cli_opts *o, json_t *plan, char *err, size_t errlen);

/* rollout_state.c */
json_t *ro_state_new(size_t nwaves);
/* The state, or NULL (err). */
json_t *ro_state_get(redisContext *c, const char *id, char *err, size_t len);
/* Marks a rollout aborted (by who): 1 done, 0 already finished, -2 the
 * state changed meanwhile (ask again), -1 failed (err). */
int ro_abort(redisContext *c, const char *id, const char *who, char *err, size_t len);
/* The driver lease: 1 held, 0 another driver holds it, -1 broker. */
int ro_lease(redisContext *c, const char *id, const char *me);
void ro_lease_drop(redisContext *c, const char *id, const char *me);
/* Failures counted so far; a wave's "sent" or "closed" time (0: not yet); the status. */
size_t ro_failures(json_t *st);
double ro_wave_time(json_t *st, size_t w, const char *which);
const char *ro_status(json_t *st);

/* rollout_step.c: what is due now (close the wave being waited for, start
 * the next one, stop), without blocking longer than a few broker round
 * trips.  *next_s: when another step is worth making (mono seconds from now). */
enum ro_progress ro_step(struct cli_opts *o, redisContext *c, struct ro_plan *p, const char *me,
			 double *next_s);
/* Records for every task of the plan (stored results; skipped for hosts
 * never sent to, with the reason). */
json_t *ro_records(struct cli_opts *o, redisContext *c, const struct ro_plan *p, json_t *st);

/* rollout_beat.c: one tick of the beat leader over the detached rollouts. */
void ro_beat_tick(struct cli_opts *o, redisContext *c, const char *me);

/* rollout_show.c: the table or JSON of a rollout; its exit code (3 while
 * it runs, 5 stopped or aborted, else from the records). */
int ro_show(struct cli_opts *o, redisContext *c, const struct ro_plan *p, json_t *st);

/* rollout_run.c */
int ro_start(struct cli_opts *o, redisContext *c, struct job *job, json_t *args, json_t *kwargs,
	     const struct dest *d, size_t nd);
/* 'celeryroot job ID' on a rollout (--resume, --abort): an exit code. */
int ro_job_command(struct cli_opts *o, redisContext *c, const char *id);
/* The records of rollout id as 'job ID' shows them (for 'jobs'); NULL
 * when they cannot be read. */
json_t *ro_summary_records(struct cli_opts *o, redisContext *c, const char *id);
/* Option parsing (main.c): 1 when c was a rollout option (parsed), 0 not
 * one, -1 after an error. */
int ro_parse_opt(int c, const char *arg, struct ro_opts *ro);

#endif
