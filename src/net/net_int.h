/* State shared by the files of net (not part of any interface). */
#ifndef CR_NET_INT_H
#define CR_NET_INT_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>

#include "celery.h"
#include "crconfig.h"
#include "registry.h"
#include "sign.h"
#include "winconf.h"

#define NET_MAX_QUEUES (1 + REG_MAX_ROLES)
#define NET_MAX_KEYS (NET_MAX_QUEUES * CELERY_PRIORITY_STEPS)
/* priv serialises changes itself and answers queries meanwhile, so net can
 * hold a few tasks at once: a query is not stuck behind a long upgrade. */
#define NET_MAX_INFLIGHT 4

struct inflight {
	int used;
	uint32_t req_id;
	const struct task_def *def;
	struct celery_msg msg;
	double started_wall;
	double started_mono;
	double hold_until;       /* mono time; 0 when not holding */
	json_t *reply;           /* priv's answer data, kept while holding */
	struct sig_claims claims; /* a signed task's claims (owned); key[0] == 0 if unsigned */
};

struct net_state {
	const struct cr_config *cfg;
	const struct broker_addr *broker;
	const struct keyring *trusted; /* public keys that may sign; loaded before the sandbox */
	const struct host_window *windows; /* this host's maintenance windows (none: always open) */
	size_t nwindows;
	char *windows_json;      /* the same, as published with the heartbeat */
	int privfd;
	redisContext *bc;        /* blocking consumer: BRPOP only */
	redisContext *cc;        /* everything else */
	int brpop_pending;
	double brpop_resume;     /* mono time: no BRPOP before (after an error reply) */
	double brpop_quiet_until; /* mono time: that error is not logged again before */
	size_t nkeys;
	char keys[NET_MAX_KEYS][CELERY_QUEUE_MAX + 4];
	struct inflight fl[NET_MAX_INFLIGHT];
	uint32_t next_req;
	double next_heartbeat;
	double next_restore;
	double next_release;     /* deferred tasks whose window opened */
	struct host_rec self;
	int priv_pid;
	int stopping;
};

extern volatile sig_atomic_t net_stop_flag;

/* net.c */
int net_redis_ensure(struct net_state *st);
void net_redis_drop(struct net_state *st);
struct proto_req;
int net_priv_request(struct net_state *st, const struct proto_req *r);
int net_inflight_count(const struct net_state *st);

/* worker.c: consuming and kombu's unacked bookkeeping */
void worker_build_keys(struct net_state *st);
int worker_declare_queues(struct net_state *st);
int worker_brpop_send(struct net_state *st);
void worker_on_brpop(struct net_state *st, redisReply *r);
int worker_ack(struct net_state *st, const char *tag);
void worker_restore_visible(struct net_state *st);
void worker_keepalive(struct net_state *st);
int worker_requeue_raw(struct net_state *st, const char *queue, const char *payload, size_t len);

/* results.c: Celery's Redis result backend */
int result_write(struct net_state *st, const char *task_id, const char *status, json_t *result);
int result_failure(struct net_state *st, const char *task_id, const char *exc_type,
		   const char *exc_module, const char *msg);
int result_started(struct net_state *st, const char *task_id);

/* heartbeat.c: the registry record */
int heartbeat_send(struct net_state *st);
int heartbeat_stopped(struct net_state *st);

/* tasks.c: the task table */
struct task_def {
	const char *name;
	uint8_t req_type;   /* args and kwargs are checked by taskreq.c */
	/* Builds the record data from priv's reply data (borrowed). */
	json_t *(*data)(struct net_state *st, const struct inflight *f, json_t *reply);
};
const struct task_def *task_lookup(const char *name);
/* tasks_apt.c: the celeryroot.apt.* tasks */
const struct task_def *tasks_apt_lookup(const char *name);
/* audit.c: priv's audit records, to the capped stream for central review */
#define AUDIT_STREAM "celeryroot:audit"
#define AUDIT_STREAM_MAXLEN 100000
void audit_publish(struct net_state *st, json_t *rec);
void audit_publish_refusal(struct net_state *st, const char *task_id, const char *task, const char *key,
			   const char *why);
/* defer.c: maintenance windows */
struct proto_req;
int defer_check(struct net_state *st, struct celery_msg *m, const struct proto_req *r, char *err, size_t errlen);
void defer_release(struct net_state *st);
/* A change run outside the maintenance windows because it said now=true. */
void audit_publish_override(struct net_state *st, const char *task_id, const char *task, json_t *packages);
/* netsig.c: signed tasks */
int netsig_check(struct net_state *st, const struct celery_msg *m, struct sig_claims *c, char *err, size_t errlen);
int netsig_take_nonce(struct net_state *st, const struct sig_claims *c, const char *task_id, char *err,
		      size_t errlen);
void netsig_nonce_done(struct net_state *st, const struct sig_claims *c, const char *task_id);
void tasks_start(struct net_state *st, struct celery_msg *m);
void tasks_on_answer(struct net_state *st, uint8_t type, const uint8_t *payload, size_t len);
void tasks_tick(struct net_state *st);

#endif
