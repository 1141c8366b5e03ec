/* A rollout's state in Redis and its driver lease.  The state is one JSON
 * value, changed only under WATCH (so two drivers, or a driver and an
 * abort, never both win):
 *   {"next": wave to send, "status": "running|stopped|aborted|done",
 *    "reason": why it stopped, "waves": [{"sent": t, "closed": t}],
 *    "failures": [{"host", "reason", "wave"}]}
 * Times are wall-clock seconds (any machine may drive the rollout next). */
#include "config.h"
#include "rollout.h"

#include <stdlib.h>
#include <string.h>

#include "crerr.h"
#include "rconn.h"

json_t *ro_state_new(size_t nwaves)
{
	json_t *waves = json_array();

	for (size_t w = 0; w < nwaves; w++)
		json_array_append_new(waves, json_pack("{s:f, s:f}", "sent", 0.0, "closed", 0.0));
	return json_pack("{s:I, s:s, s:s, s:o, s:[]}", "next", (json_int_t)0, "status", "running", "reason", "",
			 "waves", waves, "failures");
}

/* The stored state is hostile input: its shape is checked before use. */
static int state_valid(json_t *st)
{
	json_t *waves = json_object_get(st, "waves"), *w;
	size_t i;

	if (!json_is_integer(json_object_get(st, "next")) || !json_is_string(json_object_get(st, "status")) ||
	    !json_is_array(waves) || !json_is_array(json_object_get(st, "failures")))
		return 0;
	json_array_foreach(waves, i, w)
		if (!json_is_number(json_object_get(w, "sent")) || !json_is_number(json_object_get(w, "closed")))
			return 0;
	return 1;
}

json_t *ro_state_get(redisContext *c, const char *id, char *err, size_t len)
{
	char key[RO_KEY_MAX];
	redisReply *r;
	json_t *st = NULL;

	ro_key(key, sizeof(key), id, ":state");
	r = cr_rconn_cmd(c, "GET", key, NULL);
	if (r && r->type == REDIS_REPLY_STRING)
		st = json_loadb(r->str, r->len, 0, NULL);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		snprintf(err, len, "cannot read its state: %s", r && r->str ? r->str : c->errstr);
	else if (r->type == REDIS_REPLY_NIL)
		snprintf(err, len, "its state is gone (expired or deleted)");
	else if (st == NULL || !state_valid(st))
		snprintf(err, len, "its state is malformed");
	if (st && !state_valid(st)) {
		json_decref(st);
		st = NULL;
	}
	if (r)
		freeReplyObject(r);
	return st;
}

const char *ro_status(json_t *st)
{
	const char *s = json_string_value(json_object_get(st, "status"));
	return s ? s : "";
}

size_t ro_failures(json_t *st)
{
	return json_array_size(json_object_get(st, "failures"));
}

double ro_wave_time(json_t *st, size_t w, const char *which)
{
	return json_number_value(json_object_get(json_array_get(json_object_get(st, "waves"), w), which));
}

int ro_abort(redisContext *c, const char *id, const char *who, char *err, size_t len)
{
	char key[RO_KEY_MAX], why[300];
	struct cr_rconn_cmd cmd = { 0 };
	redisReply *r;
	json_t *st;
	char *text;
	int rc;

	ro_key(key, sizeof(key), id, ":state");
	r = cr_rconn_cmd(c, "WATCH", key, NULL);
	if (r)
		freeReplyObject(r);
	if ((st = ro_state_get(c, id, err, len)) == NULL) {
		freeReplyObject(cr_rconn_cmd(c, "UNWATCH", NULL));
		return -1;
	}
	if (strcmp(ro_status(st), "running") != 0) {
		json_decref(st);
		r = cr_rconn_cmd(c, "UNWATCH", NULL);
		if (r)
			freeReplyObject(r);
		return 0;
	}
	snprintf(why, sizeof(why), "aborted by %s", who);
	json_object_set_new(st, "status", json_string("aborted"));
	json_object_set_new(st, "reason", json_string(why));
	text = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	if (text == NULL)
		return -1;
	const char *set[] = { "SET", key, text, "KEEPTTL" };
	for (size_t k = 0; k < 4; k++)
		cr_rconn_arg(&cmd, set[k], (size_t)-1);
	rc = cr_rconn_pipeline(c, &cmd, 1, 1, err, len);
	free(text);
	/* EXEC refused: a driver changed the state meanwhile; the caller asks again. */
	return rc == 1 ? 1 : rc == 0 && !strcmp(err, "the transaction was aborted") ? -2 : -1;
}

int ro_lease(redisContext *c, const char *id, const char *me)
{
	char key[RO_KEY_MAX], ms[16];
	redisReply *r;
	int held = -1;

	ro_key(key, sizeof(key), id, ":driver");
	snprintf(ms, sizeof(ms), "%d", RO_LEASE_MS);
	r = cr_rconn_cmd(c, "SET", key, me, "NX", "PX", ms, NULL);
	if (r && r->type == REDIS_REPLY_STATUS)
		held = 1;
	else if (r && r->type == REDIS_REPLY_NIL)
		held = 0;
	if (r)
		freeReplyObject(r);
	if (held != 0)
		return held;
	/* Ours already: renewed.  (Read then renew: a lease that ran out in
	 * between is taken by SET NX above on the next step.) */
	r = cr_rconn_cmd(c, "GET", key, NULL);
	held = r && r->type == REDIS_REPLY_STRING ? strcmp(r->str, me) == 0 : r ? 0 : -1;
	if (r)
		freeReplyObject(r);
	if (held == 1) {
		r = cr_rconn_cmd(c, "PEXPIRE", key, ms, NULL);
		if (r)
			freeReplyObject(r);
	}
	return held;
}

void ro_lease_drop(redisContext *c, const char *id, const char *me)
{
	char key[RO_KEY_MAX];
	redisReply *r;

	ro_key(key, sizeof(key), id, ":driver");
	r = cr_rconn_cmd(c, "GET", key, NULL);
	if (r && r->type == REDIS_REPLY_STRING && strcmp(r->str, me) == 0) {
		freeReplyObject(r);
		r = cr_rconn_cmd(c, "DEL", key, NULL);
	}
	if (r)
		freeReplyObject(r);
}
