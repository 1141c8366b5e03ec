/* priv: the root half of celeryrootd.  It serves the fixed request schema of
 * proto.h on its end of the socketpair, re-validating every field, and acts
 * only on the host root it was started with (never a path from net). */
#ifndef CR_PRIV_H
#define CR_PRIV_H

#include <stdint.h>
#include <sys/types.h>

#include "names.h"

/* Changes waiting for the one change child that makes them (serialised per host). */
#define PRIV_QUEUE_MAX 16

/* What net can make priv write to its audit log is bounded (issue 12): in
 * each window of AUDIT_WINDOW_S seconds at most AUDIT_REFUSALS_PER_WINDOW
 * refusals are written one by one, the rest are counted into one summary
 * line; reads are counted into one summary line; and at most
 * AUDIT_ACTIONS_PER_WINDOW changes (and checks) are admitted, each with
 * its line (more are refused, and counted). */
#define AUDIT_WINDOW_S 60
/* Tests only: a shorter window (1..60 s), read at start. */
#define AUDIT_WINDOW_ENV "CELERYROOT_TEST_AUDIT_WINDOW"
#define AUDIT_REFUSALS_PER_WINDOW 20
#define AUDIT_ACTIONS_PER_WINDOW 300
#define AUDIT_COUNTS_MAX 8

/* A few named counters; what does not fit is counted under "other". */
struct audit_counts {
	int n;
	char name[AUDIT_COUNTS_MAX][72];
	unsigned long count[AUDIT_COUNTS_MAX];
	unsigned long other;
};

struct audit_rate {
	double start;              /* monotonic start of the window; 0: none open */
	double start_wall;
	unsigned refusals;         /* written one by one in this window */
	unsigned long coalesced;   /* counted instead */
	char last_reason[200];
	struct audit_counts refused_types, refused_keys;
	unsigned actions;          /* changes admitted in this window */
	unsigned long reads;
	struct audit_counts read_ops, read_keys;
};

struct proto_req;
struct host_key;
struct host_window;
struct nonce_store;

struct priv_ctx {
	int fd;                 /* priv's end of the socketpair */
	const char *root;       /* "/" or the sandbox directory, fixed at start */
	const char *hostname;
	const char (*roles)[ROLE_MAX + 1];
	int nroles;
	pid_t net_pid;          /* 0 in --priv-fd test mode */
	int lock_timeout_s;     /* dpkg lock wait bound */
	const char *audit_log;  /* "" for the default under root */
	long audit_max_bytes;   /* rotated past this size (priv_audit_file.c) */
	int audit_keep;         /* rotated files kept */
	int audit_actions;      /* changes admitted per window (0: AUDIT_ACTIONS_PER_WINDOW) */
	struct audit_rate rate; /* priv's own: the change child writes one line per change */
	double audit_window_s;  /* AUDIT_WINDOW_S (tests: CELERYROOT_TEST_AUDIT_WINDOW) */
	int allow_unauthenticated; /* install from archives apt cannot authenticate */
	int apt_cache_idle_s;   /* the read cache is given back after this long unused (priv_apt.c) */
	const struct keyring *keys;   /* trusted public keys (read at start) */
	int require_signed;
	const struct host_key *hostkey; /* signs every record and audit line (hostkey.c) */
	const struct host_window *windows; /* this host's maintenance windows (none: always open) */
	size_t nwindows;
	struct nonce_store *nonces;     /* signed requests seen (nonces.h), kept on disk */
	unsigned served_once;           /* PRIV_ONCE rows served, a bit each (priv_dispatch.c) */
	/* the change child (priv_jobs.c) */
	pid_t change_child;
	struct proto_req *change_req;  /* its request, kept to resume it once */
	int change_resumed;            /* that request already ran again once */
	struct proto_req *queue[PRIV_QUEUE_MAX];
	size_t nqueue;
};

/* hostkey.c: loads the host key from root's state directory, creating it
 * (*created = 1) at the first start.  -1 with a one-line reason when it
 * cannot be read or written, is readable by others or is not root's. */
int priv_hostkey_load(const char *root, struct host_key *k, int *created, char *err, size_t errlen);

/* Loads the denylist (seccomp) that priv and everything it spawns inherit.
 * Returns 0, or -1 with the reason logged. */
int priv_sandbox_apply(void);
/* Where AppArmor is enabled, logs the profile priv runs under (the unit's
 * AppArmorProfile= or the path attachment of apparmor/celeryrootd).
 * apparmor is enum cr_apparmor: with "require", running unconfined (or
 * without AppArmor) is an error, -1; otherwise 0. */
int priv_apparmor_check(int apparmor);
/* Serves requests until the peer closes the socket or SIGTERM arrives and
 * the peer has finished.  Never returns an error for a bad request: it is
 * refused, logged, and priv goes on.  Returns the exit status for main. */
int priv_serve(struct priv_ctx *p);

/* Facts about the host root, as a JSON object (owned by the caller):
 * {"os": {...os-release fields...}, "os_pretty", "kernel", "uptime_s",
 *  "installed_packages", "apt_lists_age_s" (null if never updated)}. */
struct json_t;
struct json_t *priv_facts(const char *root, char *err, size_t errlen);
/* The cheap part of the facts, for HELLO (no apt cache):
 * {"os", "os_pretty", "kernel", "arch", "root"}; NULL only when out of memory. */
struct json_t *priv_os_info(const char *root);

/* root + "/" + rel (just "/" + rel for the real root); 0 if it does not fit. */
int priv_root_path(char *buf, size_t len, const char *root, const char *rel);
/* Age of the apt lists in seconds; -1 when never updated. */
int priv_lists_age(const char *root, double *age);
struct json_t *priv_lists_age_json(const char *root);
/* Marks the lists fresh (apt's update-success-stamp). */
void priv_lists_touch(const char *root);

/* priv_lock.c: "var/lib/dpkg/lock-frontend is held by process N (comm)"; 0 if unheld. */
int priv_lock_holder(const char *root, char *out, size_t len);

/* priv_dispatch.c: one request from net, checked against the dispatch
 * table's policy and handed to its handler (or the change queue); anything
 * else is refused. */
void priv_dispatch(struct priv_ctx *p, uint8_t type, const uint8_t *payload, size_t len);

/* priv.c: answers, for the change child too. */
void priv_reply(struct priv_ctx *p, uint32_t id, struct json_t *data);   /* steals data */
void priv_progress(struct priv_ctx *p, uint32_t id, int percent, const char *pkg, const char *text);
/* priv_answer.c: the signed record (hostsig.h) of r's answer.  data
 * (stolen) is what the operation answered (cr_record_from_answer: "error",
 * "changed", the record's own fields, the rest becoming its "data"; an
 * "audit" line goes to net beside the record). */
void priv_answer(struct priv_ctx *p, const struct proto_req *r, struct json_t *data);
/* A record already built (a deferral): task and job added, signed, sent
 * with the audit line when there is one.  Steals both. */
void priv_send_record(struct priv_ctx *p, const struct proto_req *r, struct json_t *rec, struct json_t *audit);
/* What a ping answers: host, roles, version, net_pid, priv_pid. */
struct json_t *priv_ping_data(const struct priv_ctx *p);

/* priv_defer.c: a disruptive change outside every maintenance window is
 * answered here with a signed "deferred" record; 1 when r was answered so,
 * 0 when it runs now. */
int priv_defer(struct priv_ctx *p, const struct proto_req *r);

/* priv_apt.c: read-only APT requests (no CR_OP_CHANGES in the operation
 * table), answered at once; 1 if r is one. */
int priv_apt_readonly(const struct proto_req *r);
struct json_t *priv_apt(struct priv_ctx *p, const struct proto_req *r, char *err, size_t errlen);
int priv_apt_handles(const char *op);
/* Gives the APT cache back once it has gone unused for apt_cache_idle_s
 * (DESIGN §7).  Called from priv's loop between requests only, so never
 * under one.  Returns the seconds until it should be called again, or -1
 * when no cache is open. */
double priv_apt_idle_tick(struct priv_ctx *p);

/* What the change child knows from the change journal (priv_child.c)
 * before a change runs. */
struct dpkg_snap;
struct change_start {
	/* dpkg's view when the task first started, before any repair (the
	 * journal's copy): the "before" of the record. */
	const struct dpkg_snap *before;
	/* An earlier run of this task was cut short: {"started", "pid",
	 * "attempt"} from the journal (borrowed); NULL otherwise. */
	struct json_t *interrupted;
};

/* priv_change.c: the changes (facts, repair, plan, apply, verify,
 * rollback).  start is NULL in check mode (nothing is journaled) and for
 * update and clean.  Always returns the reply data; a failure carries
 * "error".  NULL only when out of memory. */
struct json_t *priv_change(struct priv_ctx *p, const struct proto_req *r, const struct change_start *start);
/* Every APT operation of the operation table (ops.h) has its handler, here
 * for a change, in priv_apt.c for a read: -1 with the one that has none
 * (priv does not start). */
int priv_ops_check(char *err, size_t errlen);

/* priv_child.c: the change child's whole life: the change lock, the
 * journal, the change, the audit line and the reply.  Never returns. */
void priv_child_run(struct priv_ctx *p, const struct proto_req *r) __attribute__((noreturn));

/* priv_jobs.c: changes run one at a time in a forked change child, so that priv
 * keeps answering queries meanwhile. */
int priv_jobs_submit(struct priv_ctx *p, const struct proto_req *r, char *err, size_t errlen);
/* Reaps a finished change child (after SIGCHLD) and anything priv adopted as the
 * subreaper, and starts the next change. */
void priv_jobs_reap(struct priv_ctx *p);
int priv_jobs_busy(const struct priv_ctx *p);
/* priv is stopping (net has gone, or SIGTERM): drops the changes not
 * started (net left them in Redis: they are delivered again) and waits for
 * the one in hand, and for anything it left behind, to finish.  dpkg is
 * never cut short. */
void priv_jobs_finish(struct priv_ctx *p);

/* priv_sig.c: a signed request (r->sig set) checked again, on the claims
 * net forwards: signature, expiry, target, the key's limits, replay, and
 * that the request asks for exactly what was signed.  Sets r->key; -1 with
 * the reason.  An unsigned request is the dispatch policy's (priv_dispatch.c). */
int priv_sig_check(struct priv_ctx *p, struct proto_req *r, char *err, size_t errlen);

/* priv_audit.c: one signed, chained JSON line per request acted on or refused
 * (refusals coalesced past the window's budget; reads summed per window). */
struct json_t *priv_audit_record(const struct priv_ctx *p, const struct proto_req *r, const char *outcome,
			    struct json_t *data);
/* Appends rec, which gets seq, prev and sig.  0, or -1 (logged). */
int priv_audit_write(const struct priv_ctx *p, struct json_t *rec);
/* A refusal: its line when written (new reference, for net's stream), or
 * NULL when it was only counted (or could not be written). */
struct json_t *priv_audit_refusal(struct priv_ctx *p, uint32_t id, const char *type, const char *reason);
struct json_t *priv_audit_refusal_req(struct priv_ctx *p, const struct proto_req *r, const char *reason);
/* "2026-03-29T01:00:00.123Z" now; len at least 64. */
void priv_audit_iso_now(char *buf, size_t len);

/* priv_audit_file.c: appends rec to path under the log's lock, with seq, prev
 * (continued across rotated files) and sig; rotates first when the line
 * would take the file past max_bytes (keep older files). */
struct host_key;
int priv_audit_file_append(const char *path, long max_bytes, int keep, struct json_t *rec, const struct host_key *k);

/* priv_audit_rate.c: the window's budget.  Each returns what to do now. */
/* 1: write this refusal's line; 0: counted into the window's summary. */
int priv_audit_rate_refusal(struct priv_ctx *p, const char *type, const char *key, const char *reason);
/* 0: a change may be admitted (and audited); -1: over the budget. */
int priv_audit_rate_action(struct priv_ctx *p);
void priv_audit_rate_read(struct priv_ctx *p, const struct proto_req *r);
/* Ends the window when it is over: writes its summary lines (each also
 * sent to net as ANS_AUDIT).  Returns the seconds until it should be
 * called again, or -1 when no window is open. */
double priv_audit_rate_tick(struct priv_ctx *p);
/* priv is stopping: what the open window counted is written now. */
void priv_audit_rate_finish(struct priv_ctx *p);
/* priv.c: an audit line priv wrote on its own, to net for the stream. */
void priv_audit_notify(struct priv_ctx *p, struct json_t *line);
/* A refusal that carries the audit line written for it (stolen; may be NULL). */
void priv_refuse_audited(struct priv_ctx *p, uint32_t id, const char *reason, struct json_t *line);

#endif
