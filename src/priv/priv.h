/* priv: the root half of celeryrootd.  It serves the fixed request schema of
 * proto.h on its end of the socketpair, re-validating every field, and acts
 * only on the host root it was started with (never a path from net). */
#ifndef CR_PRIV_H
#define CR_PRIV_H

#include <stdint.h>
#include <sys/types.h>

#include "names.h"

/* Changes waiting for the one worker that makes them (serialised per host). */
#define PRIV_QUEUE_MAX 16

struct proto_req;

struct priv_ctx {
	int fd;                 /* priv's end of the socketpair */
	const char *root;       /* "/" or the sandbox directory, fixed at start */
	const char *hostname;
	const char (*roles)[ROLE_MAX + 1];
	int nroles;
	pid_t net_pid;          /* 0 in --priv-fd test mode */
	int lock_timeout_s;     /* dpkg lock wait bound */
	const char *audit_log;  /* "" for the default under root */
	const struct keyring *keys;   /* trusted public keys (read at start) */
	int require_signed;
	/* the change worker (priv_jobs.c) */
	pid_t worker;
	uint32_t worker_req;
	struct proto_req *queue[PRIV_QUEUE_MAX];
	size_t nqueue;
};

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

/* priv.c: answers, for the worker too. */
void priv_reply(struct priv_ctx *p, uint32_t id, struct json_t *data);   /* steals data */
void priv_progress(struct priv_ctx *p, uint32_t id, int percent, const char *pkg, const char *text);

/* priv_apt.c: read-only APT requests, answered at once; 1 if r is one. */
int priv_apt_readonly(const struct proto_req *r);
struct json_t *priv_apt(struct priv_ctx *p, const struct proto_req *r, char *err, size_t errlen);

/* priv_change.c: the changes (facts, plan, apply, verify, rollback).  Always
 * returns the reply data; a failure carries "error".  NULL only when out of
 * memory. */
struct json_t *priv_change(struct priv_ctx *p, const struct proto_req *r);

/* priv_jobs.c: changes run one at a time in a forked worker, so that priv
 * keeps answering queries meanwhile. */
int priv_jobs_submit(struct priv_ctx *p, const struct proto_req *r, char *err, size_t errlen);
/* Reaps a finished worker (after SIGCHLD) and starts the next change. */
void priv_jobs_reap(struct priv_ctx *p);
int priv_jobs_busy(const struct priv_ctx *p);

/* priv_sig.c: a signed request checked again, on the claims net forwards:
 * signature, expiry, target, the key's limits, replay, and that the request
 * asks for exactly what was signed.  Sets r->key; -1 with the reason. */
int priv_sig_check(struct priv_ctx *p, struct proto_req *r, char *err, size_t errlen);

/* audit.c: one JSON line per request acted on or refused. */
struct json_t *audit_record(const struct priv_ctx *p, const struct proto_req *r, const char *outcome,
			    struct json_t *data);
void audit_write(const struct priv_ctx *p, struct json_t *rec);
void audit_refusal(const struct priv_ctx *p, uint32_t id, const char *type, const char *reason);
void audit_refusal_req(const struct priv_ctx *p, const struct proto_req *r, const char *reason);

#endif
