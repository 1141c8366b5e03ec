/* The tasks: which Celery task names this worker runs (the operation table,
 * ops.h), how their arguments are checked before anything reaches priv, and
 * how priv's answer becomes the result record (DESIGN §5). */
#include "config.h"
#include "net_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crerr.h"
#include "log.h"
#include "ops.h"
#include "pkgspec.h"
#include "proto.h"
#include "record.h"
#include "taskreq.h"
#include "timeutil.h"

static struct inflight *tasks_find(struct net_state *st, uint32_t id)
{
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		if ((st->fl[i].state == SLOT_RUNNING || st->fl[i].state == SLOT_HOLDING) && st->fl[i].req_id == id)
			return &st->fl[i];
	return NULL;
}

/* r: the request net_tasks_start() built when it checked the arguments. */
static int tasks_send(struct net_state *st, const struct inflight *f, struct proto_req *r)
{
	r->id = f->req_id;
	cr_copy_str(r->job, sizeof(r->job), f->msg.group);
	cr_copy_str(r->task, sizeof(r->task), f->msg.id);
	/* priv checks the signature again, on what was signed. */
	if (f->claims.key[0])
		r->sig = cr_sig_claims_to_json(&f->claims);
	return f->claims.key[0] && r->sig == NULL ? -1 : net_priv_request(st, r);
}

/* Refuses before anything reaches priv; package operations and every
 * signature failure are worth a line in the central trail (written with
 * the result, in the same commit). */
static void tasks_refuse(struct net_state *st, struct inflight *f, const char *exc, int audit, const char *key,
			 const char *err)
{
	struct celery_msg *m = &f->msg;

	log_refusal("task %s (%s) refused: %s", m->id, m->task, err);
	if (audit)
		f->settle.audit = net_audit_refusal_json(st, m->id, m->task, key, err);
	net_consumer_settle(st, f, "FAILURE", cr_celery_exception(exc, "builtins", err));
}

/* The arguments, as priv will get them (taskreq.c, shared with priv). */
static int tasks_check_args(const struct celery_msg *m, struct proto_req *r, char *err, size_t errlen)
{
	if (r == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	return cr_taskreq_build(m->task, m->args, m->kwargs, r, err, errlen);
}

/* The signature and its key's limits: 0 go on, 1 refused (settled). */
static int tasks_signature(struct net_state *st, struct inflight *f)
{
	struct celery_msg *m = &f->msg;
	char err[CR_ERR_MAX], key[KEY_ID_MAX + 1] = "";
	const char *k;

	if (net_sig_check(st, m, &f->claims, err, sizeof(err)) == 0)
		return 0;
	k = m->sig ? json_string_value(json_object_get(m->sig, "key")) : NULL;
	if (k && cr_valid_key_id(k))
		cr_copy_str(key, sizeof(key), k);
	tasks_refuse(st, f, "PermissionError", 1, key, err);
	return 1;
}

/* A signed task's nonce: 0 ours, 1 replay refused (settled) or put back.  A
 * nonce the broker could not be asked about is no refusal: the message
 * stays taken and is looked at again a little later. */
static int tasks_nonce(struct net_state *st, struct inflight *f)
{
	char err[CR_ERR_MAX];
	int rc;

	if (f->claims.key[0] == '\0' || (rc = net_sig_take_nonce(st, &f->claims, f->msg.id, err, sizeof(err))) == 0)
		return 0;
	if (cr_err_of(rc) == CR_E_AGAIN) {
		info_f("task %s: %s; it stays taken and is looked at again", f->msg.id, err);
		net_consumer_release(f);
		st->recover_pending = 1;
		st->pop_resume = cr_now_mono() + 1;
		return 1;
	}
	tasks_refuse(st, f, "PermissionError", 1, f->claims.key, err);
	return 1;
}

/* f holds a message just taken (parsed): checks it and hands it to priv,
 * or settles it at once (unknown, expired, refused).  Deferral outside the
 * maintenance windows is priv's call (tasks_finish commits it). */
void net_tasks_start(struct net_state *st, struct inflight *f)
{
	struct celery_msg *m = &f->msg;
	const struct cr_op *def = cr_op_by_task(m->task);
	char err[CR_ERR_MAX];

	if (def == NULL) {
		log_refusal("task %s: unknown task name %s", m->id, m->task);
		net_consumer_settle(st, f, "FAILURE", cr_celery_exception("NotRegistered", "celery.exceptions", m->task));
		return;
	}
	if (m->has_expires && cr_now_wall() > m->expires) {
		info_f("task %s (%s) expired before it could run", m->id, m->task);
		net_consumer_settle(st, f, "REVOKED", cr_celery_exception("TaskRevokedError", "celery.exceptions", "expired"));
		return;
	}
	if (tasks_signature(st, f))
		return;
	struct proto_req *r = calloc(1, sizeof(*r));
	if (tasks_check_args(m, r, err, sizeof(err)) < 0) {
		tasks_refuse(st, f, "ValueError", def->req == REQ_APT, f->claims.key, err);
		free(r);
		return;
	}
	if (tasks_nonce(st, f)) {
		cr_proto_req_clear(r);
		free(r);
		return;
	}
	net_defer_note_override(st, f, r);
	f->state = SLOT_RUNNING;
	f->def = def;
	f->req_id = ++st->next_req;
	f->started_wall = cr_now_wall();
	f->started_mono = cr_now_mono();
	net_result_started(st, m->id);
	int sent = tasks_send(st, f, r);
	cr_proto_req_clear(r);
	free(r);
	if (sent < 0) {
		/* It stays in the taken list and runs after the next start. */
		error_f("cannot reach priv for task %s; stopping", m->id);
		net_consumer_release(f);
		net_stop_flag = 1;
		return;
	}
	debug_f("task %s (%s) sent to priv as request %u", m->id, m->task, f->req_id);
}

/* priv answers with the record it built and signed (priv_answer.c):
 * {"attest": {..., "payload": RECORD}, "audit"?}.  The published result is
 * the payload's fields, net's duration_s and the attest, so that a
 * verifier can check every field it shows against the signature.  NULL
 * when the answer holds no record (then the task fails). */
static json_t *tasks_record(struct inflight *f, json_t *attest)
{
	const char *payload = json_string_value(json_object_get(attest, "payload"));
	json_t *rec = payload ? json_loads(payload, JSON_REJECT_DUPLICATES, NULL) : NULL;

	if (!json_is_object(rec) || !cr_record_status_valid(json_string_value(json_object_get(rec, "status")))) {
		json_decref(rec);
		return NULL;
	}
	json_object_set_new(rec, "duration_s", json_real(round((cr_now_mono() - f->started_mono) * 1e6) / 1e6));
	json_object_set(rec, "attest", attest);
	return rec;
}

static void tasks_finish(struct net_state *st, struct inflight *f)
{
	json_t *audit = json_object_get(f->reply, "audit");
	json_t *rec = tasks_record(f, json_object_get(f->reply, "attest"));
	char err[CR_ERR_MAX];

	if (audit)
		f->settle.audit = net_audit_stream_json(audit);
	if (rec == NULL) {
		error_f("task %s (%s): priv's answer carries no signed record", f->msg.id, f->msg.task);
		f->settle.nonce_done = 1;
		net_consumer_settle(st, f, "FAILURE", cr_celery_exception("RuntimeError", "builtins",
								 "priv's answer carries no signed record"));
		return;
	}
	/* A change priv deferred to the next maintenance window. */
	if (!strcmp(json_string_value(json_object_get(rec, "status")), "deferred")) {
		if (net_defer_commit(f, rec, err, sizeof(err)) < 0) {
			json_decref(rec);
			f->settle.nonce_done = 1;
			tasks_refuse(st, f, "ValueError", 1, f->claims.key, err);
			return;
		}
		net_consumer_settle(st, f, "DEFERRED", rec);
		return;
	}
	f->settle.nonce_done = 1;
	info_f("task %s (%s) done in %.3fs", f->msg.id, f->msg.task, cr_now_mono() - f->started_mono);
	net_consumer_settle(st, f, "SUCCESS", rec);
}

void net_tasks_on_answer(struct net_state *st, uint8_t type, const uint8_t *payload, size_t len)
{
	struct proto_ans a;
	char err[PROTO_ERR_MAX];
	struct inflight *f;

	if (cr_proto_ans_decode(type, payload, len, &a, err, sizeof(err)) < 0) {
		error_f("bad answer from priv: %s", err);
		return;
	}
	f = type == ANS_AUDIT ? NULL : tasks_find(st, a.id);
	if (type == ANS_AUDIT || (f == NULL && a.audit != NULL)) {
		net_audit_queue(st, a.audit);   /* a line of priv's own, for the stream */
	} else if (f == NULL) {
		error_f("answer from priv for unknown request %u", a.id);
	} else if (type == ANS_PROGRESS) {
		json_t *p = json_pack("{s:s, s:i, s:s, s:s}", "host", st->cfg->hostname, "percent",
				      a.percent, "package", a.pkg, "text", a.text);
		net_result_progress(st, f->msg.id, "PROGRESS", p);
	} else if (type == ANS_REFUSED) {
		error_f("priv refused task %s: %s", f->msg.id, a.text);
		/* priv's own signed line when it wrote one; else net's record. */
		if (a.audit != NULL)
			f->settle.audit = net_audit_stream_json(a.audit);
		else if (f->def->req == REQ_APT || f->claims.key[0] || st->cfg->require_signed)
			f->settle.audit = net_audit_refusal_json(st, f->msg.id, f->msg.task, f->claims.key, a.text);
		f->settle.nonce_done = 1;
		net_consumer_settle(st, f, "FAILURE", cr_celery_exception("PermissionError", "builtins", a.text));
	} else {
		double hold = json_number_value(json_object_get(f->msg.kwargs, "hold"));
		f->reply = a.data;
		a.data = NULL;
		if (hold > 0 && !st->stopping) {
			f->state = SLOT_HOLDING;
			f->hold_until = f->started_mono + hold;
		} else {
			tasks_finish(st, f);
		}
	}
	cr_proto_ans_free(&a);
}

void net_tasks_tick(struct net_state *st)
{
	double now = cr_now_mono();

	for (int i = 0; i < NET_MAX_INFLIGHT; i++) {
		struct inflight *f = &st->fl[i];
		if (f->state == SLOT_HOLDING && (st->stopping || now >= f->hold_until))
			tasks_finish(st, f);
	}
}
