/* priv's request loop, in the manner of OpenSSH's monitor: read one framed
 * request from net and hand it to priv_dispatch.c, which decodes it strictly
 * (net is treated as hostile), checks it against the policy of its type's
 * row of a fixed table and hands it to that row's handler.  Anything else gets an
 * ANS_REFUSED answer and a log line, and priv goes on serving: a refusal
 * must never take the host's root helper down. */
#include "config.h"
#include "priv.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "crerr.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "sigloop.h"

/* Consecutive socket read errors after which net is taken to be gone. */
#define PRIV_MAX_IO_ERRORS 3

static volatile sig_atomic_t priv_stop_flag, priv_child_flag;

static void priv_on_stop(int sig)
{
	(void)sig;
	priv_stop_flag = 1;
}

static void priv_on_child(int sig)
{
	(void)sig;
	priv_child_flag = 1;
}

/* ---- answers ------------------------------------------------------------ */

static int priv_send(struct priv_ctx *p, struct proto_ans *a)
{
	size_t len = 0;
	char *payload = cr_proto_ans_encode(a, &len);
	int rc;

	if (payload == NULL) {
		error_f("cannot encode %s for request %u", cr_proto_type_name(a->type), a->id);
		return -1;
	}
	rc = cr_frame_send(p->fd, a->type, payload, len);
	free(payload);
	if (rc != FRAME_OK) {
		error_f("cannot answer request %u: %s", a->id, cr_frame_strerror(rc));
		return -1;
	}
	return 0;
}

/* Refuses and logs: refusals are logged at a bounded rate (a flood of
 * garbage cannot fill the journal; log.h says how many were not).  The
 * reason may quote what net sent, so control bytes are masked before it
 * reaches the log (no forged log lines).  line (stolen), when priv wrote
 * an audit line for the refusal, goes with it for net's stream. */
void priv_refuse_audited(struct priv_ctx *p, uint32_t id, const char *reason, json_t *line)
{
	struct proto_ans a;

	memset(&a, 0, sizeof(a));
	a.type = ANS_REFUSED;
	a.id = id;
	a.audit = line;
	snprintf(a.text, sizeof(a.text), "%s", reason[0] ? reason : "refused");
	for (char *c = a.text; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	log_refusal("refused request %u: %s", id, a.text);
	if (priv_send(p, &a) < 0 && line != NULL) {
		a.audit = NULL;   /* too big with its line: the refusal alone */
		priv_send(p, &a);
	}
	json_decref(line);
}

static void priv_refuse(struct priv_ctx *p, uint32_t id, const char *reason)
{
	priv_refuse_audited(p, id, reason, NULL);
}

void priv_audit_notify(struct priv_ctx *p, json_t *line)
{
	struct proto_ans a;

	memset(&a, 0, sizeof(a));
	a.type = ANS_AUDIT;
	a.audit = line;
	priv_send(p, &a);
}

/* Sends data (stolen) as the final reply; an unencodable reply (too big,
 * say) becomes a refusal, so net always hears back. */
void priv_reply(struct priv_ctx *p, uint32_t id, json_t *data)
{
	struct proto_ans a;

	if (data == NULL) {
		priv_refuse(p, id, "out of memory");
		return;
	}
	memset(&a, 0, sizeof(a));
	a.type = ANS_REPLY;
	a.id = id;
	a.data = data;
	if (priv_send(p, &a) < 0)
		priv_refuse(p, id, "the answer could not be sent");
	json_decref(data);
}

void priv_progress(struct priv_ctx *p, uint32_t id, int percent, const char *pkg, const char *text)
{
	struct proto_ans a;

	memset(&a, 0, sizeof(a));
	a.type = ANS_PROGRESS;
	a.id = id;
	a.percent = percent < 0 ? 0 : percent > 100 ? 100 : percent;
	snprintf(a.pkg, sizeof(a.pkg), "%s", pkg ? pkg : "");
	snprintf(a.text, sizeof(a.text), "%s", text ? text : "");
	priv_send(p, &a);
}

/* ---- the loop ----------------------------------------------------------- */

/* SIGTERM and SIGINT set a flag; they are blocked except inside ppoll, so
 * one can only arrive between requests, never halfway through one.  SIGPIPE
 * is ignored: writing to a dead net must be an error, not priv's death.
 * The caller's mask is kept in oldmask: children that priv spawns later must
 * get it back (a blocked SIGTERM survives exec). */
static void priv_signals(sigset_t *waitmask, sigset_t *oldmask)
{
	cr_loop_signals(priv_on_stop, priv_on_child, waitmask, oldmask);
}

/* One packet from net.  Returns -1 to keep serving, or the exit status when
 * net has gone away. */
static int priv_receive(struct priv_ctx *p, uint8_t *buf, size_t cap, short revents, int stopping,
			int *io_errors)
{
	const uint8_t *payload = NULL;
	uint8_t type = 0;
	size_t len = 0;
	char why[CR_ERR_MAX];
	int rc = cr_frame_recv(p->fd, buf, cap, &type, &payload, &len);

	if (rc == FRAME_OK) {
		*io_errors = 0;
		priv_dispatch(p, type, payload, len);
		return -1;
	}
	/* On a SOCK_SEQPACKET socket an empty packet also reads as 0 bytes; only
	 * a hang-up is the end.  A hostile empty packet is refused like any
	 * other bad frame. */
	if (rc == FRAME_EOF && !(revents & (POLLHUP | POLLRDHUP | POLLERR))) {
		priv_refuse(p, 0, "bad frame: empty packet");
		return -1;
	}
	if (rc == FRAME_EOF) {
		if (stopping || p->net_pid <= 0) {
			/* net finished after SIGTERM, or the test peer closed its end. */
			info_f("net has finished; stopping");
			return 0;
		}
		error_f("net has gone away");
		return 1;
	}
	/* Counted before anything else, so that a socket that keeps failing
	 * (whatever errno says) cannot keep priv spinning. */
	if (rc == FRAME_IO && ++*io_errors >= PRIV_MAX_IO_ERRORS) {
		error_f("cannot read from net: %s; stopping", strerror(errno));
		return stopping || p->net_pid <= 0 ? 0 : 1;
	}
	if (rc == FRAME_IO && (errno == EINTR || errno == EAGAIN))
		return -1;
	snprintf(why, sizeof(why), "bad frame: %s", cr_frame_strerror(rc));
	priv_refuse(p, 0, why);
	return -1;
}

int priv_serve(struct priv_ctx *p)
{
	size_t cap = FRAME_HDR + FRAME_MAX_PAYLOAD + 1;
	uint8_t *buf = malloc(cap);
	sigset_t waitmask, oldmask;
	int stopping = 0, io_errors = 0, rc = -1;

	if (buf == NULL) {
		error_f("out of memory");
		return 1;
	}
	char err[CR_ERR_MAX];

	/* Every change the operation table names has its handler. */
	if (priv_ops_check(err, sizeof(err)) < 0) {
		error_f("%s", err);
		free(buf);
		return 1;
	}
	priv_signals(&waitmask, &oldmask);
	/* The change child's dpkg and maintainer scripts are priv's even when
	 * the change child dies: they are adopted here, not by init (priv_jobs.c). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		error_f("cannot become the subreaper of the change children: %s", strerror(errno));
	info_f("serving host root %s", p->root);
	while (rc < 0) {
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN | POLLRDHUP };

		if (priv_stop_flag && !stopping) {
			stopping = 1;
			if (p->net_pid <= 0) {
				/* --priv-fd test mode: no net to wait for. */
				info_f("stopping");
				rc = 0;
				break;
			}
			info_f("stopping: asking net (pid %ld) to finish", (long)p->net_pid);
			kill(p->net_pid, SIGTERM);
		}
		/* The audit window ends on time even when nothing arrives, and
		 * an idle APT cache is given back on time (between requests). */
		double left = priv_audit_rate_tick(p);
		double apt = priv_apt_idle_tick(p);
		if (apt >= 0 && (left < 0 || apt < left))
			left = apt;
		struct timespec ts = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
		int n = ppoll(&pfd, 1, left >= 0 ? &ts : NULL, &waitmask);
		cr_log_refusal_tick();
		if (priv_child_flag) {
			priv_child_flag = 0;
			priv_jobs_reap(p);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (pfd.revents & POLLNVAL)) {
			error_f("cannot wait for net: %s", n < 0 ? strerror(errno) : "bad descriptor");
			rc = 1;
			break;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLRDHUP | POLLERR))
			rc = priv_receive(p, buf, cap, pfd.revents, stopping, &io_errors);
	}
	/* No more requests; the change in hand (if any) finishes first. */
	priv_jobs_finish(p);
	priv_audit_rate_finish(p);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	free(buf);
	return rc;
}
