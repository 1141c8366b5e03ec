/* The task table: which Celery task names this worker runs, how their
 * arguments are checked before anything reaches priv, and how priv's answer
 * becomes the result record (DESIGN §5). */
#include "config.h"
#include "net_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pkgspec.h"
#include "proto.h"
#include "record.h"
#include "taskreq.h"
#include "timeutil.h"

static json_t *roles_json(const struct net_state *st)
{
	json_t *roles = json_array();
	for (int i = 0; i < st->cfg->nroles; i++)
		json_array_append_new(roles, json_string(st->cfg->roles[i]));
	return roles;
}

static json_t *data_ping(struct net_state *st, const struct inflight *f, json_t *reply)
{
	(void)f;
	return json_pack("{s:s, s:o, s:s, s:I, s:O?}", "host", st->cfg->hostname, "roles",
			 roles_json(st), "version", PACKAGE_VERSION, "net_pid", (json_int_t)getpid(),
			 "priv_pid", json_object_get(reply, "priv_pid"));
}

static json_t *data_facts(struct net_state *st, const struct inflight *f, json_t *reply)
{
	json_t *d = json_deep_copy(reply);
	(void)f;
	if (d == NULL)
		return NULL;
	json_object_set_new(d, "host", json_string(st->cfg->hostname));
	json_object_set_new(d, "roles", roles_json(st));
	return d;
}

static const struct task_def task_table[] = {
	{ "celeryroot.ping", REQ_PING, data_ping },
	{ "celeryroot.facts", REQ_FACTS, data_facts },
};

const struct task_def *task_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(task_table) / sizeof(task_table[0]); i++)
		if (strcmp(task_table[i].name, name) == 0)
			return &task_table[i];
	return tasks_apt_lookup(name);
}

static struct inflight *tasks_slot(struct net_state *st)
{
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		if (!st->fl[i].used)
			return &st->fl[i];
	return NULL;
}

static struct inflight *tasks_find(struct net_state *st, uint32_t id)
{
	for (int i = 0; i < NET_MAX_INFLIGHT; i++)
		if (st->fl[i].used && st->fl[i].req_id == id)
			return &st->fl[i];
	return NULL;
}

/* Answers a task without running it, then acks: refused, unknown, expired. */
static void tasks_settle(struct net_state *st, struct celery_msg *m, const char *status,
			 json_t *result)
{
	if (result_write(st, m->id, status, result) == 0)
		worker_ack(st, m->delivery_tag);
	celery_msg_free(m);
}

static void tasks_release(struct inflight *f)
{
	celery_msg_free(&f->msg);
	sig_claims_free(&f->claims);
	if (f->reply)
		json_decref(f->reply);
	memset(f, 0, sizeof(*f));
}

/* r: the request tasks_start() built when it checked the arguments. */
static int tasks_send(struct net_state *st, const struct inflight *f, struct proto_req *r)
{
	r->id = f->req_id;
	copy_str(r->job, sizeof(r->job), f->msg.group);
	copy_str(r->task, sizeof(r->task), f->msg.id);
	/* priv checks the signature again, on what was signed. */
	if (f->claims.key[0])
		r->sig = sig_claims_to_json(&f->claims);
	return f->claims.key[0] && r->sig == NULL ? -1 : net_priv_request(st, r);
}

/* Refuses before anything reaches priv; package operations and every
 * signature failure are worth a line in the central trail. */
static void tasks_refuse(struct net_state *st, struct celery_msg *m, const char *exc, int audit, const char *key,
			 const char *err)
{
	info_f("task %s (%s) refused: %s", m->id, m->task, err);
	if (audit)
		audit_publish_refusal(st, m->id, m->task, key, err);
	tasks_settle(st, m, "FAILURE", celery_exception(exc, "builtins", err));
}

/* The arguments, as priv will get them (taskreq.c, shared with priv). */
static int tasks_check_args(const struct celery_msg *m, struct proto_req *r, char *err, size_t errlen)
{
	if (r == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	return taskreq_build(m->task, m->args, m->kwargs, r, err, errlen);
}

/* Outside the maintenance windows: 1 when deferred (answered), 0 to run. */
static int tasks_windows(struct net_state *st, struct celery_msg *m, const struct proto_req *r, struct sig_claims *c)
{
	char err[512];
	int d = defer_check(st, m, r, err, sizeof(err));

	if (d == 0)
		return 0;
	if (d < 0) {
		if (c->key[0])
			netsig_nonce_done(st, c, m->id);
		tasks_refuse(st, m, "ValueError", 1, c->key, err);
	} else {
		celery_msg_free(m);
	}
	sig_claims_free(c);
	return 1;
}

void tasks_start(struct net_state *st, struct celery_msg *m)
{
	const struct task_def *def = task_lookup(m->task);
	struct inflight *f = tasks_slot(st);
	struct sig_claims c;
	char err[512];

	if (def == NULL) {
		info_f("task %s: unknown task name %s", m->id, m->task);
		tasks_settle(st, m, "FAILURE", celery_exception("NotRegistered", "celery.exceptions", m->task));
		return;
	}
	if (m->has_expires && now_wall() > m->expires) {
		info_f("task %s (%s) expired before it could run", m->id, m->task);
		tasks_settle(st, m, "REVOKED", celery_exception("TaskRevokedError", "celery.exceptions", "expired"));
		return;
	}
	if (netsig_check(st, m, &c, err, sizeof(err)) < 0) {
		char key[KEY_ID_MAX + 1] = "";
		const char *k = m->sig ? json_string_value(json_object_get(m->sig, "key")) : NULL;
		if (k && valid_key_id(k))
			copy_str(key, sizeof(key), k);
		tasks_refuse(st, m, "PermissionError", 1, key, err);
		return;
	}
	struct proto_req *r = calloc(1, sizeof(*r));
	if (tasks_check_args(m, r, err, sizeof(err)) < 0 || f == NULL ||
	    (c.key[0] && netsig_take_nonce(st, &c, m->id, err, sizeof(err)) < 0)) {
		int replay = f && c.key[0] && strstr(err, "nonce");
		tasks_refuse(st, m, replay ? "PermissionError" : "ValueError", replay || def->req_type == REQ_APT, c.key,
			     f ? err : "worker busy");
		sig_claims_free(&c);
		free(r);
		return;
	}
	if (tasks_windows(st, m, r, &c)) {
		free(r);
		return;
	}
	memset(f, 0, sizeof(*f));
	f->used = 1;
	f->def = def;
	f->msg = *m;   /* ownership moves into the slot */
	f->claims = c;
	f->req_id = ++st->next_req;
	f->started_wall = now_wall();
	f->started_mono = now_mono();
	result_started(st, m->id);
	int sent = tasks_send(st, f, r);
	proto_req_clear(r);
	free(r);
	if (sent < 0) {
		error_f("cannot reach priv for task %s; stopping", m->id);
		/* Left in the unacked hash: it is redelivered after the visibility timeout. */
		tasks_release(f);
		net_stop_flag = 1;
		return;
	}
	debug_f("task %s (%s) sent to priv as request %u", m->id, m->task, f->req_id);
}

/* priv answers {"error": "..."} when it could not do what was asked: the
 * task ran, the host failed it (a SUCCESS result with a failed record). */
static json_t *tasks_record(struct net_state *st, struct inflight *f)
{
	const char *error = json_string_value(json_object_get(f->reply, "error"));
	int changed = json_is_true(json_object_get(f->reply, "changed"));
	json_t *rec = record_new(st->cfg->hostname, error ? "failed" : changed ? "changed" : "unchanged");
	json_t *data = error && f->def->req_type != REQ_APT ? NULL : f->def->data(st, f, f->reply);
	static const char *const own[] = { "changes", "rollback", "check", "reason" };

	/* The record's own fields (DESIGN §5) come out of the data. */
	for (size_t i = 0; data && i < sizeof(own) / sizeof(own[0]); i++) {
		json_t *v = json_object_get(data, own[i]);
		if (v)
			json_object_set(rec, own[i], v);
		json_object_del(data, own[i]);
	}
	if (data) {
		json_object_del(data, "changed");
		json_object_del(data, "error");
	}
	json_object_set_new(rec, "changed", json_boolean(changed && !error));
	if (error)
		record_set_error(rec, error);
	json_object_set_new(rec, "duration_s", json_real(round((now_mono() - f->started_mono) * 1e6) / 1e6));
	json_object_set_new(rec, "data", data ? data : json_null());
	return rec;
}

static void tasks_finish(struct net_state *st, struct inflight *f)
{
	json_t *audit = json_object_get(f->reply, "audit");
	json_t *rec;

	if (audit) {
		audit_publish(st, audit);
		json_object_del(f->reply, "audit");
	}
	rec = tasks_record(st, f);

	if (f->claims.key[0])
		netsig_nonce_done(st, &f->claims, f->msg.id);
	if (result_write(st, f->msg.id, "SUCCESS", rec) == 0)
		worker_ack(st, f->msg.delivery_tag);
	info_f("task %s (%s) done in %.3fs", f->msg.id, f->msg.task, now_mono() - f->started_mono);
	tasks_release(f);
}

static void tasks_refused(struct net_state *st, struct inflight *f, const char *why)
{
	if (f->claims.key[0])
		netsig_nonce_done(st, &f->claims, f->msg.id);
	if (result_write(st, f->msg.id, "FAILURE",
			 celery_exception("PermissionError", "builtins", why)) == 0)
		worker_ack(st, f->msg.delivery_tag);
	tasks_release(f);
}

void tasks_on_answer(struct net_state *st, uint8_t type, const uint8_t *payload, size_t len)
{
	struct proto_ans a;
	char err[PROTO_ERR_MAX];
	struct inflight *f;

	if (proto_ans_decode(type, payload, len, &a, err, sizeof(err)) < 0) {
		error_f("bad answer from priv: %s", err);
		return;
	}
	f = tasks_find(st, a.id);
	if (f == NULL) {
		error_f("answer from priv for unknown request %u", a.id);
	} else if (type == ANS_PROGRESS) {
		json_t *p = json_pack("{s:s, s:i, s:s, s:s}", "host", st->cfg->hostname, "percent",
				      a.percent, "package", a.pkg, "text", a.text);
		result_write(st, f->msg.id, "PROGRESS", p);
	} else if (type == ANS_REFUSED) {
		error_f("priv refused task %s: %s", f->msg.id, a.text);
		if (f->def->req_type == REQ_APT || f->claims.key[0] || st->cfg->require_signed)
			audit_publish_refusal(st, f->msg.id, f->msg.task, f->claims.key, a.text);
		tasks_refused(st, f, a.text);
	} else {
		double hold = json_number_value(json_object_get(f->msg.kwargs, "hold"));
		f->reply = a.data;
		a.data = NULL;
		if (hold > 0 && !st->stopping)
			f->hold_until = f->started_mono + hold;
		else
			tasks_finish(st, f);
	}
	proto_ans_free(&a);
}

void tasks_tick(struct net_state *st)
{
	double now = now_mono();

	for (int i = 0; i < NET_MAX_INFLIGHT; i++) {
		struct inflight *f = &st->fl[i];
		if (f->used && f->reply && (st->stopping || (f->hold_until > 0 && now >= f->hold_until)))
			tasks_finish(st, f);
	}
}
