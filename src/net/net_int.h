/* State shared by the files of net (not part of any interface). */
#ifndef CR_NET_INT_H
#define CR_NET_INT_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>

#include "celery.h"
#include "crerr.h"
#include "crconfig.h"
#include "registry.h"
#include "sign.h"
#include "winconf.h"

#define NET_MAX_QUEUES (1 + REG_MAX_ROLES)
#define NET_MAX_KEYS (NET_MAX_QUEUES * CELERY_PRIORITY_STEPS)
#define NET_KEY_MAX (CELERY_QUEUE_MAX + 4)
/* priv serialises changes itself and answers queries meanwhile, so net can
 * hold a few tasks at once: a query is not stuck behind a long upgrade. */
#define NET_MAX_INFLIGHT 4
#define NET_DOWN_WHY 4      /* reasons logged per outage (net.c link_note_down) */
/* priv's own audit lines (window summaries) waiting for the broker. */
#define NET_AUDIT_QUEUE 64

/* A message net has taken: it sits in the host's own list
 * celeryroot:taken:<host> (moved there atomically from its queue by LMOVE
 * or BLMOVE) from the moment it left the queue until the transaction that
 * writes its result removes it, so no crash, restart or lost connection
 * can lose it; see net_consumer.c. */
enum slot_state {
	SLOT_FREE = 0,
	SLOT_RUNNING,   /* sent to priv, waiting for its answer */
	SLOT_HOLDING,   /* answered; kept open for kwargs.hold (tests) */
	SLOT_SETTLING,  /* answered; its result is written with the next commit */
};

/* What the commit of a settled message writes, in one MULTI/EXEC with the
 * removal from the taken list (consumer_commit). */
struct settle {
	char *meta;              /* Celery result meta JSON; NULL for none */
	char *audit;             /* a record for the audit stream; NULL for none */
	int nonce_done;          /* mark the signed task's nonce used */
	char *defer;             /* envelope to put in the deferred set; NULL if not deferred */
	long long defer_at;      /* its score: when the window opens */
	double retry_at;         /* mono time of the next commit attempt */
};

struct cr_op;

struct inflight {
	int state;               /* enum slot_state */
	uint32_t req_id;
	const struct cr_op *def;        /* its row of the operation table */
	struct celery_msg msg;
	char *raw;               /* the message exactly as it sits in the taken list */
	size_t rawlen;
	char src[NET_KEY_MAX];   /* the queue it was taken from ("" when recovered) */
	double started_wall;
	double started_mono;
	double hold_until;       /* mono time; 0 when not holding */
	json_t *reply;           /* priv's answer data, kept while holding */
	struct sig_claims claims; /* a signed task's claims (owned); key[0] == 0 if unsigned */
	struct settle settle;
};

/* A blocking connection: one per queue, each waiting with BLMOVE on its
 * queue's own list (BLMOVE waits on one list only). */
struct net_block {
	redisContext *c;
	int pending;             /* a BLMOVE is in flight */
	double deadline;         /* mono: no reply by then means a silent link */
};

/* The broker link: connections that live and die together. */
struct net_link {
	redisContext *cc;        /* everything but the blocking pops */
	struct net_block b[NET_MAX_QUEUES];
	size_t nb;               /* one per queue this host consumes */
	double retry_at;         /* mono: the next connection attempt */
	int attempts;            /* failed attempts since the link was last healthy */
	double up_since;         /* mono; 0 while down */
	double down_since;       /* mono; 0 while up */
	/* The reasons logged during this outage: each is logged once, so a
	 * peer that alternates between a reset and a close does not make one
	 * line per try (tests/integration/test_net_faults.py). */
	char down_why[NET_DOWN_WHY][160];
	unsigned down_nwhy;
	struct broker_endpoint master; /* Sentinel: the master this link's connections share */
};

struct net_state {
	const struct cr_config *cfg;
	const struct broker_addr *broker;
	const struct keyring *trusted; /* public keys that may sign; loaded before the sandbox */
	const struct host_window *windows; /* this host's maintenance windows (none: always open) */
	size_t nwindows;
	char *windows_json;      /* the same, as published with the heartbeat */
	int privfd;
	struct net_link link;
	double pop_resume;       /* mono time: no pop before (after an error reply) */
	double pop_quiet_until;  /* mono time: that error is not logged again before */
	int recover_pending;     /* the taken list may hold messages no slot holds */
	long oversize_at;        /* index in the taken list of a message too big to read; LONG_MIN if none */
	double next_sweep;       /* mono: when the priority sub-lists are looked at again */
	size_t nkeys;            /* keys[0..nqueues-1]: the queues; then their priority sub-lists */
	size_t nqueues;
	char keys[NET_MAX_KEYS][NET_KEY_MAX];
	char taken_key[sizeof("celeryroot:taken:") + HOSTNAME_MAX];
	struct inflight fl[NET_MAX_INFLIGHT];
	uint32_t next_req;
	double next_heartbeat;
	double next_release;     /* deferred tasks whose window opened */
	struct host_rec self;
	int priv_pid;
	int stopping;
	double stop_grace;       /* mono: when stopping, unsettled results are left for redelivery after this */
	char *audit_q[NET_AUDIT_QUEUE]; /* priv's own lines waiting for the stream (net_audit.c) */
	size_t naudit_q;
};

extern volatile sig_atomic_t net_stop_flag;

/* net.c */
/* 1 when every broker connection is up (cc and the blocking ones). */
int net_link_up(const struct net_state *st);
void net_link_drop(struct net_state *st, const char *why);
struct proto_req;
int net_priv_request(struct net_state *st, const struct proto_req *r);
int net_busy_count(const struct net_state *st);   /* slots not free */
int net_running_count(const struct net_state *st); /* slots priv still works on */

/* net_consumer.c: taking messages into the taken list, and settling them */
void net_consumer_build_keys(struct net_state *st);
int net_consumer_declare_queues(struct net_state *st, char *err, size_t errlen);
/* One step of consumption when a slot is free: take back a message from the
 * taken list that no slot holds, else LMOVE one from the priority
 * sub-lists (in kombu's order, at most once a second when they are empty).
 * 1 took one, 0 nothing now, -1 error. */
int net_consumer_take_next(struct net_state *st);
/* Starts a BLMOVE on queue q's blocking connection; -1 when it failed. */
int net_consumer_block_arm(struct net_state *st, size_t q);
int net_blocks_pending(const struct net_state *st);
void net_consumer_on_block_reply(struct net_state *st, size_t q, redisReply *r);
/* Steals the result; queues the commit that writes it and removes the
 * message from the taken list (tried now, retried until it succeeds). */
void net_consumer_settle(struct net_state *st, struct inflight *f, const char *status, json_t *result);
void net_consumer_commit_due(struct net_state *st);
void net_consumer_release(struct inflight *f);
/* Removes the message of the taken list that was too big to read (at
 * st->oversize_at), which cannot be answered: its id is inside it. */
void net_consumer_discard_oversize(struct net_state *st);

/* results.c: Celery's Redis result backend */
/* STARTED and PROGRESS: written once when the link is up, never retried
 * (the final result, written with the commit, supersedes them). */
void net_result_progress(struct net_state *st, const char *task_id, const char *status, json_t *result);
void net_result_started(struct net_state *st, const char *task_id);
/* The meta JSON Celery stores, for a commit; steals result. */
char *net_result_meta(const char *task_id, const char *status, json_t *result);

/* heartbeat.c: the registry record */
int net_heartbeat_send(struct net_state *st, char *err, size_t errlen);
int net_heartbeat_stopped(struct net_state *st);

/* tasks.c: the tasks this worker runs are the operation table's (ops.h);
 * their args and kwargs are checked by taskreq.c */
/* net_audit.c: priv's audit records, to the capped stream for central review */
#define AUDIT_STREAM "celeryroot:audit"
#define AUDIT_STREAM_MAXLEN 100000
/* The record as the commit adds it to the stream (malloc'd JSON). */
char *net_audit_stream_json(json_t *rec);
/* A line priv wrote on its own (ANS_AUDIT): added to the stream now, or
 * once the link is up again (net_audit_flush, from the main loop). */
void net_audit_queue(struct net_state *st, json_t *rec);
void net_audit_flush(struct net_state *st);
char *net_audit_refusal_json(struct net_state *st, const char *task_id, const char *task, const char *key,
			 const char *why);
/* defer.c: maintenance windows (priv decides; net commits and releases) */
struct proto_req;
/* A change sent with now=true while every window is closed: said in the stream. */
void net_defer_note_override(struct net_state *st, struct inflight *f, const struct proto_req *r);
/* priv's signed "deferred" record: the message goes to the deferred set at
 * its run_at (with the commit).  -1 with err when the deferral would
 * outlive the task (net knows its expiry) or run_at is unreadable. */
int net_defer_commit(struct inflight *f, json_t *rec, char *err, size_t errlen);
void net_defer_release(struct net_state *st);
/* A change run outside the maintenance windows because it said now=true. */
void net_audit_publish_override(struct net_state *st, const char *task_id, const char *task, json_t *packages);
/* netsig.c: signed tasks */
int net_sig_check(struct net_state *st, const struct celery_msg *m, struct sig_claims *c, char *err, size_t errlen);
/* 0 the nonce is ours; -CR_E_REPLAY refused (err says why); -CR_E_AGAIN
 * the broker could not be asked (the message stays taken; try later). */
int net_sig_take_nonce(struct net_state *st, const struct sig_claims *c, const char *task_id, char *err,
		      size_t errlen);
#define NETSIG_NONCE_KEY_MAX (sizeof("celeryroot:nonce:") + HOSTNAME_MAX + 8 + KEY_ID_MAX + SIG_NONCE_HEX + 4)
#define NETSIG_NONCE_VAL_MAX (HOSTNAME_MAX + TASK_ID_MAX + 8)
void net_sig_nonce_key(const struct sig_claims *c, char *buf, size_t len);
void net_sig_nonce_value(const struct net_state *st, const char *task_id, int done, char *buf, size_t len);
/* tasks.c: from a taken message to its settled result */
void net_tasks_start(struct net_state *st, struct inflight *f);
void net_tasks_on_answer(struct net_state *st, uint8_t type, const uint8_t *payload, size_t len);
void net_tasks_tick(struct net_state *st);

#endif
