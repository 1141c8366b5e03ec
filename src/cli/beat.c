/* celeryroot beat: fires the schedules.  Several beat processes may run on
 * one Redis for availability; one holds the leader lease
 * (celeryroot:beat:leader, SET NX PX, renewed under WATCH so a lost lease is
 * never renewed) and only the holder fires.  Each fire time is also claimed
 * once (celeryroot:beat:fired:NAME:TIME, SET NX), so even two processes that
 * both think they lead cannot run one schedule twice for one time.  A
 * standby takes over within BEAT_LEASE_MS + one tick of the holder's death;
 * fire times missed meanwhile run once, late (several missed times of one
 * schedule collapse into one run). */
#include "config.h"
#include "schedule.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "crerr.h"
#include "log.h"
#include "rconn.h"
#include "rollout.h"

#define BEAT_LEADER "celeryroot:beat:leader"
#define BEAT_FIRED "celeryroot:beat:fired:"
/* The newest signed definition of each schedule any beat has seen, kept
 * where only beats may write (celeryroot acl): a restarted or second beat
 * is not fed an older one either.  Kept a year after it was last seen. */
#define BEAT_SEEN "celeryroot:beat:seen:"
#define BEAT_SEEN_TTL "31536000"
#define BEAT_LEASE_MS 10000
#define BEAT_TICK_MS 500
/* Fire times further back than this are not caught up (a beat that was down
 * for a week does not run last Tuesday's job). */
#define BEAT_CATCHUP_S (24 * 3600)

static volatile sig_atomic_t beat_stop;

static void on_stop(int sig)
{
	(void)sig;
	beat_stop = 1;
}

static void beat_help(FILE *f)
{
	fprintf(f,
		"usage: celeryroot beat [--config FILE] [--broker URL]\n"
		"\n"
		"Fires the schedules ('celeryroot schedule list') at their cron times.  Run\n"
		"two or more on different machines for availability: one leads, the others\n"
		"take over within %d s if it dies; no schedule fires twice for one time.\n"
		"Tasks are signed when [cli] signing_key is set (give beat its own key).\n"
		"A runtime schedule ('celeryroot schedule add') fires only when a key in\n"
		"[beat] trusted_keys (default " TRUSTED_KEYS_DEFAULT ") signed its definition,\n"
		"within that key's operations and roles; each refusal is logged once.  The\n"
		"keys are read at start.\n"
		"\n"
		"examples:\n"
		"  celeryroot beat\n"
		"  celeryroot beat --config /etc/celeryroot/celeryroot.conf\n", BEAT_LEASE_MS / 1000 + 1);
}

/* 1 leader, 0 not, -1 broker error. */
static int lead(redisContext *c, const char *me, int leading)
{
	char ms[16];
	redisReply *r;
	int rc = 0;

	snprintf(ms, sizeof(ms), "%d", BEAT_LEASE_MS);
	if (!leading) {
		r = cr_rconn_cmd(c, "SET", BEAT_LEADER, me, "NX", "PX", ms, NULL);
		rc = r == NULL ? -1 : r->type == REDIS_REPLY_STATUS;
		if (r)
			freeReplyObject(r);
		return rc;
	}
	/* Renew only if still ours: WATCH, GET, MULTI, PEXPIRE, EXEC. */
	if ((r = cr_rconn_cmd(c, "WATCH", BEAT_LEADER, NULL)) == NULL)
		return -1;
	freeReplyObject(r);
	r = cr_rconn_cmd(c, "GET", BEAT_LEADER, NULL);
	int mine = r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, me);
	if (r)
		freeReplyObject(r);
	if (!mine) {
		if ((r = cr_rconn_cmd(c, "UNWATCH", NULL)) != NULL)
			freeReplyObject(r);
		return 0;
	}
	r = cr_rconn_cmd(c, "MULTI", NULL);
	if (r)
		freeReplyObject(r);
	r = cr_rconn_cmd(c, "PEXPIRE", BEAT_LEADER, ms, NULL);
	if (r)
		freeReplyObject(r);
	r = cr_rconn_cmd(c, "EXEC", NULL);
	rc = r == NULL ? -1 : r->type == REDIS_REPLY_ARRAY;
	if (r)
		freeReplyObject(r);
	return rc;
}

static void resign(redisContext *c, const char *me)
{
	redisReply *r = cr_rconn_cmd(c, "GET", BEAT_LEADER, NULL);

	if (r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, me)) {
		freeReplyObject(r);
		r = cr_rconn_cmd(c, "DEL", BEAT_LEADER, NULL);
	}
	if (r)
		freeReplyObject(r);
}

/* The schedule's last fire time, or its baseline (when beat first saw it). */
static int last_fire(redisContext *c, const struct schedule *s, time_t now, time_t *out)
{
	char key[sizeof(SCHED_STATE_PREFIX) + SCHED_NAME_MAX], base[24];
	redisReply *r;

	snprintf(key, sizeof(key), SCHED_STATE_PREFIX "%s", s->name);
	r = cr_rconn_cmd(c, "HMGET", key, "last_fire", "baseline", NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		if (r)
			freeReplyObject(r);
		return -1;
	}
	if (r->element[0]->str || r->element[1]->str) {
		*out = (time_t)atoll(r->element[0]->str ? r->element[0]->str : r->element[1]->str);
		freeReplyObject(r);
		return 0;
	}
	freeReplyObject(r);
	/* A new schedule starts now: nothing before it was ever due. */
	snprintf(base, sizeof(base), "%lld", (long long)now);
	if ((r = cr_rconn_cmd(c, "HSETNX", key, "baseline", base, NULL)) != NULL)
		freeReplyObject(r);
	*out = now;
	return 0;
}

/* The latest fire time in (after, now], or 0 when none is due. */
static time_t due(const struct schedule *s, time_t after, time_t now)
{
	time_t t = after, next, latest = 0;

	if (after < now - BEAT_CATCHUP_S)
		t = now - BEAT_CATCHUP_S;
	for (int i = 0; i < 100000 && cr_cron_next(&s->expr, s->tz, t, &next) == 0 && next <= now; i++)
		latest = t = next;
	return latest;
}

/* Claims one fire time (value: this beat, then the job it sent), so that
 * nothing can send it twice. */
static int claim(redisContext *c, const struct schedule *s, time_t when, const char *value, int first)
{
	char key[sizeof(BEAT_FIRED) + SCHED_NAME_MAX + 24];
	redisReply *r;
	int ok;

	snprintf(key, sizeof(key), BEAT_FIRED "%s:%lld", s->name, (long long)when);
	r = first ? cr_rconn_cmd(c, "SET", key, value, "NX", "EX", "172800", NULL)
		  : cr_rconn_cmd(c, "SET", key, value, "XX", "KEEPTTL", NULL);
	ok = r && r->type == REDIS_REPLY_STATUS;
	if (r)
		freeReplyObject(r);
	return ok;
}

/* What beat trusts and remembers between ticks. */
struct beat_state {
	struct keyring keys;                    /* [beat] trusted_keys */
	struct {
		char name[SCHED_NAME_MAX + 1];
		long long signed_at;            /* the newest trusted definition seen */
		char said[96];                  /* the last refusal logged */
	} seen[SCHED_MAX];
	size_t nseen;
};

/* The newest signed_at stored for name (0 when none or unreadable). */
static long long seen_stored(redisContext *c, const char *name)
{
	char key[sizeof(BEAT_SEEN) + SCHED_NAME_MAX];
	redisReply *r;
	long long v = 0;

	snprintf(key, sizeof(key), BEAT_SEEN "%s", name);
	r = cr_rconn_cmd(c, "GET", key, NULL);
	if (r && r->type == REDIS_REPLY_STRING && r->len < 24)
		v = strtoll(r->str, NULL, 10);
	if (r)
		freeReplyObject(r);
	return v > 0 ? v : 0;
}

static void seen_store(redisContext *c, const char *name, long long signed_at)
{
	char key[sizeof(BEAT_SEEN) + SCHED_NAME_MAX], val[24];
	redisReply *r;

	snprintf(key, sizeof(key), BEAT_SEEN "%s", name);
	snprintf(val, sizeof(val), "%lld", signed_at);
	if ((r = cr_rconn_cmd(c, "SET", key, val, "EX", BEAT_SEEN_TTL, NULL)) == NULL || r->type != REDIS_REPLY_STATUS)
		error_f("cannot note the newest definition of schedule %s: a restarted beat could be fed an older one",
			name);
	if (r)
		freeReplyObject(r);
}

static size_t seen_slot(struct beat_state *b, const char *name)
{
	for (size_t i = 0; i < b->nseen; i++)
		if (!strcmp(b->seen[i].name, name))
			return i;
	if (b->nseen == SCHED_MAX)
		return SCHED_MAX;
	cr_copy_str(b->seen[b->nseen].name, sizeof(b->seen[0].name), name);
	return b->nseen++;
}

/* Whether s may fire: config schedules always; runtime ones when a key beat
 * trusts signed them, within its operations, and no older than a definition
 * of that name already seen (an earlier one put back by a Redis writer).
 * A refusal is logged once per definition. */
static int may_fire(redisContext *c, struct beat_state *b, struct schedule *s, const struct trusted_key **signer)
{
	/* Judged even when disabled: a disabled definition beat has seen makes
	 * the enabled one before it stale. */
	size_t slot = seen_slot(b, s->name);
	char said[96];

	*signer = schedule_judge(s, &b->keys, NULL);
	if (s->trust == ST_CONFIG)
		return s->enabled;
	if (s->trust == ST_TRUSTED && slot < SCHED_MAX) {
		long long stored = seen_stored(c, s->name);
		if (stored > b->seen[slot].signed_at)
			b->seen[slot].signed_at = stored;
		if (s->signed_at < b->seen[slot].signed_at) {
			s->trust = ST_STALE;
		} else {
			if (s->signed_at > stored)
				seen_store(c, s->name, s->signed_at);
			b->seen[slot].signed_at = s->signed_at;
		}
	}
	if (s->trust == ST_TRUSTED)
		return s->enabled;
	if (!s->enabled)
		return 0;
	snprintf(said, sizeof(said), "%d:%s:%lld", (int)s->trust, s->signer, s->signed_at);
	if (slot < SCHED_MAX && strcmp(b->seen[slot].said, said) != 0) {
		cr_copy_str(b->seen[slot].said, sizeof(b->seen[slot].said), said);
		error_f("schedule %s is not fired: %s%s%s (runtime schedules fire only when signed by a key in beat's "
			"trusted keys, within its limits)", s->name, schedule_trust_name(s->trust),
			s->has_sig ? ", signed as " : "", s->has_sig ? s->signer : "");
	}
	return 0;
}

static void tick(struct cli_opts *o, redisContext *c, const char *config, const char *me, struct beat_state *b)
{
	struct schedule *all = NULL;
	size_t n = 0;
	time_t now = (time_t)cr_clock_now(), last, when;

	if (schedules_load(c, config, &all, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct trusted_key *signer = NULL;
		if (!may_fire(c, b, &all[i], &signer) || last_fire(c, &all[i], now, &last) < 0)
			continue;
		if ((when = due(&all[i], last, now)) == 0 || !claim(c, &all[i], when, me, 1))
			continue;
		info_f("schedule %s: due at %lld, firing%s", all[i].name, (long long)when,
		       now - when > 5 ? " (late)" : "");
		char job[TASK_ID_MAX + 1];
		int rc = schedule_run(o, c, &all[i], (double)when, 0, signer, job, sizeof(job));
		if (rc == EXIT_PENDING)
			error_f("schedule %s: job %s may not have been sent (the broker went away while sending)",
				all[i].name, job);
		if (rc != EXIT_OK && rc != EXIT_PENDING)
			error_f("schedule %s: the job could not be sent", all[i].name);
		else
			claim(c, &all[i], when, job, 0);
	}
	schedules_free(all, n);
}

static int beat_loop(struct cli_opts *o, const char *config, const char *me, struct beat_state *b)
{
	redisContext *c = NULL;
	int leading = 0;

	while (!beat_stop) {
		char err[CR_ERR_MAX];
		if (c == NULL && (c = cr_rconn_connect(&o->broker, 5.0, err, sizeof(err))) == NULL) {
			char where[CR_ERR_MAX];
			cr_broker_describe(&o->broker, where, sizeof(where));
			error_f("%s; retrying (broker %s)", err, where);
		}
		if (c) {
			int l = lead(c, me, leading);
			if (l != leading && l >= 0)
				info_f(l ? "leading: this beat fires the schedules" : "standing by: another beat leads");
			if (l < 0) {
				error_f("lost the broker; reconnecting");
				cr_rconn_free(c);
				c = NULL;
				leading = 0;
			} else {
				leading = l;
				if (leading)
					tick(o, c, config, me, b);
				if (leading && !c->err)
					ro_beat_tick(o, c, me);   /* detached rollouts */
			}
		}
		struct timespec ts = { BEAT_TICK_MS / 1000, (BEAT_TICK_MS % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !beat_stop)
			;
	}
	if (c) {
		if (leading)
			resign(c, me);
		cr_rconn_free(c);
	}
	info_f("stopped");
	return EXIT_OK;
}

/* [beat] trusted_keys must load when it is set; the default directory may
 * be missing (then only config-file schedules fire, said once). */
static int load_keys(struct cli_opts *o, struct beat_state *b)
{
	char err[CR_ERR_MAX];

	if (schedule_keyring(&o->cfg, &b->keys, err, sizeof(err)) == 0) {
		info_f("%d trusted keys sign runtime schedules", b->keys.n);
		return 0;
	}
	if (o->cfg.beat_trusted_keys[0]) {
		cli_err("%s", err);
		return -1;
	}
	memset(&b->keys, 0, sizeof(b->keys));
	info_f("%s: no trusted keys, so no runtime schedule fires (only the config file's); set [beat] trusted_keys", err);
	return 0;
}

int cmd_beat(int argc, char **argv)
{
	struct cli_opts *o = calloc(1, sizeof(*o));
	char me[HOSTNAME_MAX + 64], host[HOSTNAME_MAX + 1] = "?", err[512] = "";
	struct sigaction sa;
	int first, rc;

	if (o == NULL)
		return EXIT_USAGE;
	first = cli_parse(argc, argv, o, 0, beat_help);
	if (first < 0 || first != argc) {
		if (first >= 0)
			cli_err("beat takes no arguments; see 'celeryroot beat --help'");
		free(o);
		return EXIT_USAGE;
	}
	cr_config_defaults(&o->cfg);
	int must;
	const char *config = cli_config(o->config_path, &must);
	struct schedule *all = NULL;
	size_t n = 0;
	/* A bad config is an error at start, not a silent gap later. */
	if (cr_config_load(&o->cfg, config, must, err, sizeof(err)) < 0 ||
	    cr_broker_from(o->broker_url, &o->cfg, &o->broker, o->url, sizeof(o->url), err, sizeof(err)) < 0 ||
	    schedules_load(NULL, config, &all, &n) < 0) {
		if (err[0])
			cli_err("%s", err);
		free(o);
		return EXIT_USAGE;
	}
	schedules_free(all, n);
	cr_log_init("celeryroot-beat", LOG_L_INFO, 0);
	struct beat_state *b = calloc(1, sizeof(*b));
	if (b == NULL || load_keys(o, b) < 0) {
		free(b);
		free(o);
		return EXIT_USAGE;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(me, sizeof(me), "%s:%ld:%08lx", host, (long)getpid(), (unsigned long)random());
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	char where[CR_ERR_MAX];
	cr_broker_describe(&o->broker, where, sizeof(where));
	info_f("beat %s on %s with the schedules of %s", me, where, config);
	rc = beat_loop(o, config, me, b);
	free(b);
	free(o);
	return rc;
}
