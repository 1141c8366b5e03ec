/* The Celery 5 / kombu message format on Redis (protocol 2, JSON only). */
#include "config.h"
#include "celery.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "b64.h"
#include "sign.h"
#include "timeutil.h"

const char *const cr_celery_priority_suffix[CELERY_PRIORITY_STEPS] = {
	"", "\x06\x16" "3", "\x06\x16" "6", "\x06\x16" "9"
};

/* Python's json.dumps separators, so what we write looks like what Celery writes. */
#define PY_JSON (JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

static int bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return -1;
}

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int opt_time(json_t *v, int *has, double *out)
{
	*has = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || cr_iso8601_parse(json_string_value(v), out) < 0)
		return -1;
	*has = 1;
	return 0;
}

static int opt_id(json_t *v, char *dst, size_t len)
{
	if (v == NULL || json_is_null(v))
		return 0;
	if (!cr_valid_task_id(json_string_value(v)))
		return -1;
	return cr_copy_str(dst, len, json_string_value(v)) ? 0 : -1;
}

static int parse_headers(json_t *h, struct celery_msg *m, char *err, size_t errlen)
{
	const char *task = json_string_value(json_object_get(h, "task"));
	json_t *retries = json_object_get(h, "retries");
	const char *origin = json_string_value(json_object_get(h, "origin"));

	if (task == NULL || task[0] == '\0' || !printable(task) || !cr_copy_str(m->task, sizeof(m->task), task))
		return bad(err, errlen, "headers.task is missing or not a printable name of at most 128 characters");
	if (opt_time(json_object_get(h, "expires"), &m->has_expires, &m->expires) < 0)
		return bad(err, errlen, "headers.expires is not an ISO 8601 time");
	if (opt_time(json_object_get(h, "eta"), &m->has_eta, &m->eta) < 0)
		return bad(err, errlen, "headers.eta is not an ISO 8601 time");
	if (opt_id(json_object_get(h, "group"), m->group, sizeof(m->group)) < 0 ||
	    opt_id(json_object_get(h, "root_id"), m->root_id, sizeof(m->root_id)) < 0)
		return bad(err, errlen, "headers.group or headers.root_id is not a valid id");
	if (retries && !json_is_null(retries) &&
	    (!json_is_integer(retries) || json_integer_value(retries) < 0 ||
	     json_integer_value(retries) > INT_MAX))
		return bad(err, errlen, "headers.retries is not a non-negative integer");
	m->retries = (int)json_integer_value(retries);
	if (origin)
		cr_copy_printable(m->origin, sizeof(m->origin), origin);
	m->redelivered |= json_is_true(json_object_get(h, "redelivered"));
	/* Checked field by field when the task is verified (net/netsig.c). */
	json_t *sig = json_object_get(h, SIG_HEADER);
	if (sig && !json_is_null(sig)) {
		if (!json_is_object(sig))
			return bad(err, errlen, "headers." SIG_HEADER " is not an object");
		m->sig = json_incref(sig);
	}
	return 0;
}

static int parse_properties(json_t *p, struct celery_msg *m, char *err, size_t errlen)
{
	json_t *di = json_object_get(p, "delivery_info");
	const char *ex = json_string_value(json_object_get(di, "exchange"));
	const char *rk = json_string_value(json_object_get(di, "routing_key"));

	if (!json_is_object(p))
		return bad(err, errlen, "properties is not an object");
	if (!cr_valid_task_id(json_string_value(json_object_get(p, "delivery_tag"))))
		return bad(err, errlen, "properties.delivery_tag is missing or invalid");
	cr_copy_str(m->delivery_tag, sizeof(m->delivery_tag), json_string_value(json_object_get(p, "delivery_tag")));
	const char *enc = json_string_value(json_object_get(p, "body_encoding"));
	if (enc == NULL || strcmp(enc, "base64") != 0)
		return bad(err, errlen, "properties.body_encoding must be base64");
	if (!json_is_object(di) || !ex || !rk || !printable(ex) || !printable(rk) ||
	    !cr_copy_str(m->exchange, sizeof(m->exchange), ex) || !cr_copy_str(m->routing_key, sizeof(m->routing_key), rk))
		return bad(err, errlen, "properties.delivery_info is missing or malformed");
	m->redelivered |= json_is_true(json_object_get(di, "redelivered"));
	return 0;
}

/* Only the RFC 4648 alphabet: libsodium 1.0.18 quietly decodes some bytes
 * >= 0x80 as if they were base64 characters, so this is checked here too. */
static int base64_alphabet(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '='))
			return 0;
	}
	return 1;
}

/* The body: base64 of JSON [args, kwargs, embed]. */
static int parse_body(json_t *env, struct celery_msg *m, char *err, size_t errlen)
{
	const char *b = json_string_value(json_object_get(env, "body"));
	unsigned char *raw;
	size_t rawlen, blen;
	json_t *body;

	if (b == NULL)
		return bad(err, errlen, "body is missing");
	blen = json_string_length(json_object_get(env, "body"));
	if (blen != strlen(b) || !base64_alphabet(b, blen))
		return bad(err, errlen, "body is not valid base64");
	raw = cr_b64_decode(b, blen, CELERY_ENVELOPE_MAX, &rawlen);
	if (raw == NULL)
		return bad(err, errlen, "body is not valid base64");
	body = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (!json_is_array(body) || json_array_size(body) != 3 || !json_is_array(json_array_get(body, 0)) ||
	    !json_is_object(json_array_get(body, 1)) || !json_is_object(json_array_get(body, 2))) {
		json_decref(body);
		return bad(err, errlen, "body is not the JSON list [args, kwargs, embed] of Celery protocol 2");
	}
	m->args = json_incref(json_array_get(body, 0));
	m->kwargs = json_incref(json_array_get(body, 1));
	json_decref(body);
	return 0;
}

static int check_content(json_t *env, char *err, size_t errlen)
{
	const char *ct = json_string_value(json_object_get(env, "content-type"));
	const char *ce = json_string_value(json_object_get(env, "content-encoding"));

	if (ct == NULL || strcmp(ct, "application/json") != 0) {
		char shown[61];   /* quoted in net's log and the FAILURE result: printable only */
		cr_copy_printable(shown, sizeof(shown), ct ? ct : "(none)");
		snprintf(err, errlen, "content-type '%s' refused: celeryroot accepts JSON only", shown);
		return -1;
	}
	if (ce == NULL || strcmp(ce, "utf-8") != 0)
		return bad(err, errlen, "content-encoding must be utf-8");
	return 0;
}

/* A message too big to accept is still parsed, up to CELERY_READ_MAX, for
 * its id alone: its sender then gets a FAILURE instead of waiting. */
static void oversize_id(const char *buf, size_t len, struct celery_msg *m)
{
	json_t *env = len <= CELERY_READ_MAX ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *id = json_string_value(json_object_get(json_object_get(env, "headers"), "id"));

	if (cr_valid_task_id(id))
		cr_copy_str(m->id, sizeof(m->id), id);
	json_decref(env);
}

int cr_celery_parse(const char *buf, size_t len, struct celery_msg *m, char *err, size_t errlen)
{
	json_t *env, *h;

	memset(m, 0, sizeof(*m));
	if (len > CELERY_ENVELOPE_MAX) {
		oversize_id(buf, len, m);
		snprintf(err, errlen, "message of %zu bytes refused: larger than the %d bytes a task message may be", len,
			 CELERY_ENVELOPE_MAX);
		return -1;
	}
	env = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(env)) {
		json_decref(env);
		return bad(err, errlen, "message is not a JSON object (celeryroot accepts JSON only)");
	}
	m->envelope = env;
	h = json_object_get(env, "headers");
	if (!json_is_object(h))
		return bad(err, errlen, "headers missing: not a Celery protocol 2 message");
	/* The id first: even a refused message gets its FAILURE result. */
	if (!cr_valid_task_id(json_string_value(json_object_get(h, "id"))))
		return bad(err, errlen, "headers.id is missing or invalid");
	cr_copy_str(m->id, sizeof(m->id), json_string_value(json_object_get(h, "id")));
	if (check_content(env, err, errlen) < 0 || parse_headers(h, m, err, errlen) < 0 ||
	    parse_properties(json_object_get(env, "properties"), m, err, errlen) < 0 ||
	    parse_body(env, m, err, errlen) < 0)
		return -1;
	return 0;
}

void cr_celery_msg_free(struct celery_msg *m)
{
	json_decref(m->args);
	json_decref(m->kwargs);
	json_decref(m->envelope);
	json_decref(m->sig);
	memset(m, 0, sizeof(*m));
}

void cr_celery_new_id(char out[TASK_ID_MAX + 1])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

static json_t *fresh_uuid(void)
{
	char s[TASK_ID_MAX + 1];

	cr_celery_new_id(s);
	return json_string(s);
}

static json_t *time_or_null(double t)
{
	char buf[40];

	if (t <= 0)
		return json_null();
	cr_iso8601_utc(t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *build_headers(const struct celery_out *o)
{
	json_t *h = json_object();
	char *ar = json_dumps(o->args, JSON_COMPACT | JSON_ENCODE_ANY);
	char *kr = json_dumps(o->kwargs, JSON_COMPACT | JSON_ENCODE_ANY);
	char origin[256];

	json_object_set_new(h, "lang", json_string("c"));
	json_object_set_new(h, "task", json_string(o->task));
	json_object_set_new(h, "id", json_string(o->id));
	json_object_set_new(h, "shadow", json_null());
	json_object_set_new(h, "eta", json_null());
	json_object_set_new(h, "expires", time_or_null(o->expires));
	json_object_set_new(h, "group", o->group ? json_string(o->group) : json_null());
	json_object_set_new(h, "group_index", json_null());
	json_object_set_new(h, "retries", json_integer(0));
	json_object_set_new(h, "timelimit", json_pack("[nn]"));
	json_object_set_new(h, "root_id", json_string(o->id));
	json_object_set_new(h, "parent_id", json_null());
	json_object_set_new(h, "argsrepr", json_string(ar ? ar : "[]"));
	json_object_set_new(h, "kwargsrepr", json_string(kr ? kr : "{}"));
	cr_copy_printable(origin, sizeof(origin), o->origin ? o->origin : "celeryroot");
	json_object_set_new(h, "origin", json_string(origin));
	json_object_set_new(h, "ignore_result", json_false());
	if (o->extra_headers)
		json_object_update(h, o->extra_headers);
	free(ar);
	free(kr);
	return h;
}

static json_t *build_properties(const struct celery_out *o)
{
	json_t *p = json_object();

	json_object_set_new(p, "correlation_id", json_string(o->id));
	json_object_set_new(p, "reply_to", fresh_uuid());
	json_object_set_new(p, "delivery_mode", json_integer(2));
	json_object_set_new(p, "delivery_info", json_pack("{s:s, s:s}", "exchange", "", "routing_key", o->queue));
	json_object_set_new(p, "priority", json_integer(0));
	json_object_set_new(p, "body_encoding", json_string("base64"));
	json_object_set_new(p, "delivery_tag", fresh_uuid());
	return p;
}

char *cr_celery_build(const struct celery_out *o)
{
	json_t *body, *env;
	char *bodys, *b64, *out;

	/* Refuse what a worker would refuse, rather than send it. */
	if (!json_is_array(o->args) || !json_is_object(o->kwargs) || !cr_valid_task_name(o->task) ||
	    !cr_valid_task_id(o->id) || (o->group != NULL && !cr_valid_task_id(o->group)) ||
	    !cr_valid_queue_name(o->queue) ||
	    (o->extra_headers != NULL && !json_is_object(o->extra_headers)))
		return NULL;
	body = json_pack("[OO{s:n, s:n, s:n, s:n}]", o->args, o->kwargs, "callbacks", "errbacks", "chain", "chord");
	bodys = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
	if (bodys == NULL)
		return NULL;
	b64 = cr_b64_encode((const unsigned char *)bodys, strlen(bodys));
	free(bodys);
	if (b64 == NULL)
		return NULL;
	env = json_object();
	json_object_set_new(env, "body", json_string(b64));
	json_object_set_new(env, "content-encoding", json_string("utf-8"));
	json_object_set_new(env, "content-type", json_string("application/json"));
	json_object_set_new(env, "headers", build_headers(o));
	json_object_set_new(env, "properties", build_properties(o));
	free(b64);
	out = json_dumps(env, PY_JSON);
	json_decref(env);
	return out;
}

char *cr_celery_result_meta(const char *status, json_t *result, const char *traceback, const char *task_id)
{
	json_t *m;
	char done[40];
	int final;
	char *s;

	if (status == NULL || task_id == NULL) {
		json_decref(result);    /* stolen even on refusal */
		return NULL;
	}
	m = json_object();
	final = !strcmp(status, "SUCCESS") || !strcmp(status, "FAILURE") || !strcmp(status, "REVOKED");

	cr_iso8601_celery(cr_now_wall(), done, sizeof(done));
	json_object_set_new(m, "status", json_string(status));
	json_object_set_new(m, "result", result ? result : json_null());
	json_object_set_new(m, "traceback", traceback ? json_string(traceback) : json_null());
	json_object_set_new(m, "children", json_array());
	json_object_set_new(m, "date_done", final ? json_string(done) : json_null());
	json_object_set_new(m, "task_id", json_string(task_id));
	s = json_dumps(m, PY_JSON);
	json_decref(m);
	return s;
}

json_t *cr_celery_exception(const char *exc_type, const char *exc_module, const char *msg)
{
	json_t *e = json_object();
	json_t *text = json_string(msg ? msg : "");

	/* A message that is not valid UTF-8 must not cost the whole FAILURE result. */
	if (text == NULL)
		text = json_string("(message is not valid UTF-8)");
	json_object_set_new(e, "exc_type", json_string(exc_type ? exc_type : "Exception"));
	json_object_set_new(e, "exc_message", json_pack("[o]", text));
	json_object_set_new(e, "exc_module", json_string(exc_module ? exc_module : "builtins"));
	return e;
}
