/* The audit log's budget (priv.h, AUDIT_*): net is treated as hostile, and
 * a hostile net must not be able to fill the disk through the one log it
 * cannot touch (issue 12: 74.6 MB of refusals in 5 s).  Time is cut into
 * windows of AUDIT_WINDOW_S seconds, opened by the first event:
 *
 *   refusals  the first AUDIT_REFUSALS_PER_WINDOW are written one by one;
 *             the rest are counted, and the window ends with one line
 *             {"outcome": "refused", "coalesced": N, "types", "keys", ...};
 *   reads     (ping, facts, query, list) are answered and counted, and the
 *             window ends with one line {"operation": "reads", "reads": {...},
 *             "keys": {...}}: who read what is on the record, per window;
 *   changes   (checks too: each writes its line) beyond
 *             AUDIT_ACTIONS_PER_WINDOW ([daemon] audit_changes_per_minute) are
 *             refused, as refusals.
 *
 * So per window priv writes at most AUDIT_REFUSALS_PER_WINDOW refusal lines
 * (each under 2 KiB: the reason is bounded by the frame's error field), two
 * summary lines and AUDIT_ACTIONS_PER_WINDOW change lines; the size cap and
 * rotation (priv_audit_file.c) bound the whole.  Summary lines go to net too
 * (ANS_AUDIT), so the stream stays a copy of the file. */
#include "config.h"
#include "crerr.h"
#include "priv.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "ops.h"
#include "proto.h"
#include "timeutil.h"

static void counts_add(struct audit_counts *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->name[i], name)) {
			c->count[i]++;
			return;
		}
	if (c->n < AUDIT_COUNTS_MAX) {
		cr_copy_printable(c->name[c->n], sizeof(c->name[0]), name);
		c->count[c->n++] = 1;
	} else {
		c->other++;
	}
}

static json_t *counts_json(const struct audit_counts *c)
{
	json_t *o = json_object();

	for (int i = 0; o && i < c->n; i++)
		json_object_set_new(o, c->name[i], json_integer((json_int_t)c->count[i]));
	if (o && c->other)
		json_object_set_new(o, "(other)", json_integer((json_int_t)c->other));
	return o;
}

static double window_s(const struct priv_ctx *p)
{
	return p->audit_window_s > 0 ? p->audit_window_s : AUDIT_WINDOW_S;
}

static void window_open(struct audit_rate *w)
{
	if (w->start == 0) {
		w->start = cr_now_mono();
		w->start_wall = cr_now_wall();
	}
}

int priv_audit_rate_refusal(struct priv_ctx *p, const char *type, const char *key, const char *reason)
{
	struct audit_rate *w = &p->rate;

	priv_audit_rate_tick(p);
	window_open(w);
	if (w->refusals < AUDIT_REFUSALS_PER_WINDOW) {
		if (++w->refusals == AUDIT_REFUSALS_PER_WINDOW)
			info_f("%d refusals in this window: further ones are counted into one audit line", w->refusals);
		return 1;
	}
	w->coalesced++;
	counts_add(&w->refused_types, type && type[0] ? type : "-");
	counts_add(&w->refused_keys, key && key[0] ? key : "-");
	cr_copy_printable(w->last_reason, sizeof(w->last_reason), reason ? reason : "");
	return 0;
}

int priv_audit_rate_action(struct priv_ctx *p)
{
	struct audit_rate *w = &p->rate;

	priv_audit_rate_tick(p);
	window_open(w);
	if (w->actions >= (unsigned)(p->audit_actions > 0 ? p->audit_actions : AUDIT_ACTIONS_PER_WINDOW))
		return -1;
	w->actions++;
	return 0;
}

void priv_audit_rate_read(struct priv_ctx *p, const struct proto_req *r)
{
	struct audit_rate *w = &p->rate;

	priv_audit_rate_tick(p);
	window_open(w);
	w->reads++;
	counts_add(&w->read_ops, cr_op_req_name(r->type, r->op));
	counts_add(&w->read_keys, r->key[0] ? r->key : "-");
}

static json_t *summary(const struct priv_ctx *p, const char *outcome, const char *operation)
{
	char when[64], since[64];

	priv_audit_iso_now(when, sizeof(when));
	cr_iso8601_utc(p->rate.start_wall, since, sizeof(since));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "time", when, "host", p->hostname ? p->hostname : "",
			 "outcome", outcome, "operation", operation, "since", since, "window_s", (int)window_s(p));
}

static void write_summary(struct priv_ctx *p, json_t *line)
{
	if (line != NULL && priv_audit_write(p, line) == 0)
		priv_audit_notify(p, line);
	json_decref(line);
}

static void flush(struct priv_ctx *p)
{
	struct audit_rate *w = &p->rate;
	char why[CR_ERR_MAX];
	json_t *line;

	if (w->coalesced > 0 && (line = summary(p, "refused", "")) != NULL) {
		snprintf(why, sizeof(why), "%lu more refusal(s) in this window were counted, not written one by one; the "
			 "last: %s", w->coalesced, w->last_reason);
		json_object_set_new(line, "coalesced", json_integer((json_int_t)w->coalesced));
		json_object_set_new(line, "types", counts_json(&w->refused_types));
		json_object_set_new(line, "keys", counts_json(&w->refused_keys));
		json_object_set_new(line, "error", json_string(why));
		info_f("%lu refusal(s) coalesced into one audit line", w->coalesced);
		write_summary(p, line);
	}
	if (w->reads > 0 && (line = summary(p, "answered", "reads")) != NULL) {
		json_object_set_new(line, "reads", counts_json(&w->read_ops));
		json_object_set_new(line, "keys", counts_json(&w->read_keys));
		json_object_set_new(line, "count", json_integer((json_int_t)w->reads));
		write_summary(p, line);
	}
	memset(w, 0, sizeof(*w));
}

double priv_audit_rate_tick(struct priv_ctx *p)
{
	double left;

	if (p->rate.start == 0)
		return -1;
	if ((left = p->rate.start + window_s(p) - cr_now_mono()) > 0)
		return left;
	flush(p);
	return -1;
}

void priv_audit_rate_finish(struct priv_ctx *p)
{
	if (p->rate.start != 0)
		flush(p);
}
