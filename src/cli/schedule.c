/* Schedules (see schedule.h): validation and their record in Redis. */
#include "config.h"
#include "crerr.h"
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "proto.h"
#include "rconn.h"
#include "timeutil.h"

int valid_schedule_name(const char *s)
{
	return cr_valid_short_name(s, SCHED_NAME_MAX);
}

/* "--role web --host db01 --all" into a target_spec. */
static int parse_target(const char *text, struct target_spec *t, char *err, size_t errlen)
{
	char buf[sizeof(((struct schedule *)0)->target)], *save = NULL;
	static const char *const kinds[] = { "--all", "all", "--role", "role", "--host", "host", "--one-of", "one-of" };

	if (!cr_copy_str(buf, sizeof(buf), text))
		return snprintf(err, errlen, "target too long"), -1;
	for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		const char *kind = NULL, *value = "";
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i += 2)
			if (!strcmp(w, kinds[i]))
				kind = kinds[i + 1];
		if (kind == NULL)
			return snprintf(err, errlen, "target: unexpected '%.40s' (use --all, --role R, --host H, --one-of R)", w), -1;
		if (strcmp(kind, "all") != 0 && (value = strtok_r(NULL, " \t", &save)) == NULL)
			return snprintf(err, errlen, "target: %s needs a name", w), -1;
		if (cr_target_add(t, kind, value, err, errlen) < 0)
			return -1;
	}
	if (cr_target_empty(t))
		return snprintf(err, errlen, "a schedule needs a TARGET: --all, --role R, --host H or --one-of R"), -1;
	return 0;
}

/* The command, through the very parsers the CLI uses (no TARGET in it). */
static int parse_command(json_t *cmd, struct cli_task *t, char *err, size_t errlen)
{
	char *argv[64];
	size_t i, n = json_array_size(cmd);
	json_t *e;
	struct cli_opts *o;
	int rc;

	if (!json_is_array(cmd) || n == 0 || n >= sizeof(argv) / sizeof(argv[0]))
		return snprintf(err, errlen, "the command after -- is empty or longer than 63 words"), -1;
	json_array_foreach(cmd, i, e) {
		argv[i] = (char *)json_string_value(e);
		if (argv[i] == NULL || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return snprintf(err, errlen, "the command must be words of a celeryroot operation"), -1;
	}
	argv[n] = NULL;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	char said[512] = "", *cut;
	cli_err_capture = said;
	cli_err_capture_len = sizeof(said);
	const struct cr_op *op = cr_op_by_name(argv[0]);
	if (op != NULL && op->req != REQ_APT)   /* ping, facts (ops.h) */
		rc = task_build((int)n, argv, o, 0, t);
	else if (!strcmp(argv[0], "apt"))
		rc = apt_build((int)n, argv, o, 0, t);
	else
		rc = (snprintf(err, errlen, "unknown operation '%.40s': use ping, facts or apt ...", argv[0]), -2);
	cli_err_capture = NULL;
	/* A schedule must not carry what only makes sense interactively. */
	if (rc == 0 && (o->json || o->no_wait || o->wait || o->timeout_s >= 0 || o->broker_url || o->config_path))
		rc = (snprintf(err, errlen, "the command takes only the operation's own options (not --json, --wait, "
			       "--no-wait, --timeout, --broker or --config)"), -2);
	free(o);
	if ((cut = strstr(said, "; nothing was sent")) != NULL)
		*cut = '\0';
	if (rc == -1)
		snprintf(err, errlen, "command '%.60s': %s", argv[0], said[0] ? said : "invalid");
	return rc < 0 ? -1 : 0;
}

int schedule_check(struct schedule *s, char *err, size_t errlen)
{
	char why[CR_ERR_MAX];

	if (!valid_schedule_name(s->name))
		return snprintf(err, errlen, "invalid schedule name '%.80s': use [a-z0-9][a-z0-9._-]{0,62}", s->name), -1;
	if (cr_cron_parse(s->cron, &s->expr, why, sizeof(why)) < 0)
		return snprintf(err, errlen, "schedule %s: cron '%.80s': %s", s->name, s->cron, why), -1;
	if (!cr_cron_zone_valid(s->tz))
		return snprintf(err, errlen, "schedule %s: unknown time zone '%.60s' (an IANA name such as Europe/Berlin, or UTC)",
				s->name, s->tz), -1;
	if (s->spec == NULL && (s->spec = calloc(1, sizeof(*s->spec))) == NULL)
		return snprintf(err, errlen, "out of memory"), -1;
	memset(s->spec, 0, sizeof(*s->spec));
	if (parse_target(s->target, s->spec, why, sizeof(why)) < 0)
		return snprintf(err, errlen, "schedule %s: %s", s->name, why), -1;
	cli_task_free(&s->task);
	if (parse_command(s->command, &s->task, why, sizeof(why)) < 0)
		return snprintf(err, errlen, "schedule %s: %s", s->name, why), -1;
	return 0;
}

void schedule_free(struct schedule *s)
{
	json_decref(s->command);
	free(s->spec);
	cli_task_free(&s->task);
	memset(s, 0, sizeof(*s));
}

json_t *schedule_to_json(const struct schedule *s)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:O, s:b, s:s}", "name", s->name, "cron", s->cron, "tz", s->tz,
			      "target", s->target, "command", s->command, "enabled", s->enabled, "source",
			      s->from_config ? "config" : "runtime");

	if (o)
		schedule_sig_to_json(s, o);
	return o;
}

int schedule_from_json(json_t *o, struct schedule *s, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *cron = json_string_value(json_object_get(o, "cron"));
	const char *tz = json_string_value(json_object_get(o, "tz"));
	const char *target = json_string_value(json_object_get(o, "target"));
	json_t *cmd = json_object_get(o, "command");

	memset(s, 0, sizeof(*s));
	if (!name || !cron || !tz || !target || !json_is_array(cmd) || !cr_copy_str(s->name, sizeof(s->name), name) ||
	    !cr_copy_str(s->cron, sizeof(s->cron), cron) || !cr_copy_str(s->tz, sizeof(s->tz), tz) ||
	    !cr_copy_str(s->target, sizeof(s->target), target))
		return snprintf(err, errlen, "a stored schedule is malformed"), -1;
	s->command = json_incref(cmd);
	s->enabled = !json_is_false(json_object_get(o, "enabled"));
	schedule_sig_from_json(o, s);
	return schedule_check(s, err, errlen);
}
