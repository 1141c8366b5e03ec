/* celeryroot-net: net as a program of its own, exec'd by celeryrootd (as
 * OpenSSH's sshd-session execs sshd-auth), so that it maps none of priv's
 * image: no libapt-pkg, no libstdc++, no priv code.
 *
 * celeryrootd forks, and the child execs this program as root with
 *   fd 3  (NETBOOT_PRIV_FD)  the socketpair to priv (AF_UNIX, SOCK_SEQPACKET)
 *   fd 4  (NETBOOT_FD)       a sealed memfd with the configuration, broker
 *                            address, trusted keys, windows and pinned time
 *                            zones priv read as root (src/shared/netboot.h)
 * and nothing else open above 2.  net never reads a configuration file.
 * It then confines itself as the forked net did: the uid and capability
 * drop, AppArmor, no_new_privs, resource limits, Landlock and its seccomp
 * allowlist, all before its first byte from Redis. */
#include "config.h"
#include "crerr.h"
#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "clock.h"
#include "netboot.h"
#include "rtls.h"
#include "sentinel.h"

#include "net_asan.h"
#ifdef NET_ASAN
/* As in src/daemon/main.c: LeakSanitizer needs clone and ptrace, which the
 * allowlist forbids; net's leaks are valgrind's to find. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

/* Big (keys, windows): static rather than on the stack. */
static struct netboot boot;
/* TLS to the broker: the PEM bytes root read, until the context is built. */
static struct cr_tls_pem tls_pem;

/* Built before the sandbox closes (OpenSSL reads its configuration file at
 * initialisation, which Landlock would refuse), from memory: net never
 * opens a certificate or key file. */
static int net_tls_setup(void)
{
	char err[CR_ERR_MAX];
	int rc = 0;

	if (boot.broker.tls.on && cr_tls_setup(&boot.broker.tls, &tls_pem, err, sizeof(err)) < 0) {
		error_f("%s", err);
		rc = -1;
	}
	cr_tls_pem_free(&tls_pem);
	return rc;
}

/* fd 3 must be the seqpacket socketpair celeryrootd made. */
static int priv_fd_ok(int fd)
{
	int domain = 0, type = 0;
	socklen_t len = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)
		return 0;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
		return 0;
	return domain == AF_UNIX && type == SOCK_SEQPACKET;
}

static int usage(void)
{
	fprintf(stderr, "celeryroot-net: the network half of celeryrootd, which starts it with the socketpair\n"
		"to priv on fd %d and its configuration on fd %d; it is not meant to be run by hand.\n",
		NETBOOT_PRIV_FD, NETBOOT_FD);
	return 2;
}

/* The ports net may connect to: the broker's; with Sentinel the
 * sentinels' and every port the sentinels know for the master and its
 * replicas now (a failover to a node on another port needs a restart). */
static int net_ports(int *ports, int max)
{
	int n;

	if (boot.broker.nsentinels == 0) {
		ports[0] = boot.broker.port;
		return 1;
	}
	n = cr_sentinel_ports(&boot.broker, 5.0, ports, max);
	if (n <= boot.broker.nsentinels && n < max) {
		ports[n++] = 6379;   /* no sentinel answered: Redis's own port at least */
		error_f("no sentinel named master '%s' at start: net may connect to the sentinels and port 6379 only; "
			"restart the daemon once the sentinels answer if the master uses another port",
			boot.broker.master_name);
	}
	return n;
}

/* Everything that confines net, in the order that lets each step work. */
static int net_confine(void)
{
	char limits[96], landlock[240];
	int ports[2 * BROKER_SENTINELS_MAX + 16], nports;

	if (net_drop_privileges(boot.cfg.user, boot.cfg.apparmor) < 0)
		return -1;
	/* Set after the drop, which clears it; then make sure priv did not die in between. */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if ((long long)getppid() != (long long)boot.priv_pid) {
		error_f("priv (pid %lld) is gone", (long long)boot.priv_pid);
		return -1;
	}
	/* Asked as the unprivileged user, before Landlock closes the ports. */
	nports = net_ports(ports, (int)(sizeof(ports) / sizeof(ports[0])));
	if (net_limits_apply(boot.cfg.nroles, limits, sizeof(limits)) < 0 ||
	    net_landlock_apply_ports(ports, nports, landlock, sizeof(landlock)) < 0 || net_sandbox_apply() < 0)
		return -1;
	info_f("confined: %s; %s; seccomp allowlist (any other system call ends net)", landlock, limits);
	return 0;
}

int main(int argc, char **argv)
{
	char err[CR_ERR_MAX];

	(void)argv;
	if (argc != 1 || !priv_fd_ok(NETBOOT_PRIV_FD))
		return usage();
	if (cr_netboot_read(NETBOOT_FD, &boot, &tls_pem, err, sizeof(err)) < 0) {
		fprintf(stderr, "celeryroot-net: %s\n", err);
		return usage();
	}
	close(NETBOOT_FD);
	/* The name exec gave it, unless a wrapper (valgrind) was exec'd instead. */
	prctl(PR_SET_NAME, "celeryroot-net", 0, 0, 0);
	cr_log_init("net", (enum log_level)boot.log_level, boot.use_syslog);
	cr_clock_init();
	if (net_tls_setup() < 0 || net_confine() < 0)
		return 1;
	struct net_policy pol = { &boot.keys, boot.windows, boot.nwindows };
	return net_run(&boot.cfg, &boot.broker, NETBOOT_PRIV_FD, &pol);
}
