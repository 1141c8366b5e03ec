/* Where schedules live: runtime ones as JSON under celeryroot:schedule:NAME
 * (indexed in the set celeryroot:schedules), config ones in [schedule NAME]
 * sections of the config file. */
#include "config.h"
#include "schedule.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crerr.h"
#include "rconn.h"

#define SECTION_PREFIX "schedule "

int schedule_store(redisContext *c, const struct schedule *s, int replace, char *err, size_t errlen)
{
	char key[sizeof(SCHED_PREFIX) + SCHED_NAME_MAX];
	json_t *o = schedule_to_json(s);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	redisReply *r = NULL;
	int rc = -1;

	json_decref(o);
	snprintf(key, sizeof(key), SCHED_PREFIX "%s", s->name);
	if (text)
		r = cr_rconn_cmd(c, "SET", key, text, replace ? "XX" : "NX", NULL);
	if (r && r->type == REDIS_REPLY_STATUS) {
		redisReply *a = cr_rconn_cmd(c, "SADD", SCHED_INDEX, s->name, NULL);
		rc = a && !cr_rconn_is_error(a) ? 0 : -1;
		if (a)
			freeReplyObject(a);
		if (rc < 0)
			snprintf(err, errlen, "cannot index schedule %s in Redis", s->name);
	} else if (r && r->type == REDIS_REPLY_NIL) {
		snprintf(err, errlen, replace ? "no schedule named %s" : "a schedule named %s exists already (remove it first)",
			 s->name);
		rc = replace ? -CR_E_MISSING : -CR_E_EXISTS;
	} else {
		snprintf(err, errlen, "cannot store schedule %s: %s", s->name,
			 r && r->type == REDIS_REPLY_ERROR ? r->str : "no answer from the broker");
	}
	if (r)
		freeReplyObject(r);
	free(text);
	return rc;
}

int schedule_delete(redisContext *c, const char *name)
{
	char key[sizeof(SCHED_PREFIX) + SCHED_NAME_MAX], state[sizeof(SCHED_STATE_PREFIX) + SCHED_NAME_MAX];
	redisReply *r;
	long long n = -1;

	snprintf(key, sizeof(key), SCHED_PREFIX "%s", name);
	snprintf(state, sizeof(state), SCHED_STATE_PREFIX "%s", name);
	r = cr_rconn_cmd(c, "DEL", key, state, NULL);
	if (r && r->type == REDIS_REPLY_INTEGER)
		n = r->integer;
	if (r)
		freeReplyObject(r);
	if ((r = cr_rconn_cmd(c, "SREM", SCHED_INDEX, name, NULL)) != NULL)
		freeReplyObject(r);
	return n < 0 ? -1 : n > 0;
}

/* ---- config sections --------------------------------------------------- */

struct cfg_ctx {
	struct schedule *v;
	size_t n;
	int bad;
};

static struct schedule *cfg_entry(struct cfg_ctx *x, const char *name)
{
	for (size_t i = 0; i < x->n; i++)
		if (!strcmp(x->v[i].name, name))
			return &x->v[i];
	if (x->n >= SCHED_MAX || strlen(name) > SCHED_NAME_MAX)
		return NULL;
	struct schedule *s = &x->v[x->n++];
	cr_copy_str(s->name, sizeof(s->name), name);
	cr_copy_str(s->tz, sizeof(s->tz), "UTC");
	s->from_config = 1;
	s->enabled = 1;
	s->command = json_array();
	return s;
}

/* "apt upgrade --security" into words: no quoting, no shell. */
static void set_command(struct schedule *s, const char *v)
{
	char buf[1024], *save = NULL;

	json_array_clear(s->command);
	if (!cr_copy_str(buf, sizeof(buf), v))
		return;
	for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		json_array_append_new(s->command, json_string(w));
}

static int on_cfg(void *user, const char *section, const char *key, const char *value)
{
	struct cfg_ctx *x = user;
	struct schedule *s;

	if (strncmp(section, SECTION_PREFIX, strlen(SECTION_PREFIX)) != 0)
		return 1;
	if ((s = cfg_entry(x, section + strlen(SECTION_PREFIX))) == NULL) {
		san_fprintf(stderr, "celeryroot: [%s]: too many schedules or name too long\n", section);
		x->bad = 1;
		return 1;
	}
	if ((!strcmp(key, "cron") && cr_copy_str(s->cron, sizeof(s->cron), value)) ||
	    (!strcmp(key, "tz") && cr_copy_str(s->tz, sizeof(s->tz), value)) ||
	    (!strcmp(key, "target") && cr_copy_str(s->target, sizeof(s->target), value)))
		return 1;
	if (!strcmp(key, "command")) {
		set_command(s, value);
		return 1;
	}
	if (!strcmp(key, "enabled") && (!strcmp(value, "true") || !strcmp(value, "false"))) {
		s->enabled = !strcmp(value, "true");
		return 1;
	}
	san_fprintf(stderr, "celeryroot: [%s]: bad key '%s' (allowed: cron, tz, target, command, enabled = true|false)\n",
		    section, key);
	x->bad = 1;
	return 1;
}

/* Config schedules: all valid, or an error (a reviewed file must not be half used). */
static int load_config(const char *path, struct cfg_ctx *x)
{
	char err[CR_ERR_MAX];
	int rc = ini_parse(path, on_cfg, x);

	if (rc == -1)
		return 0;   /* no config file: no config schedules */
	if (rc != 0 || x->bad) {
		san_fprintf(stderr, "celeryroot: %s: invalid schedule section%s\n", path, rc > 0 ? " (syntax)" : "");
		return -1;
	}
	for (size_t i = 0; i < x->n; i++)
		if (schedule_check(&x->v[i], err, sizeof(err)) < 0) {
			san_fprintf(stderr, "celeryroot: %s: %s\n", path, err);
			return -1;
		}
	return 0;
}

static void load_runtime(redisContext *c, struct cfg_ctx *x)
{
	redisReply *names = cr_rconn_cmd(c, "SMEMBERS", SCHED_INDEX, NULL);
	char key[sizeof(SCHED_PREFIX) + SCHED_NAME_MAX], err[768];

	for (size_t i = 0; names && names->type == REDIS_REPLY_ARRAY && i < names->elements && x->n < SCHED_MAX; i++) {
		const char *name = names->element[i]->str;
		int clash = 0;
		if (name == NULL || !valid_schedule_name(name))
			continue;
		for (size_t j = 0; j < x->n; j++)
			clash |= x->v[j].from_config && !strcmp(x->v[j].name, name);
		snprintf(key, sizeof(key), SCHED_PREFIX "%s", name);
		redisReply *r = clash ? NULL : cr_rconn_cmd(c, "GET", key, NULL);
		json_t *o = r && r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, 0, NULL) : NULL;
		const char *named = json_string_value(json_object_get(o, "name"));
		/* Under its own name only: its state and fire claims are kept by name. */
		if (o && (named == NULL || strcmp(named, name) != 0))
			san_fprintf(stderr, "celeryroot: skipping stored schedule %s: it is named '%.64s' inside\n", name,
				    named ? named : "");
		else if (o && schedule_from_json(o, &x->v[x->n], err, sizeof(err)) == 0)
			x->n++;
		else if (o)
			san_fprintf(stderr, "celeryroot: skipping stored schedule %s: %s\n", name, err);
		json_decref(o);
		if (r)
			freeReplyObject(r);
	}
	if (names)
		freeReplyObject(names);
}

int schedules_load(redisContext *c, const char *config_path, struct schedule **out, size_t *n)
{
	struct cfg_ctx x = { calloc(SCHED_MAX, sizeof(struct schedule)), 0, 0 };

	*out = NULL;
	*n = 0;
	if (x.v == NULL || load_config(config_path, &x) < 0) {
		schedules_free(x.v, x.n);
		return -1;
	}
	if (c)
		load_runtime(c, &x);
	*out = x.v;
	*n = x.n;
	return 0;
}

void schedules_free(struct schedule *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		schedule_free(&v[i]);
	free(v);
}
