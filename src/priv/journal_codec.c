/* The change journal's entries as JSON, and strictly back.  priv reads
 * these files after a crash, so the decoder accepts exactly what the encoder
 * writes, with every bound checked (tests/fuzz/fuzz_journal.c). */
#include "config.h"
#include "journal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkgspec.h"

#define JOURNAL_VERSION 1
#define ATTEMPT_MAX 1000000

void priv_journal_iso_time(double t, char *buf, size_t len)
{
	time_t sec = (time_t)t;
	struct tm tm;

	if (!isfinite(t) || t < 0 || gmtime_r(&sec, &tm) == NULL) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((t - (double)sec) * 1000) % 1000);
}

void priv_journal_entry_clear(struct journal_entry *e)
{
	json_decref(e->packages);
	json_decref(e->reply);
	memset(e, 0, sizeof(*e));
}

char *priv_journal_encode(const struct journal_entry *e, size_t *len)
{
	json_t *o;
	char *text;

	if (!cr_valid_task_id(e->task) || (e->phase != JOURNAL_STARTED && e->phase != JOURNAL_FINISHED) ||
	    !json_is_array(e->packages) || (e->phase == JOURNAL_FINISHED && !json_is_object(e->reply)))
		return NULL;
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:O, s:s, s:f, s:I, s:i}", "version", JOURNAL_VERSION, "phase",
		      e->phase == JOURNAL_STARTED ? "started" : "finished", "task", e->task, "job", e->job, "op",
		      e->op, "packages", e->packages, "started", e->started, "started_s", e->started_s, "pid",
		      (json_int_t)e->pid, "attempt", e->attempt);
	if (o != NULL && e->phase == JOURNAL_FINISHED) {
		json_object_set_new(o, "finished", json_string(e->finished));
		json_object_set_new(o, "audited", json_boolean(e->audited));
		json_object_set(o, "reply", e->reply);
	}
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text != NULL && len != NULL)
		*len = strlen(text);
	return text;
}

/* ---- decoding ------------------------------------------------------------- */

static int bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "bad journal entry: %s", what);
	return -1;
}

/* A string field of at most cap - 1 printable ASCII bytes. */
static int get_str(json_t *o, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (s == NULL || n >= cap || strlen(s) != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return -1;
	memcpy(out, s, n + 1);
	return 0;
}

static int packages_ok(json_t *a)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) > PKG_SPECS_MAX)
		return 0;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || json_string_length(v) > PKG_SPEC_MAX ||
		    cr_pkgspec_parse(json_string_value(v), NULL, NULL, 0) < 0)
			return 0;
	}
	return 1;
}

static int only_keys(json_t *o, const char *const *keys, size_t n)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		size_t i = 0;
		while (i < n && strcmp(k, keys[i]) != 0)
			i++;
		if (i == n)
			return 0;
	}
	return 1;
}

static int decode_common(json_t *o, const char *task, struct journal_entry *e, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, "started_s");
	json_int_t pid = json_integer_value(json_object_get(o, "pid"));
	json_int_t attempt = json_integer_value(json_object_get(o, "attempt"));

	if (json_integer_value(json_object_get(o, "version")) != JOURNAL_VERSION)
		return bad(err, errlen, "unknown version");
	if (get_str(o, "task", e->task, sizeof(e->task)) < 0 || !cr_valid_task_id(e->task) || strcmp(e->task, task) != 0)
		return bad(err, errlen, "task");
	if (get_str(o, "job", e->job, sizeof(e->job)) < 0 || (e->job[0] && !cr_valid_task_id(e->job)))
		return bad(err, errlen, "job");
	if (get_str(o, "op", e->op, sizeof(e->op)) < 0 || get_str(o, "started", e->started, sizeof(e->started)) < 0)
		return bad(err, errlen, "op or start time");
	if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
		return bad(err, errlen, "started_s");
	if (!json_is_integer(json_object_get(o, "pid")) || pid <= 0 || pid > 0x7fffffff)
		return bad(err, errlen, "pid");
	if (!json_is_integer(json_object_get(o, "attempt")) || attempt < 1 || attempt > ATTEMPT_MAX)
		return bad(err, errlen, "attempt");
	if (!packages_ok(json_object_get(o, "packages")))
		return bad(err, errlen, "packages");
	e->started_s = json_number_value(v);
	e->pid = (long)pid;
	e->attempt = (int)attempt;
	e->packages = json_incref(json_object_get(o, "packages"));
	return 0;
}

static int decode_finished(json_t *o, struct journal_entry *e, char *err, size_t errlen)
{
	json_t *audited = json_object_get(o, "audited"), *reply = json_object_get(o, "reply");

	if (get_str(o, "finished", e->finished, sizeof(e->finished)) < 0)
		return bad(err, errlen, "finish time");
	if (!json_is_boolean(audited) || !json_is_object(reply))
		return bad(err, errlen, "audited or reply");
	e->audited = json_is_true(audited);
	e->reply = json_incref(reply);
	return 0;
}

int priv_journal_decode(const char *buf, size_t len, const char *task, struct journal_entry *e, char *err,
		   size_t errlen)
{
	static const char *const started_keys[] = { "version", "phase",   "task", "job",     "op",
						     "packages", "started", "started_s", "pid", "attempt" };
	static const char *const finished_keys[] = { "version",   "phase", "task",    "job",      "op",
						      "packages",  "started", "started_s", "pid",  "attempt",
						      "finished", "audited", "reply" };
	json_error_t je;
	json_t *o;
	const char *phase;
	int rc;

	memset(e, 0, sizeof(*e));
	if (buf == NULL || len > JOURNAL_MAX_BYTES)
		return bad(err, errlen, "too large");
	if ((o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) == NULL || !json_is_object(o)) {
		json_decref(o);
		return bad(err, errlen, "not a JSON object");
	}
	phase = json_string_value(json_object_get(o, "phase"));
	if (phase != NULL && !strcmp(phase, "started") && only_keys(o, started_keys, 10))
		e->phase = JOURNAL_STARTED;
	else if (phase != NULL && !strcmp(phase, "finished") && only_keys(o, finished_keys, 13))
		e->phase = JOURNAL_FINISHED;
	rc = e->phase ? decode_common(o, task, e, err, errlen) : bad(err, errlen, "phase or keys");
	if (rc == 0 && e->phase == JOURNAL_FINISHED)
		rc = decode_finished(o, e, err, errlen);
	json_decref(o);
	if (rc < 0)
		priv_journal_entry_clear(e);
	return rc;
}
