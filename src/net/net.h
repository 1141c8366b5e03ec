/* net: the unprivileged half of celeryrootd.  It talks to Redis as a Celery
 * worker (queues, unacked bookkeeping, results), keeps the registry record
 * fresh, and forwards validated requests to priv over the socketpair. */
#ifndef CR_NET_H
#define CR_NET_H

#include <stddef.h>
#include <sys/types.h>

#include "crconfig.h"

/* Drops to user (uid/gid, no supplementary groups, no capabilities, bounding
 * set cleared) with libcap-ng, checks that getting root back fails, changes
 * into net's AppArmor profile as apparmor (enum cr_apparmor) says, and sets
 * no_new_privs.  Returns 0 or -1 with the reason logged. */
int net_drop_privileges(const char *user, int apparmor);

/* The AppArmor profile net changes into (apparmor/celeryroot-net). */
#define NET_APPARMOR_PROFILE "celeryroot-net"
/* Changes into it: 0 when done or not wanted (AppArmor absent or the
 * profile missing under "auto", logged), -1 when "require" cannot be met. */
int net_apparmor_enter(int apparmor);
/* Landlock (net_landlock.c): no file access, and where the kernel has
 * network rules (ABI 4) TCP connect only to port.  0 with what was applied
 * in said (also "no Landlock in this kernel"), -1 when it failed. */
int net_landlock_apply(int port, char *said, size_t len);
/* The same for several ports (Sentinel: the sentinels', the master's and
 * its replicas' as known at start). */
int net_landlock_apply_ports(const int *ports, int nports, char *said, size_t len);
int net_landlock_abi(void);   /* 0 when the kernel has none */
/* Resource limits (net_limits.c): no processes, no file writes, only the
 * descriptors a host with nroles roles needs.  0 with what was set in said,
 * -1 when a limit could not be set (logged). */
int net_limits_apply(int nroles, char *said, size_t len);
unsigned long net_nofile_limit(int nroles);
/* Loads the seccomp allowlist: anything not listed kills the process. */
int net_sandbox_apply(void);

/* Runs the worker until SIGTERM (clean stop: 0) or a fatal error (1).
 * broker must already be resolved to a numeric address. */
struct keyring;
struct host_window;
/* What net enforces, read as root before the sandbox: the trusted public
 * keys (may be empty) and this host's maintenance windows (may be none). */
struct net_policy {
	const struct keyring *keys;
	const struct host_window *windows;
	size_t nwindows;
};
int net_run(const struct cr_config *cfg, const struct broker_addr *broker, int privfd,
	    const struct net_policy *pol);

#endif
