/* beat drives the rollouts started with --detach (celeryroot:rollouts:active):
 * each tick of the leader, for each one, a few steps of what is due now
 * (rollout_step.c), never waiting inside the tick.  A rollout's own driver
 * lease keeps beat and a resumed CLI from driving it at once; when a beat
 * leader dies, its lease runs out and the next leader carries on from the
 * state, so nothing is sent twice.  A plan beat cannot verify is left alone
 * (logged once): beat pushes only what a key it trusts planned. */
#include "config.h"
#include "rollout.h"

#include <stdlib.h>
#include <string.h>

#include "crerr.h"
#include "log.h"
#include "rconn.h"

#define RO_BEAT_MAX 64        /* rollouts looked at per tick */
#define RO_BEAT_STEPS 4       /* steps per rollout per tick */

static char refused[RO_BEAT_MAX][TASK_ID_MAX + 1];
static size_t nrefused;

static int said_before(const char *id)
{
	for (size_t i = 0; i < nrefused; i++)
		if (!strcmp(refused[i], id))
			return 1;
	cr_copy_str(refused[nrefused % RO_BEAT_MAX], sizeof(refused[0]), id);
	if (nrefused < RO_BEAT_MAX)
		nrefused++;
	return 0;
}

static void done_with(redisContext *c, const char *id)
{
	freeReplyObject(cr_rconn_cmd(c, "SREM", RO_ACTIVE, id, NULL));
}

static void drive_one(struct cli_opts *o, redisContext *c, const char *id, const char *me)
{
	char err[CR_ERR_MAX];
	struct ro_plan p;
	double next_s = 0;
	int rc = ro_plan_load(c, id, &p, err, sizeof(err));

	if (rc == -1) {
		done_with(c, id);   /* expired or deleted: nothing left to drive */
		return;
	}
	if (rc < 0 || ro_plan_verify(o, p.raw, err, sizeof(err)) < 0) {
		if (!said_before(id))
			error_f("rollout %s is not driven: %s", id, err);
		if (rc == 0)
			ro_plan_free(&p);
		return;
	}
	for (int k = 0; k < RO_BEAT_STEPS && next_s <= 0; k++) {
		enum ro_progress pr = ro_step(o, c, &p, me, &next_s);
		if (pr == RO_FINISHED) {
			json_t *st = ro_state_get(c, id, err, sizeof(err));
			const char *why = json_string_value(json_object_get(st, "reason"));
			info_f("rollout %s finished: %s%s%s", id, st ? ro_status(st) : "(state unreadable)",
			       why && why[0] ? ": " : "", why ? why : "");
			json_decref(st);
			ro_lease_drop(c, id, me);
			done_with(c, id);
			break;
		}
		if (pr != RO_GOING)
			break;   /* another driver holds it, or the broker failed: next tick */
	}
	ro_plan_free(&p);
}

void ro_beat_tick(struct cli_opts *o, redisContext *c, const char *me)
{
	redisReply *r = cr_rconn_cmd(c, "SRANDMEMBER", RO_ACTIVE, "64", NULL);

	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *e = r->element[i];
		if (e->type == REDIS_REPLY_STRING && cr_valid_task_id(e->str) && !c->err)
			drive_one(o, c, e->str, me);
	}
	freeReplyObject(r);
}
