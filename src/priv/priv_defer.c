/* Maintenance windows, decided in priv (issue 12): a compromised net must
 * not be able to skip a window by not deferring.  A disruptive change
 * (CR_OP_WINDOWED in ops.h: install, remove, upgrade, autoremove; not a
 * check, not sent with now=true, which a signed task can only carry when
 * its signer put it there) that reaches priv while every window of this host is closed is
 * answered with a signed record
 *
 *   {"status": "deferred", "run_at": ISO, "reason", "changed": false, ...}
 *
 * and nothing else: no change, no audit line (nothing was done).  net puts
 * the message in the deferred set and gives it back to the queue when the
 * window opens; it then reaches priv again, inside the window.  The windows
 * were read from the config before the fork, their zones pinned (tzpin.c),
 * and the clock is the schedule clock (clock.h, for tests). */
#include "config.h"
#include "priv.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "ops.h"
#include "proto.h"
#include "record.h"
#include "winconf.h"

/* The operation table says which operations wait for a window (ops.h). */
static int disruptive(const struct proto_req *r)
{
	const struct cr_op *op = cr_op_by_req(r->type, r->op);

	if (op == NULL || r->check || r->now)
		return 0;
	return (op->flags & CR_OP_WINDOWED) != 0;
}

/* No window ever opens again (a window whose zone has no future opening):
 * the change fails, and that is on the record. */
static void never(struct priv_ctx *p, const struct proto_req *r)
{
	const char *why = "outside every maintenance window of this host, and none opens again";
	json_t *d = json_pack("{s:s, s:s, s:b, s:b, s:{}}", "error", why, "operation", r->op, "check", 0, "changed", 0,
			      "changes");
	json_t *rec = priv_audit_record(p, r, "refused", d);

	priv_audit_write(p, rec);
	json_object_set_new(d, "audit", rec);
	priv_answer(p, r, d);
}

int priv_defer(struct priv_ctx *p, const struct proto_req *r)
{
	double now = cr_clock_now();
	char at[40], reason[128];
	time_t when;
	struct tm tm;
	json_t *rec;

	if (p->nwindows == 0 || !disruptive(r) || cr_winconf_open(p->windows, p->nwindows, (time_t)now))
		return 0;
	if ((when = cr_winconf_next_open(p->windows, p->nwindows, (time_t)now)) == 0) {
		never(p, r);
		return 1;
	}
	gmtime_r(&when, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(reason, sizeof(reason), "outside its maintenance windows: runs at %s (--now overrides)", at);
	info_f("apt %s for task %s deferred to the maintenance window opening at %s", r->op, r->task, at);
	rec = cr_record_new(p->hostname, "deferred");
	json_object_del(rec, "duration_s");
	json_object_set_new(rec, "run_at", json_string(at));
	json_object_set_new(rec, "reason", json_string(reason));
	priv_send_record(p, r, rec, NULL);
	return 1;
}
