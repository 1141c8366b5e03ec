/* A rollout's plan: its sizes from the options, its waves, and the plan as
 * stored in Redis (and read back, as hostile input: a Redis writer may have
 * edited it). */
#include "config.h"
#include "rollout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crerr.h"
#include "rconn.h"

void ro_key(char *buf, size_t len, const char *id, const char *suffix)
{
	snprintf(buf, len, RO_PREFIX "%s%s", id, suffix);
}

/* "N" or "N%" (N% of n); pct rounds up (a wave) or down (a budget). */
static int parse_count(const char *s, long *v, int *pct)
{
	char *end;
	long x = strtol(s, &end, 10);

	*pct = *end == '%';
	if (end == s || x < 0 || (*pct && (end[1] != '\0' || x > 100)) || (!*pct && *end != '\0') ||
	    x > 1000000)
		return -1;
	*v = x;
	return 0;
}

static int parse_secs(const char *s, double *v)
{
	char *end;
	double x = strtod(s, &end);

	if (end == s || *end != '\0' || !(x >= 0 && x <= 86400))
		return -1;
	*v = x;
	return 0;
}

int ro_parse_opt(int c, const char *arg, struct ro_opts *ro)
{
	int pct = 0;

	switch (c) {
	case 0x101:
		if (parse_count(arg, &ro->canary, &pct) < 0 || pct || ro->canary < 1) {
			cli_err("--canary needs a number of hosts (1 or more), got '%s'", arg);
			return -1;
		}
		break;
	case 0x102:
		if (parse_count(arg, &ro->batch, &ro->batch_pct) < 0 || ro->batch < 1) {
			cli_err("--batch needs a wave size: N hosts or N%% of them (1 or more), got '%s'", arg);
			return -1;
		}
		break;
	case 0x103:
		if (parse_count(arg, &ro->max_failures, &ro->max_failures_pct) < 0) {
			cli_err("--max-failures needs a number of hosts or a percentage (0 to 100%%), got '%s'", arg);
			return -1;
		}
		break;
	case 0x104:
		if (parse_secs(arg, &ro->pause_s) < 0) {
			cli_err("--pause needs seconds between 0 and 86400, got '%s'", arg);
			return -1;
		}
		break;
	case 0x105:
		if (parse_secs(arg, &ro->wave_timeout_s) < 0 || ro->wave_timeout_s <= 0) {
			cli_err("--wave-timeout needs seconds above 0 and at most 86400, got '%s'", arg);
			return -1;
		}
		break;
	case 0x106: ro->detach = 1; break;
	case 0x107: ro->resume = 1; return 1;
	case 0x108: ro->abort = 1; return 1;
	default: return 0;
	}
	ro->given = 1;
	return 1;
}

void ro_sizes(const struct ro_opts *ro, size_t nd, long *canary, long *batch, long *max_failures)
{
	long n = (long)nd;

	*canary = ro->canary > n ? n : ro->canary;
	if (ro->batch == 0)
		*batch = n - *canary;   /* the rest in one wave */
	else if (ro->batch_pct)
		*batch = (ro->batch * n + 99) / 100;
	else
		*batch = ro->batch;
	if (*batch < 1)
		*batch = 1;
	*max_failures = ro->max_failures_pct ? ro->max_failures * n / 100 : ro->max_failures;
}

int ro_plan_cut(struct ro_plan *p, size_t n)
{
	size_t w = 0, at = 0, most = n + 2;

	p->start = calloc(most, sizeof(*p->start));
	if (p->start == NULL)
		return -1;
	if (p->canary > 0 && n > 0) {
		p->start[w++] = 0;
		at = (size_t)p->canary;
	}
	for (; at < n; at += (size_t)p->batch)
		p->start[w++] = at;
	p->start[w] = n;
	p->nwaves = w;
	return 0;
}

json_t *ro_plan_json(const struct ro_plan *p, const char *target, json_t *args, json_t *kwargs)
{
	json_t *waves = json_array();

	for (size_t w = 0; w < p->nwaves; w++) {
		json_t *wave = json_array();
		for (size_t i = p->start[w]; i < p->start[w + 1]; i++) {
			const struct job_task *t = &p->job.t[i];
			json_array_append_new(wave, json_pack("{s:s, s:s, s:s}", "host", t->host, "queue", t->queue,
							      "task_id", t->task_id));
		}
		json_array_append_new(waves, wave);
	}
	/* Integers only: the plan is signed, and canonical JSON has no reals. */
	return json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "job",
			 p->job.id, "operation", p->job.operation, "task", p->job.task, "args", args, "kwargs",
			 kwargs, "target", target, "created", (json_int_t)p->job.created, "hosts",
			 (json_int_t)p->job.n, "canary", (json_int_t)p->canary, "batch", (json_int_t)p->batch,
			 "max_failures", (json_int_t)p->max_failures, "pause_ms", (json_int_t)llround(p->pause_s * 1000),
			 "wave_timeout_ms", (json_int_t)llround(p->wave_timeout_s * 1000), "waves", waves);
}

/* One stored task of a wave into t: -1 when anything is not a name. */
static int plan_task(json_t *e, struct job_task *t)
{
	const char *host = json_string_value(json_object_get(e, "host"));
	const char *q = json_string_value(json_object_get(e, "queue"));
	const char *id = json_string_value(json_object_get(e, "task_id"));

	if (host == NULL || q == NULL || id == NULL || !cr_valid_task_id(id) || !cr_valid_queue_name(q) ||
	    (host[0] && !cr_valid_hostname(host)))
		return -1;
	cr_copy_str(t->host, sizeof(t->host), host);
	cr_copy_str(t->queue, sizeof(t->queue), q);
	cr_copy_str(t->task_id, sizeof(t->task_id), id);
	t->online = 1;
	return 0;
}

/* The waves of the stored plan into p: 0, or -1 with err. */
static int plan_waves(struct ro_plan *p, json_t *waves, char *err, size_t len)
{
	size_t n = 0, w, i;
	json_t *wave, *e;

	if (!json_is_array(waves) || json_array_size(waves) > RO_WAVES_MAX) {
		snprintf(err, len, "its waves are not a list");
		return -1;
	}
	json_array_foreach(waves, w, wave)
		n += json_is_array(wave) ? json_array_size(wave) : 0;
	p->nwaves = json_array_size(waves);
	p->start = calloc(p->nwaves + 1, sizeof(*p->start));
	p->job.t = calloc(n ? n : 1, sizeof(*p->job.t));
	if (p->start == NULL || p->job.t == NULL || n > 100000) {
		snprintf(err, len, "it is too large");
		return -1;
	}
	json_array_foreach(waves, w, wave) {
		if (!json_is_array(wave) || json_array_size(wave) == 0) {
			snprintf(err, len, "wave %zu is empty or not a list", w + 1);
			return -1;
		}
		p->start[w] = p->job.n;
		json_array_foreach(wave, i, e)
			if (plan_task(e, &p->job.t[p->job.n++]) < 0) {
				snprintf(err, len, "wave %zu names an invalid host, queue or task id", w + 1);
				return -1;
			}
	}
	p->start[p->nwaves] = p->job.n;
	return 0;
}

static int plan_decode(struct ro_plan *p, const char *id, char *err, size_t len)
{
	json_t *r = p->raw;
	const char *op = json_string_value(json_object_get(r, "operation"));
	const char *task = json_string_value(json_object_get(r, "task"));
	const char *job = json_string_value(json_object_get(r, "job"));

	if (job == NULL || strcmp(job, id) != 0 || op == NULL || task == NULL ||
	    !cr_copy_str(p->job.operation, sizeof(p->job.operation), op) ||
	    !cr_copy_str(p->job.task, sizeof(p->job.task), task)) {
		snprintf(err, len, "it does not name this job, its operation and task");
		return -1;
	}
	cr_copy_str(p->job.id, sizeof(p->job.id), id);
	p->job.created = (double)json_integer_value(json_object_get(r, "created"));
	p->canary = (long)json_integer_value(json_object_get(r, "canary"));
	p->batch = (long)json_integer_value(json_object_get(r, "batch"));
	p->max_failures = (long)json_integer_value(json_object_get(r, "max_failures"));
	p->pause_s = (double)json_integer_value(json_object_get(r, "pause_ms")) / 1000;
	p->wave_timeout_s = (double)json_integer_value(json_object_get(r, "wave_timeout_ms")) / 1000;
	if (p->canary < 0 || p->max_failures < 0 || !(p->pause_s >= 0 && p->pause_s <= 86400) ||
	    !(p->wave_timeout_s > 0 && p->wave_timeout_s <= 86400)) {
		snprintf(err, len, "its sizes or times are out of range");
		return -1;
	}
	return plan_waves(p, json_object_get(r, "waves"), err, len);
}

int ro_plan_load(redisContext *c, const char *id, struct ro_plan *p, char *err, size_t len)
{
	char key[RO_KEY_MAX];
	redisReply *r;

	memset(p, 0, sizeof(*p));
	ro_key(key, sizeof(key), id, "");
	r = cr_rconn_cmd(c, "GET", key, NULL);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		snprintf(err, len, "%s", r && r->str ? r->str : c->errstr);
		if (r)
			freeReplyObject(r);
		return -2;
	}
	if (r->type == REDIS_REPLY_STRING)
		p->raw = json_loadb(r->str, r->len, 0, NULL);
	int nil = r->type == REDIS_REPLY_NIL;
	freeReplyObject(r);
	if (nil)
		return -1;
	if (p->raw == NULL || plan_decode(p, id, err, len) < 0) {
		if (p->raw == NULL)
			snprintf(err, len, "it is not JSON");
		ro_plan_free(p);
		return -3;
	}
	return 0;
}

void ro_plan_free(struct ro_plan *p)
{
	job_free(&p->job);
	free(p->start);
	p->start = NULL;
	json_decref(p->raw);
	p->raw = NULL;
}
