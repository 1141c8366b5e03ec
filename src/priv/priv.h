/* priv: the root half of celeryrootd.  It serves the fixed request schema of
 * proto.h on its end of the socketpair, re-validating every field, and acts
 * only on the host root it was started with (never a path from net). */
#ifndef CR_PRIV_H
#define CR_PRIV_H

#include <sys/types.h>

struct priv_ctx {
	int fd;                 /* priv's end of the socketpair */
	const char *root;       /* "/" or the sandbox directory, fixed at start */
	const char *hostname;
	pid_t net_pid;          /* 0 in --priv-fd test mode */
};

/* Loads the denylist (seccomp) that priv and everything it spawns inherit.
 * Returns 0, or -1 with the reason logged. */
int priv_sandbox_apply(void);
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

#endif
