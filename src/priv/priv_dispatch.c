/* priv's dispatch: the table of the requests it serves, each with its
 * policy (PRIV_ONCE, PRIV_NEEDS_SIG, PRIV_CHANGES...), enforced here in one
 * place before any handler runs, in the manner of OpenSSH's mon_dispatch;
 * and the handlers of the reads.  Changes go to the change queue
 * (priv_jobs.c), whose change child runs priv_change.c. */
#include "config.h"
#include "priv.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crerr.h"
#include "hostsig.h"
#include "log.h"
#include "ops.h"
#include "proto.h"

static void priv_refuse(struct priv_ctx *p, uint32_t id, const char *reason)
{
	priv_refuse_audited(p, id, reason, NULL);
}

/* ---- handlers ----------------------------------------------------------- */

static void h_hello(struct priv_ctx *p, const struct proto_req *r)
{
	json_t *info = priv_os_info(p->root);
	char pk[HOSTSIG_PK_B64_MAX];

	if (info == NULL) {
		priv_refuse(p, r->id, "out of memory");
		return;
	}
	/* The host key's public half, for the registry (known_hosts pins it). */
	cr_hostsig_pk_encode(p->hostkey->pk, pk);
	priv_reply(p, r->id,
		   json_pack("{s:I, s:s, s:s?, s:O, s:O, s:s, s:s}", "priv_pid", (json_int_t)getpid(),
			     "version", PACKAGE_VERSION, "hostname", p->hostname, "os_pretty",
			     json_object_get(info, "os_pretty"), "kernel",
			     json_object_get(info, "kernel"), "root", p->root, "host_key", pk));
	json_decref(info);
}

static void h_ping(struct priv_ctx *p, const struct proto_req *r)
{
	priv_answer(p, r, priv_ping_data(p));
}

/* A facts failure is not a refusal (the request was valid): the reply
 * carries the reason, so that the task reports a failed host. */
static void h_facts(struct priv_ctx *p, const struct proto_req *r)
{
	char err[CR_ERR_MAX] = "";
	json_t *facts = priv_facts(p->root, err, sizeof(err));

	if (facts == NULL) {
		error_f("facts for task %s failed: %s", r->task[0] ? r->task : "-", err);
		priv_answer(p, r, json_pack("{s:s}", "error", err[0] ? err : "facts failed"));
		return;
	}
	priv_answer(p, r, facts);
}

/* The read-only APT requests (query, list), answered here and now; as with
 * facts, an APT failure is a reply that says why, not a refusal. */
static void h_apt(struct priv_ctx *p, const struct proto_req *r)
{
	char err[CR_ERR_MAX] = "";
	json_t *d;

	if ((d = priv_apt(p, r, err, sizeof(err))) == NULL) {
		error_f("apt %s for task %s failed: %s", r->op, r->task, err);
		priv_answer(p, r, json_pack("{s:s}", "error", err[0] ? err : "apt operation failed"));
		return;
	}
	priv_answer(p, r, d);
}

/* ---- the dispatch table and its policy ----------------------------------- */

/* What each request type may do, checked in priv_dispatch() (priv_admit)
 * before any handler runs, as OpenSSH's monitor checks MON_ONCE and
 * MON_PERMIT in mon_dispatch:
 *   PRIV_ONCE       served once per connection: a repeat is refused (audited)
 *   PRIV_NEEDS_SIG  a task: where signing is required (require_signed), it is
 *                   refused unless it carries a signature priv verifies; any
 *                   signature it carries is verified (priv_sig.c)
 *   PRIV_CHANGES    changes the host: goes through the window (priv_defer.c),
 *                   the audit budget and the change queue (priv_jobs.c),
 *                   whose change child writes its audit line; no handler here
 *   PRIV_OP_CHANGES CHANGES is the operation's own (ops.h CR_OP_CHANGES)
 *   PRIV_READ       when it does not change the host, a read: counted into
 *                   the window's summary line (audit_rate.c) */
enum { PRIV_ONCE = 1, PRIV_NEEDS_SIG = 2, PRIV_CHANGES = 4, PRIV_OP_CHANGES = 8, PRIV_READ = 16 };

struct priv_handler {
	uint8_t type;
	unsigned flags;
	void (*fn)(struct priv_ctx *p, const struct proto_req *r);   /* reads */
};

static const struct priv_handler priv_handlers[] = {
	{ REQ_HELLO, PRIV_ONCE, h_hello },
	{ REQ_PING, PRIV_NEEDS_SIG | PRIV_READ, h_ping },
	{ REQ_FACTS, PRIV_NEEDS_SIG | PRIV_READ, h_facts },
	{ REQ_APT, PRIV_NEEDS_SIG | PRIV_OP_CHANGES | PRIV_READ, h_apt },
};
/* A bit of priv_ctx.served_once per row. */
_Static_assert(sizeof(priv_handlers) / sizeof(priv_handlers[0]) <= 8 * sizeof(unsigned), "too many rows");

static const struct priv_handler *priv_lookup(uint8_t type)
{
	for (size_t i = 0; i < sizeof(priv_handlers) / sizeof(priv_handlers[0]); i++)
		if (priv_handlers[i].type == type)
			return &priv_handlers[i];
	return NULL;
}

static int priv_changes(const struct priv_handler *h, const struct proto_req *r)
{
	const struct cr_op *op = cr_op_by_req(r->type, r->op);

	if (h->flags & PRIV_CHANGES)
		return 1;
	return (h->flags & PRIV_OP_CHANGES) && op != NULL && (op->flags & CR_OP_CHANGES);
}

/* The policy: 0 to go on, or -1 when r was refused (and audited). */
static int priv_admit(struct priv_ctx *p, const struct priv_handler *h, struct proto_req *r)
{
	unsigned bit = 1u << (h - priv_handlers);   /* the row's, not the wire's number */
	char err[CR_ERR_MAX] = "";

	if (h->flags & PRIV_ONCE) {
		if (p->served_once & bit) {
			snprintf(err, sizeof(err), "repeated %s refused: it may come once", cr_proto_type_name(r->type));
			priv_refuse_audited(p, r->id, err, priv_audit_refusal(p, r->id, cr_proto_type_name(r->type), err));
			return -1;
		}
		p->served_once |= bit;
	}
	if (!(h->flags & PRIV_NEEDS_SIG) || (r->sig == NULL && !p->require_signed))
		return 0;   /* no task, or unsigned where that is allowed */
	if (r->sig == NULL)
		snprintf(err, sizeof(err), "unsigned %s refused: this host requires signed tasks",
			 cr_proto_type_name(r->type));
	else if (priv_sig_check(p, r, err, sizeof(err)) == 0)
		return 0;
	priv_refuse_audited(p, r->id, err, priv_audit_refusal_req(p, r, err));
	return -1;
}

/* A change: deferred outside the windows, refused past the audit budget,
 * else queued for the change child (which writes its audit line). */
static void priv_admit_change(struct priv_ctx *p, const struct proto_req *r)
{
	char err[CR_ERR_MAX] = "";

	if (priv_defer(p, r))
		return;
	if (priv_audit_rate_action(p) < 0)
		snprintf(err, sizeof(err), "refused: more than %d changes in %d s (priv's audit budget, "
			 "audit_changes_per_minute); send it again later",
			 p->audit_actions > 0 ? p->audit_actions : AUDIT_ACTIONS_PER_WINDOW, AUDIT_WINDOW_S);
	/* The refusal's line names the task, its packages and its key. */
	if (err[0] || priv_jobs_submit(p, r, err, sizeof(err)) < 0)
		priv_refuse_audited(p, r->id, err, priv_audit_refusal_req(p, r, err));
}

void priv_dispatch(struct priv_ctx *p, uint8_t type, const uint8_t *payload, size_t len)
{
	const struct priv_handler *h;
	struct proto_req r;
	char err[PROTO_ERR_MAX] = "", why[PROTO_ERR_MAX + 64];

	/* Odd types are answers: an answer can never pass for a request. */
	if (type & 1) {
		snprintf(why, sizeof(why), "answer type %u (%s) sent as a request", type,
			 cr_proto_type_name(type));
		priv_refuse(p, 0, why);
		return;
	}
	if ((h = priv_lookup(type)) == NULL) {
		snprintf(why, sizeof(why), "unknown request type %u", type);
		priv_refuse(p, 0, why);
		return;
	}
	memset(&r, 0, sizeof(r));
	if (cr_proto_req_decode(type, payload, len, &r, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "malformed %s: %s", cr_proto_type_name(type),
			 err[0] ? err : "rejected by the decoder");
		priv_refuse_audited(p, r.id, why, type == REQ_APT ? priv_audit_refusal(p, r.id, "APT", why) : NULL);
		return;
	}
	r.type = type;   /* the frame's type is the one that was checked */
	int admitted = priv_admit(p, h, &r);
	cr_proto_req_clear(&r);   /* checked: the handlers act on the request itself */
	if (admitted < 0)
		return;
	debug_f("request %u: %s (job %s, task %s)", r.id, cr_proto_type_name(type),
		r.job[0] ? r.job : "-", r.task[0] ? r.task : "-");
	if (priv_changes(h, &r)) {
		priv_admit_change(p, &r);
		return;
	}
	/* Reads are not written one by one: counted per window (audit_rate.c). */
	if (h->flags & PRIV_READ)
		priv_audit_rate_read(p, &r);
	h->fn(p, &r);
}

