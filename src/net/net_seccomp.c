/* net's seccomp allowlist, in the manner of OpenSSH's
 * sandbox-seccomp-filter.c: libseccomp checks the architecture first, and any
 * system call not listed here kills the whole process.  A few calls are
 * refused with an errno instead, so that libc's probing fails softly: net
 * opens no file (open/openat: EACCES) and has no terminal (ioctl: ENOTTY).
 *
 * What net does after the sandbox is up: talk to Redis through hiredis
 * (TCP or a Unix socket, non-blocking connect then poll), talk to priv over
 * the socketpair, log to stderr or the already-open syslog socket, keep
 * timers, and allocate memory.  Path policy belongs to AppArmor: seccomp
 * cannot read path strings, only numbers (see tor's sandbox). */
#include "config.h"
#include "net.h"
#include "net_seccomp.h"

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#include "net_asan.h"
#ifdef NET_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

struct net_rule {
	const char *name;
	int errnum;                     /* 0: allowed; else refused with this errno */
	unsigned int ncmp;              /* 0 or 1 argument comparison */
	struct scmp_arg_cmp cmp;
};

#define ALLOW(n) { (n), 0, 0, { 0, 0, 0, 0 } }
#define REFUSE(n, e) { (n), (e), 0, { 0, 0, 0, 0 } }
#define ALLOW_IF(n, a, o, x, y) { (n), 0, 1, { (a), (o), (x), (y) } }
/* Argument 2 (prot) without PROT_EXEC: no new executable memory, so that
 * an attacker who writes code into net's memory cannot run it. */
#define NO_EXEC(n) ALLOW_IF((n), 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)

static const struct net_rule net_rules[] = {
	/* Soft failures for libc probing (OpenSSH does the same with open). */
	REFUSE("open", EACCES), REFUSE("openat", EACCES), REFUSE("ioctl", ENOTTY),

	/* Descriptors: the Redis sockets, the priv socketpair, stderr. */
	ALLOW("read"), ALLOW("write"), ALLOW("readv"), ALLOW("writev"), ALLOW("close"),
	ALLOW("lseek"),                 /* stdio */
	ALLOW("fstat"), ALLOW("newfstatat"), ALLOW("statx"),   /* stdio sizes its buffers */
	ALLOW("fcntl"),                 /* hiredis: O_NONBLOCK around connect */

	/* Sockets: Redis over TCP (v4, v6) or a Unix socket, and syslog's
	 * reconnect; no other address family (no netlink, no raw packets). */
	ALLOW_IF("socket", 0, SCMP_CMP_EQ, AF_UNIX, 0),
	ALLOW_IF("socket", 0, SCMP_CMP_EQ, AF_INET, 0),
	ALLOW_IF("socket", 0, SCMP_CMP_EQ, AF_INET6, 0),
	ALLOW("connect"), ALLOW("shutdown"),
	ALLOW("setsockopt"),            /* TCP_NODELAY, SO_KEEPALIVE, SO_RCVTIMEO */
	ALLOW("getsockopt"),            /* SO_ERROR after a non-blocking connect */
	ALLOW("getsockname"), ALLOW("getpeername"),
	ALLOW("sendto"), ALLOW("recvfrom"), ALLOW("sendmsg"), ALLOW("recvmsg"),
	ALLOW("poll"), ALLOW("ppoll"),  /* hiredis waits with poll; net's loop with ppoll */
	ALLOW("select"), ALLOW("pselect6"),   /* the same waits, should a library use select */

	/* Memory: malloc and free; never executable. */
	ALLOW("brk"), ALLOW("munmap"), ALLOW("mremap"), ALLOW("madvise"),
	NO_EXEC("mmap"), NO_EXEC("mprotect"),

	/* Time: timers, timestamps, reconnect backoff. */
	ALLOW("clock_gettime"), ALLOW("gettimeofday"), ALLOW("time"),
	ALLOW("clock_nanosleep"), ALLOW("nanosleep"),

	/* Signals: SIGTERM handling and ppoll's mask. */
	ALLOW("rt_sigaction"), ALLOW("rt_sigprocmask"), ALLOW("rt_sigreturn"),
	ALLOW("restart_syscall"),
	ALLOW("sigaltstack"),           /* only the caller's own stack; ASan/UBSan query it at exit */

	/* Identity and randomness (log lines, request ids, jansson's seed). */
	ALLOW("getpid"), ALLOW("gettid"), ALLOW("getppid"), ALLOW("getuid"), ALLOW("geteuid"),
	/* getrandom: also OpenSSL's generator (TLS keys, its reseeding), the
	 * only system call TLS to the broker added to net's needs (found by
	 * tests/integration/test_tls_fleet.py: nothing else was refused). */
	ALLOW("getgid"), ALLOW("getegid"), ALLOW("getrandom"), ALLOW("uname"),
	ALLOW("sysinfo"),               /* glibc's qsort sizes its buffer with it */

	/* Process: naming the process and leaving. */
	ALLOW_IF("prctl", 0, SCMP_CMP_EQ, PR_SET_NAME, 0),
	ALLOW("futex"), ALLOW("sched_yield"),   /* libc locks, even single-threaded */
	ALLOW("exit"), ALLOW("exit_group"),
};

/* Only when net runs under valgrind (tools/hardening-check.sh valgrind):
 * the filter applies to valgrind's own system calls too, and memcheck makes
 * these after it is in, for net's code that it runs: it polls for signals,
 * and it maps executable memory for the code it translates.  Detected with
 * RUNNING_ON_VALGRIND, a no-op instruction sequence that only valgrind's
 * emulated CPU answers: no input, file or environment can switch it on. */
static const struct net_rule net_valgrind_rules[] = {
	ALLOW("rt_sigtimedwait"), ALLOW("mmap"), ALLOW("mprotect"),
};

static int net_under_valgrind(void)
{
#ifdef HAVE_VALGRIND_VALGRIND_H
	return RUNNING_ON_VALGRIND != 0;
#else
	return 0;
#endif
}

static int net_rule_add(scmp_filter_ctx ctx, const struct net_rule *r)
{
	int nr = seccomp_syscall_resolve_name(r->name);
	uint32_t action = r->errnum ? SCMP_ACT_ERRNO((uint32_t)r->errnum) : SCMP_ACT_ALLOW;
	int rc;

	if (nr < 0) {
		/* Not a call of this architecture (time on arm64, say). */
		debug_f("%s does not exist here; skipped", r->name);
		return 0;
	}
	if (r->ncmp)
		rc = seccomp_rule_add_array(ctx, action, nr, 1, &r->cmp);
	else
		rc = seccomp_rule_add(ctx, action, nr, 0);
	if (rc != 0) {
		error_f("cannot add a rule for %s: %s", r->name, strerror(-rc));
		return -1;
	}
	return 0;
}

/* Signals only to net itself: raise() and abort() (hiredis asserts). */
static int net_rules_self(scmp_filter_ctx ctx)
{
	scmp_datum_t self = (scmp_datum_t)getpid();
	int rc;

	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ, self));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				      SCMP_A0(SCMP_CMP_EQ, self));
	if (rc != 0)
		error_f("cannot add the signal rules: %s", strerror(-rc));
	return rc == 0 ? 0 : -1;
}

/* Debug aid only: name the forbidden call, then die as the kill would.
 * Async-signal-safe: no stdio, the number is formatted by hand. */
static void net_on_sigsys(int sig, siginfo_t *si, void *uc)
{
	static const char head[] = "net: seccomp: forbidden system call ";
	char msg[sizeof(head) + 16];
	char digits[12];
	size_t n = 0, len = sizeof(head) - 1;
	unsigned int nr = (unsigned int)si->si_syscall;

	(void)sig;
	(void)uc;
	memcpy(msg, head, len);
	do {
		digits[n++] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr > 0 && n < sizeof(digits));
	while (n > 0)
		msg[len++] = digits[--n];
	msg[len++] = '\n';
	if (write(STDERR_FILENO, msg, len) < 0) {
		/* nothing more can be done */
	}
	_exit(128 + SIGSYS);
}

static int net_trap_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = net_on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		error_f("cannot install the SIGSYS handler: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int net_sandbox_apply_trap(int use_trap)
{
	/* valgrind 3.19 does not know seccomp(2), so libseccomp falls back to
	 * prctl and its API level 1, which lacks KILL_PROCESS; killing the
	 * thread kills net all the same, as it has only one. */
	uint32_t deny = use_trap ? SCMP_ACT_TRAP
			: net_under_valgrind() ? SCMP_ACT_KILL : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	int rc;

	if (use_trap && net_trap_handler() < 0)
		return -1;
	if ((ctx = seccomp_init(deny)) == NULL) {
		error_f("seccomp_init failed");
		return -1;
	}
	/* Another ABI (i386 or x32 calls on x86_64) is never allowed. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny)) != 0) {
		error_f("cannot set the bad-architecture action: %s", strerror(-rc));
		goto fail;
	}
	for (size_t i = 0; i < sizeof(net_rules) / sizeof(net_rules[0]); i++)
		if (net_rule_add(ctx, &net_rules[i]) < 0)
			goto fail;
	if (net_rules_self(ctx) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(net_valgrind_rules) / sizeof(net_valgrind_rules[0]); i++)
		if (net_under_valgrind() && net_rule_add(ctx, &net_valgrind_rules[i]) < 0)
			goto fail;
#ifdef NET_ASAN
	/* Sanitizer builds only: the runtime gives up the symbolizer process
	 * it could no longer start, so that a report from inside the sandbox
	 * is printed whole (unsymbolized) instead of dying half-way at the
	 * first forbidden fork. */
	__sanitizer_sandbox_on_notify(NULL);
#endif
	/* libseccomp sets no_new_privs itself (SCMP_FLTATR_CTL_NNP defaults to on). */
	if ((rc = seccomp_load(ctx)) != 0) {
		error_f("cannot load the seccomp allowlist: %s", strerror(-rc));
		goto fail;
	}
	seccomp_release(ctx);
	debug_f("seccomp allowlist loaded%s", use_trap ? " (trap mode)" : "");
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}

int net_sandbox_apply(void)
{
	return net_sandbox_apply_trap(0);
}
