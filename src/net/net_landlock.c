/* Landlock for net: no file access at all, and TCP connections only to the
 * broker's port.  seccomp decides which system calls net may make, but it
 * cannot look at a connect()'s address; Landlock (Linux 6.7, ABI 4, for the
 * network rules) can.  On an older kernel net keeps what that kernel offers
 * (files only, or nothing) and says so in the log; seccomp, the uid drop and
 * AppArmor apply either way.
 *
 * Debian 12's kernel headers predate ABI 4, so the few constants and
 * structures of the newer ABI are spelled out here, with the kernel's
 * values (include/uapi/linux/landlock.h). */
#include "config.h"
#include "net.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_NET_PORT 2
#define LL_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LL_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; older kernels get a prefix. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
};

int net_landlock_abi(void)
{
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

/* Every file access right the kernel's ABI knows: all of them handled, none
 * granted, so net can open, create, execute or truncate nothing. */
static uint64_t ll_fs_all(int abi)
{
	int bits = abi >= 5 ? 16 : abi >= 3 ? 15 : abi >= 2 ? 14 : 13;

	return (1ULL << bits) - 1;
}

static int ll_apply(int abi, const int *ports, int nports)
{
	struct ll_ruleset_attr attr = { .handled_access_fs = ll_fs_all(abi) };
	size_t size = sizeof(attr.handled_access_fs);
	int fd, rc = -1;

	if (abi >= 4) {
		attr.handled_access_net = LL_ACCESS_NET_BIND_TCP | LL_ACCESS_NET_CONNECT_TCP;
		size += sizeof(attr.handled_access_net);
	}
	if (abi >= 6) {
		/* No abstract UNIX sockets or signals outside net's own domain. */
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
		size += sizeof(attr.scoped);
	}
	fd = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0) {
		error_f("cannot create the Landlock ruleset: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; abi >= 4 && i < nports; i++) {
		struct ll_net_port_attr np = { .allowed_access = LL_ACCESS_NET_CONNECT_TCP, .port = (uint64_t)ports[i] };
		if (syscall(__NR_landlock_add_rule, fd, LL_RULE_NET_PORT, &np, 0) != 0) {
			error_f("cannot allow the broker's port %d: %s", ports[i], strerror(errno));
			goto out;
		}
	}
	/* no_new_privs is already set (net_drop_privileges). */
	if (syscall(__NR_landlock_restrict_self, fd, 0) != 0) {
		error_f("cannot enter the Landlock domain: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

int net_landlock_apply(int port, char *said, size_t len)
{
	return net_landlock_apply_ports(&port, 1, said, len);
}

int net_landlock_apply_ports(const int *ports, int nports, char *said, size_t len)
{
	int abi = net_landlock_abi();
	size_t used;

	if (nports < 1)
		return -1;
	for (int i = 0; i < nports; i++)
		if (ports[i] < 1 || ports[i] > 65535)
			return -1;
	if (abi < 1) {
		snprintf(said, len, "no Landlock in this kernel");
		return 0;
	}
	if (ll_apply(abi, ports, nports) < 0)
		return -1;
	if (abi >= 4) {
		used = (size_t)snprintf(said, len, "Landlock ABI %d: no file access, TCP connect only to port%s %d", abi,
					nports > 1 ? "s" : "", ports[0]);
		for (int i = 1; i < nports && used < len; i++)
			used += (size_t)snprintf(said + used, len - used, ",%d", ports[i]);
	} else
		snprintf(said, len, "Landlock ABI %d: no file access (network rules need ABI 4, Linux 6.7)", abi);
	return 0;
}
